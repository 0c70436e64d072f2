"""Digits: scikit-learn's bundled 8x8 handwritten digits, for sparse-pixel debate (Irving et al. 2018).

The data ship with scikit-learn (1,797 images), so nothing is downloaded. Pixels are scaled to
0..1; only non-zero pixels can be revealed (a zero pixel says nothing the judge does not assume).
The train/test split is a pure function of the seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..errors import UserError
from ..records import Verdict
from ..registry import worlds
from ..seeding import py_rng, unit_hash
from .base import World

PIXELS = 64
CLASSES = 10


class DigitsConfig(BaseModel):
    """Which images train the judge and which are debated."""

    model_config = ConfigDict(extra="forbid")

    test_fraction: float = Field(0.22, gt=0, lt=1, description="Share of images held out for debate.")


@dataclass
class DigitsSplit:
    train_x: np.ndarray  # (n, 64) float32 in 0..1
    train_y: np.ndarray  # (n,) int64
    test_x: np.ndarray
    test_y: np.ndarray


def load_digits_split(seed: int, cfg: DigitsConfig | None = None) -> DigitsSplit:
    """Train and test images. An image's split is a hash of its pixels, whatever the seed: no
    test image is ever a training image, in any seed's run (``seed`` is kept for the interface)."""
    from sklearn.datasets import load_digits

    cfg = cfg or DigitsConfig()
    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    test = np.array([unit_hash("digits", row.tobytes()) < cfg.test_fraction for row in data.data.astype(np.uint8)])
    return DigitsSplit(x[~test], y[~test], x[test], y[test])


@dataclass(frozen=True)
class DigitImage:
    pixels: tuple[float, ...]
    label: int

    @property
    def prompt(self) -> str:
        return ",".join(f"{v:.4f}" for v in self.pixels)


@worlds.register("digits")
class DigitsWorld(World):
    """Digits as a World: a problem is an image, a solution names its class. Splits follow
    ``load_digits_split``: "train" and "test" only (the 1,797 images are too few for four splits)."""

    name = "digits"
    # Not a text-solution world: a problem is an image and an answer its class; only the
    # train and test splits exist (see above), and there are no step spans or planted flaws (pixel debate is its only protocol).
    solution_text = False
    Config = DigitsConfig

    def draw(self, rng: random.Random) -> DigitImage:  # pragma: no cover - problems() is overridden
        raise NotImplementedError

    def problems(self, seed: int, split: str, n: int, tag=None, distinct: bool = True) -> list[DigitImage]:
        if split not in ("train", "test"):
            raise UserError(f"world 'digits' has only a train and a test split, not {split!r}")
        s = load_digits_split(seed, self.config)
        x, y = (s.test_x, s.test_y) if split == "test" else (s.train_x, s.train_y)
        order = py_rng(seed, "digits", split, tag).sample(range(len(y)), min(n, len(y)))
        return [DigitImage(tuple(x[i].tolist()), int(y[i])) for i in order]

    def check(self, problem: DigitImage, text: str) -> Verdict:
        said = text.strip() if isinstance(text, str) else ""
        ok = said == str(problem.label)
        return Verdict([said], [ok], said or None, ok, said.isdigit())
