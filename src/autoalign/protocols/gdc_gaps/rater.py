"""Rater assistance, measured: a weaker model with a checking budget reads each solution with and
without the critic's critique.

Why: a closed-form "chance that a rater checking k random steps finds the flaw" assumes a perfect
rater and says nothing about false alarms; it is an expectation, not a measurement. Here the rater
is a real, weaker model (by default the run's smallest), and checking a step means what a generator
can do: read the problem and the solution up to the start of that step and write the step itself,
greedily. A step whose text differs from the rater's first written step (the world's step spans) is
flagged (so for arithmetic a wrong operand or operator copied into the step is caught as well as a
wrong value, and a malformed step always is); a solution with any flagged step is called flawed.
The rater's own mistakes count, so it can raise false alarms on sound solutions, and these are
measured on the sound items beside the flaws found.

Unassisted, the rater checks ``budget`` steps in a random order (fixed per item); assisted, it checks
the step the critique names first, then the same random order. Both conditions see the same items
and the same random order, so their difference is paired per problem.
"""

from __future__ import annotations

import numpy as np

from ...measures import bootstrap_ci
from ...models.sampling import sample_solutions
from ...seeding import py_rng
from .critiques import read_critique


def step_checks(text: str, spans: list[tuple[int, int]]) -> list[tuple[str, str]]:
    """Per step: (the solution before it, the step as written, separator included)."""
    return [(text[:s], text[s:e]) for s, e in spans]


def same_step(world, written: str, stated: str, answer: bool) -> bool:
    """Whether the first step the rater wrote (the world's spans of ``written``) is the stated one:
    exactly, its separator included; the answer step (``answer``, the text's last) up to blanks."""
    spans = world.steps(written)
    if not spans:
        return False
    first = written[spans[0][0] : spans[0][1]]
    return first.strip() == stated.strip() if answer else first == stated


def check_order(n_steps: int, budget: int, pointed: int | None, rng) -> list[int]:
    """Steps the rater checks: the pointed one first (if any and in range), then a random order."""
    order = list(range(n_steps))
    rng.shuffle(order)
    if pointed is not None and 0 <= pointed < n_steps:
        order.remove(pointed)
        order.insert(0, pointed)
    return order[:budget]


def rater_flags(rater, tokenizer, world, problems, items: list[dict], orders: list[list[int]]) -> np.ndarray:
    """Whether the rater, checking the given steps of each item, flags any of them."""
    queries: dict[str, None] = {}
    plans = []
    for it, order in zip(items, orders):
        checks = step_checks(it["text"], world.steps(it["text"]))
        prompt = problems[it["problem"]].prompt
        plan = [(prompt + checks[j][0], checks[j][1], j == len(checks) - 1) for j in order if j < len(checks)]
        for q, _, _ in plan:
            queries.setdefault(q)
        plans.append(plan)
    asked = list(queries)
    longest = max((len(stated) for plan in plans for _, stated, _ in plan), default=0)  # a token holds >= 1 char
    written = (
        sample_solutions(
            rater,
            tokenizer,
            asked,
            temperature=0.0,
            max_new_tokens=max(16, longest + 1),
            description="rater checking steps",
        )
        if asked
        else []
    )
    wrote = dict(zip(asked, written))
    return np.array([any(not same_step(world, wrote[q], stated, last) for q, stated, last in plan) for plan in plans])


def closed_form_expectation(n_steps: int, invalid: set[int], budget: int, pointed: int | None) -> float:
    """The expectation for a *perfect* rater (a model, not a measurement): chance that checking
    ``budget`` steps, ``pointed`` first, the rest at random, finds an invalid step."""
    from math import comb

    budget = min(budget, n_steps)
    steps = list(range(n_steps))
    if pointed is not None and 0 <= pointed < n_steps:
        if pointed in invalid:
            return 1.0
        steps.remove(pointed)
        budget -= 1
    bad = len(invalid & set(steps))
    return 1.0 - comb(len(steps) - bad, budget) / comb(len(steps), budget) if budget > 0 else 0.0


def measured_assistance(
    rater, tokenizer, world, problems, items: list[dict], critiques: list[str], budget: int, seed: int, boot: dict
) -> dict:
    """Flaws found and false alarms, with and without the critique, on the balanced items (each
    problem: its gold solution and a flawed copy), paired per problem."""
    n_steps = [len(world.steps(it["text"])) for it in items]
    pointed = [read_critique(world, c).step for c in critiques]
    plain, helped = [], []
    for i, it in enumerate(items):
        plain.append(check_order(n_steps[i], budget, None, py_rng(seed, "rater", i)))
        helped.append(check_order(n_steps[i], budget, pointed[i], py_rng(seed, "rater", i)))
    flag_plain = rater_flags(rater, tokenizer, world, problems, items, plain)
    flag_helped = rater_flags(rater, tokenizer, world, problems, items, helped)
    flawed = np.array([it["flawed_step"] is not None for it in items])
    expected_plain, expected_helped = [], []
    for it, ptd in zip(items, pointed):
        if it["flawed_step"] is None:
            continue
        p = problems[it["problem"]]
        invalid = set(world.locally_invalid_steps(p, it["text"]))
        n = len(world.steps(it["text"]))  # the same steps the rater model chooses from (answer line included)
        expected_plain.append(closed_form_expectation(n, invalid, budget, None))
        expected_helped.append(closed_form_expectation(n, invalid, budget, ptd))
    a, w = flag_helped[flawed].astype(float), flag_plain[flawed].astype(float)
    fa, fw = flag_helped[~flawed].astype(float), flag_plain[~flawed].astype(float)
    return {
        "budget": budget,
        "flaws_found": {
            "without": bootstrap_ci(w, **boot),
            "with": bootstrap_ci(a, **boot),
            "difference": bootstrap_ci(a - w, **boot),
        },
        "false_alarms": {
            "without": bootstrap_ci(fw, **boot),
            "with": bootstrap_ci(fa, **boot),
            "difference": bootstrap_ci(fa - fw, **boot),
        },
        "closed_form_perfect_rater": {
            "without": float(np.mean(expected_plain)),
            "with": float(np.mean(expected_helped)),
            "note": "expectation for a perfect rater (a formula), not a measurement",
        },
    }
