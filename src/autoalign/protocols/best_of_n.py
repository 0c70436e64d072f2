"""Process vs outcome supervision at laptop scale ("Let's Verify Step by Step", Lightman et al. 2023).

Method, for each world (arithmetic chains, countdown):
1. Train a generator on gold solutions (or load the user's checkpoint).
2. Sample K solutions for each verifier-training problem; the world's checker labels every step.
   A user's stepwise JSONL can replace these labels (``best_of_n.verifier.data``).
3. Fine-tune a PRM and an ORM from the generator's weights, keeping its LM head (see
   ``overseers/verifier.py``); as the weak baseline, the same with a fresh linear head.
4. Sample a pool of M solutions per held-out problem; score each with every verifier and with the
   generator's own log-likelihood; estimate best-of-N accuracy by resampling subsets of the pool
   (``reranking.py``), with paired 95% bootstrap CIs over problems for PRM - majority and
   PRM - ORM, and each verifier's AUROC for final-answer correctness.
5. Active learning (``active_learning.py``): label convincing wrong answers first, or uniformly.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch

from ..config import RunConfig
from ..measures import auroc_ci, bootstrap_ci
from ..models.sampling import hash_seed
from ..overseers import StepVerifier, save_verifier, solution_score, step_probabilities, train_verifier
from ..overseers.training import step_logit_values
from ..runtime.progress import log
from ..runtime.store import RunStore, atomic_save_dir, atomic_write_json, read_jsonl
from ..worlds.arithmetic import ANSWER_MARK, split_solution
from ..worlds.registry import World, make_world
from ..worlds.stepwise import StepwiseExample, read_stepwise_jsonl
from .generator import (
    evaluate_samples,
    greedy_accuracy,
    heldout_problems,
    load_generator,
    sample_and_check,
    train_generator,
)
from .reranking import Pool, best_of_n

VERIFIERS = [("prm", "loglik", "prm"), ("orm", "loglik", "orm"), ("prm", "linear", "prm_weak"), ("orm", "linear", "orm_weak")]


def world_for(cfg: RunConfig, name: str) -> World:
    return make_world(name, cfg.world if name == "arithmetic" else cfg.best_of_n.countdown)


def written_steps(text: str) -> list[str]:
    """Steps as the generator wrote them, the answer last; the units a PRM scores."""
    steps, answer = split_solution(text)
    return steps + ([f"{ANSWER_MARK}{answer}"] if answer is not None else [])


def examples_from_rows(rows: list[dict]) -> list[StepwiseExample]:
    out = []
    for r in rows:
        steps, answer = split_solution(r["text"])
        completions = steps + ([f"{ANSWER_MARK}{answer}"] if answer is not None else [])
        labels = list(r["step_labels"]) + ([bool(r["correct"])] if answer is not None else [])
        out.append(StepwiseExample(r["prompt"], completions, labels))
    return out


def unique_solutions(rows: list[dict]) -> tuple[list[tuple[str, str]], list[int]]:
    """Distinct (prompt, text) pairs and, for each row, the index of its pair: score each once."""
    index: dict = {}
    which = [index.setdefault((r["prompt"], r["text"]), len(index)) for r in rows]
    return list(index), which


def train_and_score(store: RunStore, cfg: RunConfig, w: str, gen: dict, examples, kind: str, head: str,
                    name: str, test_rows: list[dict], steps: int | None = None) -> dict:
    """Stage: fine-tune one verifier, save it, and score every distinct test solution."""
    v = cfg.best_of_n.verifier
    lm, tokenizer = load_generator(store, gen)
    torch.manual_seed(hash_seed(cfg.seed, w, name, "init"))
    verifier = StepVerifier(lm, kind, head)
    history = train_verifier(verifier, tokenizer, examples, steps or v.steps, v.batch_size, v.lr, v.head_lr,
                             seed=hash_seed(cfg.seed, w, name), description=f"training {w} {name}")
    atomic_save_dir(store.file("models", f"{w}_{name}"), lambda f: save_verifier(verifier, tokenizer, f))
    pairs, _ = unique_solutions(test_rows)
    probs = step_probabilities(verifier, tokenizer, [p for p, _ in pairs], [written_steps(t) or [""] for _, t in pairs],
                               description=f"scoring {w} {name}")
    path = f"samples/{w}_test_scores_{name}.json"
    atomic_write_json(store.file(path), probs)
    return {"model": f"models/{w}_{name}", "scores": path, "loss_history": history}


def loglik_scores(store: RunStore, gen: dict, w: str, test_rows: list[dict]) -> str:
    """Stage: the generator's own log-likelihood of each distinct test solution."""
    lm, tokenizer = load_generator(store, gen)
    pairs, _ = unique_solutions(test_rows)
    logits = step_logit_values(StepVerifier(lm, "orm", "loglik"), tokenizer, [p for p, _ in pairs],
                               [written_steps(t) or [""] for _, t in pairs], description=f"likelihood {w}")
    path = f"samples/{w}_test_scores_loglik.json"
    atomic_write_json(store.file(path), [x[-1] for x in logits])
    return path


def method_scores(store: RunStore, cfg: RunConfig, w: str, trained: dict, test_rows: list[dict]) -> dict[str, np.ndarray]:
    """Per test row, one score per method (higher is better)."""
    _, which = unique_solutions(test_rows)
    agg = cfg.best_of_n.verifier.aggregate
    out = {"loglik": np.array(read_json(store, trained["loglik"]))[which]}
    for kind, _, name in VERIFIERS:
        if name in trained:
            probs = read_json(store, trained[name]["scores"])
            per_unique = np.array([solution_score(p, kind, agg) for p in probs])
            out[name] = per_unique[which]
    return out


def read_json(store: RunStore, path: str):
    import json

    return json.loads(store.file(path).read_text())


def pools_from(rows: list[dict], scores: dict[str, np.ndarray]) -> list[Pool]:
    by_problem: dict[int, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_problem[r["problem"]].append(i)
    pools = []
    for _, idx in sorted(by_problem.items()):
        pools.append(Pool(
            correct=np.array([rows[i]["correct"] for i in idx]),
            answers=[rows[i]["answer"] for i in idx],
            scores={m: s[idx] for m, s in scores.items()},
        ))
    return pools


def evaluate_world(store: RunStore, cfg: RunConfig, w: str, trained: dict, test_rows: list[dict]) -> dict:
    b = cfg.best_of_n
    scores = method_scores(store, cfg, w, trained, test_rows)
    curves = best_of_n(pools_from(test_rows, scores), b.n_values, b.subsets, seed=hash_seed(cfg.seed, w, "subsets"))
    boot = dict(n_resamples=cfg.bootstrap_resamples, seed=cfg.seed)
    result: dict = {m: {str(n): bootstrap_ci(v, **boot) for n, v in by_n.items()} for m, by_n in curves.items()}
    diffs = {}
    for a, c in [("prm", "majority"), ("prm", "orm"), ("orm", "majority"), ("prm_weak", "majority"), ("prm", "prm_weak")]:
        if a in curves and c in curves:
            diffs[f"{a}_vs_{c}"] = {str(n): bootstrap_ci(curves[a][n] - curves[c][n], **boot) for n in b.n_values}
    result["diff"] = diffs
    ids = [r["problem"] for r in test_rows]
    correct = [r["correct"] for r in test_rows]
    auroc = {m: auroc_ci(ids, correct, s.tolist(), n_resamples=min(cfg.bootstrap_resamples, 500), seed=cfg.seed)
             for m, s in scores.items()}
    return {"best_of_n": result, "auroc": auroc, "sample_accuracy": float(np.mean(correct))}


def run_world(store: RunStore, cfg: RunConfig, w: str) -> dict:
    b = cfg.best_of_n
    world = world_for(cfg, w)
    gen = store.stage(f"{w}.train_generator", lambda: train_generator(store, cfg, world, name=f"generator_{w}"))
    train_problems = heldout_problems(cfg, "verifier_train", b.train_problems, world)
    test_problems = heldout_problems(cfg, "test", b.test_problems, world)
    train_path = store.stage(f"{w}.sample_train", lambda: sample_and_check(
        store, cfg, gen, train_problems, f"{w}_train", b.train_samples_per_problem, f"{w}-train", world))
    test_path = store.stage(f"{w}.sample_test", lambda: sample_and_check(
        store, cfg, gen, test_problems, f"{w}_test", b.pool_size, f"{w}-test", world))
    test_rows = read_jsonl(store.file(test_path))
    if w in b.verifier.data:
        examples = read_stepwise_jsonl(b.verifier.data[w])
        log(f"{w}: training verifiers on {len(examples)} examples from {b.verifier.data[w]}")
    else:
        examples = examples_from_rows(read_jsonl(store.file(train_path)))
    trained: dict = {"loglik": store.stage(f"{w}.loglik", lambda: loglik_scores(store, gen, w, test_rows))}
    for kind, head, name in VERIFIERS:
        if head == "linear" and not b.verifier.weak_baseline:
            continue
        trained[name] = store.stage(f"{w}.train_{name}", lambda: train_and_score(
            store, cfg, w, gen, examples, kind, head, name, test_rows))
    result = store.stage(f"{w}.evaluate", lambda: evaluate_world(store, cfg, w, trained, test_rows))
    if w == "arithmetic":
        result["generator"] = store.stage("arithmetic.evaluate_generator", lambda: generator_metrics(
            store, cfg, world, gen, test_problems, test_rows))
    return result


def generator_metrics(store, cfg, world, gen, problems, rows) -> dict:
    """The arithmetic generator's accuracy, from its pool samples (K = pool size, temperature T)."""
    model, tokenizer = load_generator(store, gen)
    metrics = evaluate_samples(cfg, rows, greedy_accuracy(model, tokenizer, problems, cfg, world))
    metrics["samples_per_problem"] = cfg.best_of_n.pool_size
    metrics["params"] = gen["params"]
    return metrics


def run(store: RunStore, cfg: RunConfig) -> dict:
    from .active_learning import run_active_learning

    results = {w: run_world(store, cfg, w) for w in cfg.best_of_n.worlds}
    metrics = {
        **({"generator": results["arithmetic"]["generator"]} if "arithmetic" in results else {}),
        "best_of_n": {w: r["best_of_n"] for w, r in results.items()},
        "verifier_auroc": {w: r["auroc"] for w, r in results.items()},
        "generator_sample_accuracy": {w: r["sample_accuracy"] for w, r in results.items()},
    }
    al = cfg.best_of_n.active_learning
    if al.enabled and al.world in cfg.best_of_n.worlds:
        metrics["active_learning"] = store.stage("active_learning", lambda: run_active_learning(store, cfg))
    return store.update_metrics(metrics)
