"""A judge for information-asymmetry debate that reads only verified quotes.

The judge never sees the story. From the verified quotes it builds the links it has been shown and
describes each answer by a few observations: does the shown walk from the start reach it; does the
shown walk run past it elsewhere; how long a shown chain leads into it; does that chain meet the
walk at the position the question's length requires, or miss it; is it mentioned at all; how many
of its advocate's quotes the checker rejected. A logistic regression over the difference of the two
answers' observations, fit on transcripts of random quotes, turns them into a verdict. It is a
weak judge on purpose: it can be misled by selective evidence, which is what debate is for.
"""

from __future__ import annotations

import numpy as np

from ..records import JudgeView
from ..worlds.facts import parse_fact, walk

FEATURES = ["reaches", "walk_passes_elsewhere", "chain_into", "meets_walk", "misses_walk", "mentioned", "rejected"]


def _chains_into(links_back: dict[str, list[str]], room: str, depth: int) -> dict[str, int]:
    """Rooms with a shown chain into ``room``, with the chain's length (shortest), up to ``depth``."""
    dist, frontier = {room: 0}, [room]
    for d in range(1, depth + 1):
        nxt = []
        for r in frontier:
            for src in links_back.get(r, []):
                if src not in dist:
                    dist[src] = d
                    nxt.append(src)
        frontier = nxt
    return dist


def observations(view: JudgeView) -> np.ndarray:
    """(2, len(FEATURES)) observations, one row per answer."""
    links: dict[str, str] = {}
    back: dict[str, list[str]] = {}
    rejected = [0, 0]
    for a in view.arguments:
        fact = parse_fact(a.quote) if a.verified else None
        if fact is None:
            rejected[a.side] += 1
            continue
        links[fact.source] = fact.target
        back.setdefault(fact.target, []).append(fact.source)
    shown = walk(links, view.start, view.hops)  # rooms at positions 0..a
    mentioned = set(links) | set(links.values())
    rows = []
    for i, answer in enumerate(view.answers):
        into = _chains_into(back, answer, view.hops)
        meets = any(shown[view.hops - d] == r for r, d in into.items() if view.hops - d < len(shown))
        misses = not meets and any(view.hops - d < len(shown) for r, d in into.items() if d > 0)
        full = len(shown) == view.hops + 1
        rows.append(
            [
                float(full and shown[-1] == answer),
                float(full and shown[-1] != answer),
                max(into.values()) / view.hops,
                float(meets),
                float(misses),
                float(answer in mentioned),
                float(rejected[i]),
            ]
        )
    return np.asarray(rows)


def judge_features(view: JudgeView) -> np.ndarray:
    obs = observations(view)
    return obs[0] - obs[1]


class QuoteJudge:
    """Logistic regression over the difference of the answers' observations."""

    def __init__(self, coef: np.ndarray, intercept: float):
        self.coef, self.intercept = np.asarray(coef, dtype=float), float(intercept)

    @classmethod
    def fit(
        cls, views: list[JudgeView], first_correct: list[bool], c: float = 1.0, drop: tuple[str, ...] = ()
    ) -> QuoteJudge:
        return cls.fit_features(np.stack([judge_features(v) for v in views]), first_correct, c, drop)

    @classmethod
    def fit_features(cls, x: np.ndarray, first_correct, c: float = 1.0, drop: tuple[str, ...] = ()) -> QuoteJudge:
        """Fit on a ready feature matrix (rows of ``judge_features``). Features named in ``drop``
        are left out of the fit and get weight 0: the judge refit without them (an ablation)."""
        from sklearn.linear_model import LogisticRegression

        unknown = set(drop) - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown judge features {sorted(unknown)}; known: {FEATURES}")
        y = np.asarray(first_correct, dtype=int)
        keep = [i for i, name in enumerate(FEATURES) if name not in drop]
        coef = np.zeros(len(FEATURES))
        if not keep or y.min() == y.max():  # nothing to weigh: the base rate's log-odds
            rate = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
            return cls(coef, np.log(rate / (1 - rate)))
        lr = LogisticRegression(C=c, max_iter=1000).fit(np.asarray(x)[:, keep], y)
        coef[keep] = lr.coef_[0]
        return cls(coef, lr.intercept_[0])

    def prob_first(self, view: JudgeView) -> float:
        z = float(judge_features(view) @ self.coef + self.intercept)
        return 1.0 / (1.0 + np.exp(-z))

    def to_dict(self) -> dict:
        return {"features": FEATURES, "coef": self.coef.tolist(), "intercept": self.intercept}

    @classmethod
    def from_dict(cls, d: dict) -> QuoteJudge:
        return cls(d["coef"], d["intercept"])
