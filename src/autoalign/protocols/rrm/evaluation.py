"""The simulated user, alone and assisted: where RRM's training labels come from.

The user checks a piece of at most ``checkable_steps`` steps exactly. On a longer one, unassisted,
they agree with the truth only with probability ``user_agreement``. Assisted, a helper states what
the piece's first half reaches, and the two halves (the head with the stated claim, the tail from
the stated point to the outcome's claim) are judged the same way, until every part is one the user
checks. A chain of exact checks from the start to the claim proves the claim, so a wrong claim is
never accepted; a right one is rejected whenever a helper states something wrong. A helper that
states nothing the user can check (a trained agent writing no option: ``None``) leaves the piece
unsplit, and the user rejects it, as they would a wrong statement.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from .outcomes import Outcomes

NOISE = ("symmetric", "rejects_right", "accepts_wrong")


def user_unassisted(truth: list[bool], agreement: float, rng: random.Random, noise: str = "symmetric") -> list[bool]:
    """The user's judgment of long pieces they cannot check, right on a share ``agreement`` of them
    (outcomes are half right, half wrong). ``noise`` says where the errors fall: ``symmetric``, each
    judgment wrong with probability 1 - agreement (noise a reward model averages away);
    ``rejects_right``, only right claims are misjudged, at twice that rate (one-sided errors, the
    kind assisted evaluation makes when a helper states something wrong); ``accepts_wrong``, only
    wrong claims are, accepted (the dangerous side)."""
    if noise not in NOISE:
        raise ValueError(f"unknown user noise {noise!r}; known: {', '.join(NOISE)}")
    if noise == "symmetric":
        return [t if rng.random() < agreement else not t for t in truth]
    flip = min(1.0, 2 * (1 - agreement))
    exposed = noise == "rejects_right"  # the claims the user can misjudge are the right ones (else the wrong ones)
    return [(not t) if t == exposed and rng.random() < flip else t for t in truth]


def assisted_verdicts(
    r, outcomes: Outcomes, value_of: Callable[[int, list], list], items: list[tuple[Any, Any]], stats: dict
) -> list[bool]:
    """Judge (piece, claim) items: short ones (at most ``r.checkable_steps`` steps) by the user; longer
    ones split in two at what ``value_of(level, first halves)`` states (the helper of the first half's
    level), each half judged the same way. ``stats`` counts the user's checks and records, per level,
    whether each helper statement was right."""
    verdicts: list[bool | None] = [None] * len(items)
    long = [i for i, (p, _) in enumerate(items) if outcomes.length(p) > r.checkable_steps]
    for i, (p, c) in enumerate(items):
        if outcomes.length(p) <= r.checkable_steps:
            verdicts[i] = outcomes.is_right(p, c)
            stats["user_checks"] = stats.get("user_checks", 0) + 1
    half = {i: outcomes.length(items[i][0]) // 2 for i in long}
    mids: dict[int, Any] = {}
    by_level: dict[int, list[int]] = {}
    for i in long:
        by_level.setdefault(r.level_of(half[i]), []).append(i)
    for level, idx in by_level.items():
        heads = [outcomes.head(items[i][0], half[i]) for i in idx]
        for i, head, v in zip(idx, heads, value_of(level, heads)):
            mids[i] = v
            stats.setdefault(f"assistant_level{level}", []).append(v is not None and outcomes.is_right(head, v))
    for i in long:
        if mids[i] is None:
            verdicts[i] = False
    long = [i for i in long if mids[i] is not None]
    firsts = [(outcomes.head(items[i][0], half[i]), mids[i]) for i in long]
    seconds = [(outcomes.tail(items[i][0], half[i], mids[i]), items[i][1]) for i in long]
    if long:
        halves = assisted_verdicts(r, outcomes, value_of, firsts + seconds, stats)
        for j, i in enumerate(long):
            verdicts[i] = halves[j] and halves[len(long) + j]
    return verdicts
