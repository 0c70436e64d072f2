"""Digits: scikit-learn's bundled 8x8 handwritten digits, for sparse-pixel debate (Irving et al. 2018).

The data ship with scikit-learn (1,797 images), so nothing is downloaded. Pixels are scaled to
0..1; only non-zero pixels can be revealed (a zero pixel says nothing the judge does not assume).
The train/test split is a pure function of the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

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
    from sklearn.datasets import load_digits

    cfg = cfg or DigitsConfig()
    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(cfg.test_fraction * len(y)))
    test, train = order[:n_test], order[n_test:]
    return DigitsSplit(x[train], y[train], x[test], y[test])
