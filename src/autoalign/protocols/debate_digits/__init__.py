"""Sparse-pixel debate on 8x8 digits (Irving, Christiano and Amodei 2018, "AI safety via debate").

Method, for each k (pixels revealed):
1. Train a judge on k random non-zero pixels (``overseers/pixel_judge.py``) and freeze it.
2. Judge alone: 10-way accuracy on k random non-zero pixels of each held-out image, averaged over
   several random draws per image.
3. Debate with precommitment: the liar names a wrong label first; the debaters alternate revealing
   pixels (``pixel_search.py``: MCTS, and greedy as a baseline); the judge picks whichever of the two
   labels has the higher logit. Each image is played once per possible lie (9) and once per choice of
   who moves first; the honest debater wins an image only if it beats all 9 lies, as in the paper.
   The per-image score averages the two move orders.
4. Without precommitment: the liar argues for whichever wrong label is strongest at the end; the
   honest debater wins only if the judge's top label is the truth.
CIs resample images; the lift of debate over random pixels is a paired difference over images.

Bound to the digits world by nature: the debaters reveal pixels of 8x8 images to a pixel judge, so
this protocol imports ``worlds/digits.py`` directly (the one exception the import contract in
``pyproject.toml`` allows it).
"""

from __future__ import annotations

import io
from typing import Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from ...measures import bootstrap_ci
from ...overseers.pixel_judge import SparsePixelJudge, judge_logits, random_masks, train_pixel_judge
from ...protocol import Section, protocol
from ...report.fmt import text_estimate
from ...results import Estimate
from ...runtime.progress import log
from ...runtime.store import atomic_write_bytes, write_jsonl
from ...worlds.digits import CLASSES, DigitsConfig, load_digits_split
from .pixel_search import PixelGames, play_greedy, play_mcts
from .report import digits_section


class DebateDigitsConfig(Section):
    """Sparse-pixel debate: a judge that sees k pixels; debaters choose which."""

    ks: list[int] = Field([4, 6], min_length=1, description="Pixels revealed per game; one judge per k.")
    digits: DigitsConfig = Field(default_factory=DigitsConfig)
    judge_steps: int = Field(3000, ge=1, description="Judge training steps (fresh random masks each).")
    judge_batch_size: int = Field(512, ge=1)
    judge_lr: float = Field(3e-3, gt=0)
    judge_hidden: int = Field(256, ge=1, description="Width of the judge MLP's two hidden layers.")
    random_draws: int = Field(20, ge=1, description="Random pixel sets per image for the judge alone.")
    search: Literal["mcts", "greedy"] = Field("mcts", description="Debaters' search; greedy is always run too.")
    mcts_simulations: int = Field(48, ge=1, description="UCT simulations per move.")
    mcts_width: int = Field(12, ge=2, description="Pixels the tree search considers (half per debater).")
    mcts_c: float = Field(1.0, ge=0, description="UCT exploration constant.")
    test_images: int | None = Field(None, ge=1, description="Debate only the first N held-out images.")

    @model_validator(mode="after")
    def _check(self) -> "DebateDigitsConfig":
        if max(self.ks) > 16:
            raise ValueError("ks: at most 16 pixels (the sparsest digit has 16 non-zero pixels)")
        if self.mcts_width < max(self.ks):
            raise ValueError("mcts_width must be at least the largest k")
        return self


def train_judge(ctx, k: int, d: DebateDigitsConfig) -> dict:
    """Stage: a judge for k pixels, trained on fresh random masks of the training images."""
    split = load_digits_split(ctx.seed, d.digits)
    judge, history = train_pixel_judge(
        split.train_x,
        split.train_y,
        k,
        d.judge_steps,
        d.judge_batch_size,
        d.judge_lr,
        seed=ctx.derive("pixel-judge", k),
        hidden=d.judge_hidden,
    )
    buf = io.BytesIO()
    torch.save(judge.state_dict(), buf)
    path = ctx.artifact(f"models/pixel_judge_k{k}") + ".pt"
    atomic_write_bytes(ctx.file(path), buf.getvalue())
    log(f"pixel judge k={k}: final training loss {history[-1]:.3f}")
    return {"path": path, "history": history}


def load_judge(ctx, d: DebateDigitsConfig, info: dict) -> SparsePixelJudge:
    judge = SparsePixelJudge(d.judge_hidden)
    judge.load_state_dict(torch.load(ctx.file(info["path"]), weights_only=True, map_location="cpu"))
    from ...models.device import current

    return judge.to(current()[0]).eval()


def random_pixel_accuracy(
    judge: SparsePixelJudge, x: np.ndarray, y: np.ndarray, k: int, draws: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per image: 10-way accuracy, and 2-way accuracy against a random wrong label, on k random pixels."""
    g = torch.Generator().manual_seed(seed)
    images = torch.from_numpy(x)
    truth = torch.from_numpy(y)
    ten, two = np.zeros(len(y)), np.zeros(len(y))
    for _ in range(draws):
        logits = judge_logits(judge, random_masks(images, k, g), images)
        ten += (logits.argmax(-1) == truth).numpy()
        wrong = (truth + torch.randint(1, CLASSES, truth.shape, generator=g)) % CLASSES
        two += (logits.gather(-1, truth[:, None]) > logits.gather(-1, wrong[:, None])).squeeze(-1).numpy()
    return ten / draws, two / draws


def precommit_games(judge, x, y, k) -> tuple[PixelGames, tuple[int, int, int]]:
    """Every (image, lie, who moves first) game; shape (images, 9 lies, 2 orders) when reshaped."""
    n = len(y)
    lies = np.array([[c for c in range(CLASSES) if c != t] for t in y])  # (n, 9)
    img = np.repeat(np.arange(n), 18)
    lie = np.repeat(lies.reshape(-1), 2)
    first = np.tile([True, False], n * 9)
    return PixelGames(judge, x[img], y[img], lie, first, k), (n, CLASSES - 1, 2)


def precommit_wins(won: np.ndarray) -> np.ndarray:
    """Per image, from wins shaped (images, lies, orders): beat every lie, averaged over who moves first."""
    return won.all(axis=1).mean(axis=1)


def free_lie_games(judge, x, y, k) -> PixelGames:
    n = len(y)
    img = np.repeat(np.arange(n), 2)
    return PixelGames(judge, x[img], y[img], np.full(2 * n, -1), np.tile([True, False], n), k)


def play(ctx, d: DebateDigitsConfig, games: PixelGames, search: str) -> np.ndarray:
    if search == "greedy":
        return play_greedy(games)
    return play_mcts(games, d.mcts_width, d.mcts_simulations, d.mcts_c, seed=ctx.derive("mcts"))


def evaluate_k(ctx, k: int, judge_info: dict, d: DebateDigitsConfig) -> dict:
    """Stage: the judge alone on random pixels, and under debate (precommit or not), per image."""
    split = load_digits_split(ctx.seed, d.digits)
    x, y = split.test_x, split.test_y
    if d.test_images:
        x, y = x[: d.test_images], y[: d.test_images]
    judge = load_judge(ctx, d, judge_info)
    ten, two = random_pixel_accuracy(judge, x, y, k, d.random_draws, ctx.derive("random-pixels", k))
    boot = dict(ctx.boot, unit="images")
    out = {"judge_random": bootstrap_ci(ten, **boot), "judge_random_2way": bootstrap_ci(two, **boot)}
    per_image = {}
    for search in dict.fromkeys([d.search, "greedy"]):
        games, shape = precommit_games(judge, x, y, k)
        won = play(ctx, d, games, search).reshape(shape)
        per_image[search] = precommit_wins(won)
        free = play(ctx, d, free_lie_games(judge, x, y, k), search).reshape(len(y), 2).mean(axis=1)
        suffix = "" if search == d.search else f"_{search}"
        out[f"honest_win{suffix}"] = bootstrap_ci(per_image[search], **boot)
        out[f"honest_win_no_precommit{suffix}"] = bootstrap_ci(free, **boot)
        out[f"lift{suffix}"] = bootstrap_ci(per_image[search] - ten, **boot)
        log(
            f"k={k} {search}: judge on random pixels {ten.mean():.1%}, honest debater wins {per_image[search].mean():.1%}"
        )
    write_jsonl(
        ctx.file(ctx.artifact(f"samples/debate_digits_k{k}") + ".jsonl"),
        [
            {
                "image": i,
                "label": int(y[i]),
                "judge_random": float(ten[i]),
                **{f"honest_win_{s}": float(v[i]) for s, v in per_image.items()},
            }
            for i in range(len(y))
        ],
    )
    out["search"] = d.search
    out["images"] = len(y)
    return out


class DigitsResults(Section):
    """Per k (``k4``): the judge on random pixels, honest win rates and lifts, over images."""

    debate: dict[str, dict[str, Estimate | str | int]]


def summary(r: dict) -> list[str]:
    return [
        f"pixel debate, k={k[1:]}: judge on random pixels {text_estimate(d['judge_random'])}; "
        f"honest debater wins {text_estimate(d['honest_win'])} ({d['search']}, precommit)"
        for k, d in sorted(r["debate"].items(), key=lambda kv: int(kv[0][1:]))
    ]


def headline(r: dict) -> str:
    k, d = next(iter(r["debate"].items()))
    return f"{k}: judge {d['judge_random']['mean']:.1%} -> debate {d['honest_win']['mean']:.1%}"


@protocol(
    "debate_digits",
    sections={"debate_digits": DebateDigitsConfig},
    results=DigitsResults,
    summary=summary,
    headline=headline,
    report=digits_section,
)
def run(ctx, cfg) -> dict:
    d = cfg.debate_digits
    infos = ctx.side_by_side([(f"debate_digits.k{k}.train_judge", train_judge, (k, d)) for k in d.ks])
    results = {
        f"k{k}": ctx.stage(f"debate_digits.k{k}.evaluate", evaluate_k, k, info, d) for k, info in zip(d.ks, infos)
    }
    return {"debate": results}
