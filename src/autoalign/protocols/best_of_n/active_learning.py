"""Active learning for process supervision: which samples are worth a human's step labels?

As in "Let's Verify Step by Step", labels are spent on *convincing wrong answers*: solutions a
selector PRM scores highly although their final answer is wrong (final answers are cheap to check;
step labels are the expensive signal). Method, on one world:

1. Shuffle the labelled pool of generator samples once. At every budget B, the uniform strategy
   labels the first B of that order.
2. The selector is the PRM trained on the smallest uniform set. For a larger budget B, the active
   strategy keeps that set and spends ``convincing_fraction`` of the rest on the wrong-answer
   samples the selector scores highest, the remainder uniformly.
3. Every PRM is trained for the same number of steps from the generator's weights and measured by
   best-of-N accuracy at the largest N on the held-out pool.
4. Data efficiency at budget B: the uniform budget that reaches the active PRM's accuracy
   (log-linear interpolation of the uniform curve, made monotone), divided by B. The headline is
   the median over budgets, with a bootstrap CI over test problems.
"""

from __future__ import annotations

import numpy as np

from ...overseers import StepVerifier, solution_score, train_verifier
from ...pipeline.generator import load_generator, read_samples
from ...runtime.progress import log
from ...worlds import make_world
from .config import BestOfNConfig
from .reranking import best_of_n
from .scoring import labelled_solutions, pair_tokens, pools_from, score_pairs, unique_solutions


def _train_prm(ctx, gen, examples, b: BestOfNConfig, tag) -> tuple[StepVerifier, object]:
    v = b.verifier
    lm, tokenizer = load_generator(ctx, gen)
    prm = StepVerifier(lm, "prm", "loglik")
    train_verifier(prm, tokenizer, examples, b.active_learning.steps, v.batch_size, v.lr, v.head_lr,
                   seed=ctx.derive("al", tag), description=f"active learning: PRM {tag}")
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


def data_efficiency(budgets: list[int], uniform: np.ndarray, active: np.ndarray) -> tuple[float, bool]:
    """Median over budgets (beyond the first) of equivalent uniform budget / active budget.

    ``uniform`` and ``active`` are (budgets, problems) accuracies; active row 0 is unused.
    """
    u = uniform.mean(axis=1).tolist()
    factors, bound = [], False
    for k in range(1, len(budgets)):
        eq, lower = equivalent_budget(budgets, u, float(active[k].mean()))
        factors.append(eq / budgets[k])
        bound = bound or lower
    return float(np.median(factors)), bound


def run_active_learning(ctx, w: str, world_cfg, gen: dict, train_path: str, test_path: str, b: BestOfNConfig) -> dict:
    """Stage: PRMs trained on uniform and on actively chosen labels, at every budget."""
    al = b.active_learning
    world = make_world(w, world_cfg)
    train_rows = read_samples(ctx, train_path)
    test_rows = read_samples(ctx, test_path)
    keep = [i for i, r in enumerate(train_rows) if world.steps(r["text"])]
    train_rows = [train_rows[i] for i in keep]
    examples = labelled_solutions(train_rows, world)
    budgets = sorted(x for x in al.budgets if x <= len(examples))
    if len(budgets) < 2:
        budgets = [max(1, len(examples) // 4), len(examples)]
    order = ctx.rng("al-order").permutation(len(examples)).tolist()

    uniform = []
    selector = None
    for k, budget in enumerate(budgets):
        prm, tok = _train_prm(ctx, gen, [examples[i] for i in order[:budget]], b, f"uniform-{budget}")
        uniform.append(_per_problem_accuracy(ctx, prm, tok, world, test_rows, b))
        if k == 0:
            selector = (prm, tok)
    # the selector ranks the wrong-answer samples once
    prm, tok = selector
    probs = score_pairs(prm, tok, world, [(e.prompt, e.text) for e in examples], description="active learning: selecting",
                        tokens=[e.tokens for e in examples])
    conviction = np.array([solution_score(p, "prm", b.verifier.aggregate) for p in probs])
    wrong = [i for i in np.argsort(-conviction).tolist() if not train_rows[i]["correct"]]
    seed_set = order[: budgets[0]]
    active = [uniform[0]]
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

    factor, lower_bound = data_efficiency(budgets, uniform_arr, active_arr)
    rng = ctx.rng("al-bootstrap")
    n_problems = uniform_arr.shape[1]
    boots = []
    for _ in range(min(ctx.bootstrap_resamples, 1000)):
        idx = rng.integers(0, n_problems, n_problems)
        boots.append(data_efficiency(budgets, uniform_arr[:, idx], active_arr[:, idx])[0])
    lo, hi = np.quantile(boots, [0.025, 0.975])
    log(f"active learning: data efficiency {factor:.2f}x [{lo:.2f}, {hi:.2f}]")
    n = max(b.n_values)
    return {
        "data_efficiency": {"mean": factor, "ci_low": float(lo), "ci_high": float(hi), "n": n_problems,
                            "lower_bound": lower_bound},
        "world": w,
        "budgets": budgets,
        "n": n,
        "uniform_accuracy": [float(x) for x in uniform_arr.mean(axis=1)],
        "active_accuracy": [float(x) for x in active_arr.mean(axis=1)],
    }
