"""Active learning for process supervision: which samples are worth a human's step labels?

As in "Let's Verify Step by Step", labels are spent on *convincing wrong answers*: solutions a
selector PRM scores highly although their final answer is wrong (final answers are cheap to check;
step labels are the expensive signal). Method, on one world:

1. Shuffle the labelled pool of generator samples once. At every budget B, the uniform strategy
   labels the first B of that order. The uniform curve is measured at every active budget *and
   beyond the largest* (``uniform_budgets``): a uniform curve that stops where the active one stops
   cannot show that active labels are worth more than their number (the factor would be capped at 1x).
2. The selector is the PRM trained on the smallest active budget's uniform set (the seed set). For
   a larger budget B, the active strategy keeps that set and spends ``convincing_fraction`` of the
   rest on the wrong-answer samples the selector scores highest, the remainder uniformly.
3. Every PRM is trained for the same number of steps from the generator's weights and measured by
   best-of-N accuracy at the largest N on the held-out pool, per test problem.
4. Two comparisons (``compare_strategies``), each with a bootstrap CI over test problems:
   - the accuracy difference at equal budget, active - uniform, at every active budget beyond the
     seed set (paired per problem; pooled over seeds like every estimate with per-problem values);
   - data efficiency at budget B: the uniform budget that reaches the active PRM's accuracy
     (log-linear interpolation of the uniform curve, made monotone), divided by B; the headline is
     the median over budgets. ``lower_bound`` says the active PRM beat every uniform budget,
     ``upper_bound`` (per budget) that it did no better than the fewest uniform labels.
   The factor is only readable where the uniform curve rises: ``uniform_gain`` (largest minus
   smallest uniform budget, CI over problems) says whether it does; where its CI covers 0, more
   labels do not help at this scale and the equal-budget difference is the measure to read.
"""

from __future__ import annotations

import numpy as np

from ...measures import bootstrap_ci
from ...overseers.training import solution_score, train_verifier
from ...overseers.verifier import StepVerifier
from ...pipeline.generator import load_generator, read_samples
from ...runtime.progress import log
from ...worlds.reference import WorldRef
from .config import BestOfNConfig
from .reranking import best_of_n
from .scoring import labelled_solutions, pair_tokens, pools_from, score_pairs, unique_solutions


def _train_prm(ctx, gen, examples, b: BestOfNConfig, tag) -> tuple[StepVerifier, object]:
    v = b.verifier
    lm, tokenizer = load_generator(ctx, gen)
    prm = StepVerifier(lm, "prm", "loglik")
    train_verifier(
        prm,
        tokenizer,
        examples,
        b.active_learning.steps,
        v.batch_size,
        v.lr,
        v.head_lr,
        seed=ctx.derive("al", tag),
        description=f"active learning: PRM {tag}",
    )
    return prm, tokenizer


def _per_problem_accuracy(ctx, prm, tokenizer, world, test_rows, b: BestOfNConfig) -> np.ndarray:
    pairs, which = unique_solutions(test_rows)
    probs = score_pairs(prm, tokenizer, world, pairs, tokens=pair_tokens(test_rows, pairs))
    scores = np.array([solution_score(p, "prm", b.verifier.aggregate) for p in probs])[which]
    n = max(b.n_values)
    curves = best_of_n(pools_from(test_rows, {"prm": scores}), [n], b.subsets, seed=ctx.derive("al"))
    return curves["prm"][n]


def equivalent_budget(uniform_budgets: list[int], uniform_acc: list[float], target: float) -> tuple[float, bool]:
    """Uniform labels needed to reach ``target`` accuracy; ``(budget, is_lower_bound)``."""
    acc = np.maximum.accumulate(np.asarray(uniform_acc, dtype=float))
    logb = np.log(np.asarray(uniform_budgets, dtype=float))
    if target > acc[-1]:
        return float(uniform_budgets[-1]), True
    if target <= acc[0]:
        return float(uniform_budgets[0]), False
    j = int(np.searchsorted(acc, target))
    lo, hi = acc[j - 1], acc[j]
    t = 0.0 if hi == lo else (target - lo) / (hi - lo)
    return float(np.exp(logb[j - 1] + t * (logb[j] - logb[j - 1]))), False


def data_efficiency(
    budgets: list[int], uniform: np.ndarray, active: np.ndarray, active_budgets: list[int] | None = None
) -> tuple[float, bool]:
    """Median over active budgets (beyond the first) of equivalent uniform budget / active budget.

    ``uniform`` is (len(budgets), problems) and ``active`` (len(active_budgets), problems) accuracies,
    ``active_budgets`` defaulting to ``budgets``; active row 0 is the seed set and unused.
    """
    active_budgets = budgets if active_budgets is None else active_budgets
    u = uniform.mean(axis=1).tolist()
    factors, bound = [], False
    for k in range(1, len(active_budgets)):
        eq, lower = equivalent_budget(budgets, u, float(active[k].mean()))
        factors.append(eq / active_budgets[k])
        bound = bound or lower
    return float(np.median(factors)), bound


def compare_strategies(
    uniform_budgets: list[int],
    uniform: np.ndarray,
    active_budgets: list[int],
    active: np.ndarray,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict:
    """Active vs uniform labelling from per-problem accuracy curves (a pure function).

    ``uniform``: (len(uniform_budgets), problems); ``active``: (len(active_budgets), problems), row 0
    the seed set. Returns the data-efficiency factor with a CI over problems, and per active budget
    beyond the first: the equivalent uniform budget, its factor, and the equal-budget difference
    active - uniform (an estimate with per-problem values) where the uniform curve has that budget.
    """
    uniform, active = np.asarray(uniform, dtype=float), np.asarray(active, dtype=float)
    factor, lower_bound = data_efficiency(uniform_budgets, uniform, active, active_budgets)
    rng = np.random.default_rng(seed)
    n_problems = uniform.shape[1]
    boots = []
    for _ in range(n_resamples):
        idx = rng.integers(0, n_problems, n_problems)
        boots.append(data_efficiency(uniform_budgets, uniform[:, idx], active[:, idx], active_budgets)[0])
    lo, hi = np.quantile(boots, [0.025, 0.975])
    curve = uniform.mean(axis=1).tolist()
    by_budget, differences = {}, {}
    for k in range(1, len(active_budgets)):
        b = active_budgets[k]
        acc = float(active[k].mean())
        eq, lower = equivalent_budget(uniform_budgets, curve, acc)
        by_budget[str(b)] = {
            "equivalent_uniform_budget": eq,
            "factor": eq / b,
            "lower_bound": lower,
            "upper_bound": acc <= curve[0],
        }  # no worse than the fewest uniform labels
        if b in uniform_budgets:
            diff = active[k] - uniform[uniform_budgets.index(b)]
            differences[str(b)] = bootstrap_ci(diff, n_resamples=n_resamples, seed=seed)
    return {
        "data_efficiency": {
            "mean": factor,
            "ci_low": float(lo),
            "ci_high": float(hi),
            "n": n_problems,
            "resampled": "problems",
            "lower_bound": lower_bound,
        },
        "equal_budget_difference": differences,
        "by_budget": by_budget,
        # can the factor be read at all? only where more uniform labels buy accuracy
        "uniform_gain": bootstrap_ci(uniform[-1] - uniform[0], n_resamples=n_resamples, seed=seed),
    }


def plan_budgets(active: list[int], uniform: list[int] | None, available: int) -> tuple[list[int], list[int]]:
    """The active and uniform budgets that fit the labelled pool: every active budget is also on the
    uniform curve (for the equal-budget difference), which by default reaches 4x the largest."""
    act = sorted({x for x in active if x <= available})
    if len(act) < 2:  # a small run: a seed set and one active budget, whatever fits
        act = sorted({max(1, available // 8), max(2, available // 4)})
    extra = uniform if uniform is not None else [4 * act[-1]]
    uni = sorted({x for x in extra if x <= available} | set(act))
    if uni[-1] <= act[-1] and available > act[-1]:
        uni.append(available)  # reach beyond the largest active budget with every label there is
    return act, uni


def run_active_learning(ctx, world_ref: WorldRef, gen: dict, train_path: str, test_path: str, b: BestOfNConfig) -> dict:
    """Stage: PRMs trained on uniform and on actively chosen labels, at every budget."""
    al = b.active_learning
    w, world = world_ref.name, world_ref.make()
    train_rows = read_samples(ctx, train_path)
    test_rows = read_samples(ctx, test_path)
    keep = [i for i, r in enumerate(train_rows) if world.steps(r["text"])]
    train_rows = [train_rows[i] for i in keep]
    examples = labelled_solutions(train_rows, world)
    budgets, uniform_budgets = plan_budgets(al.budgets, al.uniform_budgets, len(examples))
    order = ctx.rng("al-order").permutation(len(examples)).tolist()

    uniform = []
    selector = None
    for budget in uniform_budgets:
        prm, tok = _train_prm(ctx, gen, [examples[i] for i in order[:budget]], b, f"uniform-{budget}")
        uniform.append(_per_problem_accuracy(ctx, prm, tok, world, test_rows, b))
        if budget == budgets[0]:
            selector = (prm, tok)
    # the selector ranks the wrong-answer samples once
    prm, tok = selector
    probs = score_pairs(
        prm,
        tok,
        world,
        [(e.prompt, e.text) for e in examples],
        description="active learning: selecting",
        tokens=[e.tokens for e in examples],
    )
    conviction = np.array([solution_score(p, "prm", b.verifier.aggregate) for p in probs])
    wrong = [i for i in np.argsort(-conviction).tolist() if not train_rows[i]["correct"]]
    seed_set = order[: budgets[0]]
    active = [uniform[uniform_budgets.index(budgets[0])]]
    for budget in budgets[1:]:
        chosen = list(seed_set)
        taken = set(chosen)
        n_active = int(round((budget - len(seed_set)) * al.convincing_fraction))
        for i in wrong:
            if len(chosen) >= len(seed_set) + n_active:
                break
            if i not in taken:
                chosen.append(i)
                taken.add(i)
        for i in order:
            if len(chosen) >= budget:
                break
            if i not in taken:
                chosen.append(i)
                taken.add(i)
        prm, tok = _train_prm(ctx, gen, [examples[i] for i in chosen], b, f"active-{budget}")
        active.append(_per_problem_accuracy(ctx, prm, tok, world, test_rows, b))
    uniform_arr, active_arr = np.array(uniform), np.array(active)

    out = compare_strategies(
        uniform_budgets,
        uniform_arr,
        budgets,
        active_arr,
        n_resamples=min(ctx.bootstrap_resamples, 1000),
        seed=ctx.derive("al-bootstrap"),
    )
    d = out["data_efficiency"]
    log(
        f"active learning: data efficiency {d['mean']:.2f}x [{d['ci_low']:.2f}, {d['ci_high']:.2f}]"
        + "".join(
            f"; active - uniform at {k}: {100 * e['mean']:+.1f} points [{100 * e['ci_low']:+.1f}, "
            f"{100 * e['ci_high']:+.1f}]"
            for k, e in out["equal_budget_difference"].items()
        )
    )
    return {
        **out,
        "world": w,
        "budgets": budgets,
        "uniform_budgets": uniform_budgets,
        "n": max(b.n_values),
        "uniform_accuracy": [float(x) for x in uniform_arr.mean(axis=1)],
        "active_accuracy": [float(x) for x in active_arr.mean(axis=1)],
    }
