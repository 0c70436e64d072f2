"""Process vs outcome supervision at laptop scale ("Let's Verify Step by Step", Lightman et al. 2023).

Method, for each world (arithmetic chains, countdown):
1. Train a generator on gold solutions of the world's training split (or load the user's checkpoint).
2. Sample K solutions for each problem of the overseer split; the world's checker labels every
   step. A user's stepwise JSONL can replace these labels (``best_of_n.verifier.data``).
3. Fine-tune a PRM and an ORM from the generator's weights, keeping its LM head (see
   ``overseers/verifier.py``), side by side; as the weak baseline, the same with a fresh linear head.
   With ``best_of_n.verifier.ablation``, also the two missing cells of the labels x aggregation 2x2
   and an ORM that classifies at the last token, fine-tuned and on a frozen backbone (``ablation.py``).
4. Sample a pool of M solutions per test problem; score each with every verifier and with the
   generator's own log-likelihood; estimate best-of-N accuracy by resampling subsets of the pool
   (``reranking.py``), with paired 95% bootstrap CIs over problems for PRM - majority and
   PRM - ORM, the ablation's main effects, and each verifier's AUROC for final-answer correctness,
   pooled over all samples and within each problem (what reranking uses).
5. Active learning (``active_learning.py``): label convincing wrong answers first, or uniformly.

Verifier-training, validation and test problems come from disjoint splits of each world, so no
test prompt is ever a verifier-training or generator-training prompt.
"""

from __future__ import annotations

import numpy as np
import torch

from ...measures import auroc_ci, bootstrap_ci
from ...overseers import StepVerifier, save_verifier, solution_score, train_verifier
from ...pipeline.generator import (
    GeneratorConfig,
    SamplingConfig,
    evaluate_samples,
    greedy_accuracy,
    generator_model,
    load_generator,
    read_samples,
    sample_and_check,
    given_generator,
    train_generator,
    validation_sampling,
)
from ...models.providers import parse_address
from ...protocol import protocol
from ...records import LabelledSolution
from ...errors import UserError
from ...runtime.context import content_digest
from ...runtime.progress import log
from ...runtime.store import atomic_save_dir, atomic_write_json
from ...worlds import make_world
from ...worlds.arithmetic import ArithmeticConfig
from ...worlds.stepwise import read_stepwise_jsonl
from .ablation import VERIFIERS, VerifierSpec, ablation_effects, enabled_verifiers, within_problem_auroc
from .config import BestOfNConfig, BestOfNResults, VerifierConfig
from .reranking import best_of_n
from .scoring import labelled_solutions, pair_tokens, pools_from, score_pairs, unique_solutions
from .report import best_of_n_section, headline, summary


def world_config(cfg, name: str):
    return cfg.world if name == "arithmetic" else cfg.best_of_n.countdown


def training_examples(ctx, w: str, world_cfg, train_path: str, v: VerifierConfig) -> list[LabelledSolution]:
    if w in v.data:
        from types import SimpleNamespace

        world = make_world(w, world_cfg)
        examples = [e.labelled() for e in read_stepwise_jsonl(v.data[w])]
        # a user's file may hold test or validation prompts: training on them would leak
        kept = [e for e in examples if world.split_of(SimpleNamespace(prompt=e.prompt)) not in ("test", "val")]
        log(f"{w}: training verifiers on {len(kept)} examples from {v.data[w]}"
            + (f" ({len(examples) - len(kept)} with test or validation prompts left out)" if len(kept) < len(examples) else ""))
        if not kept:
            raise UserError(f"{v.data[w]}: every example's prompt is a test or validation prompt of world {w!r}")
        return kept
    return labelled_solutions(read_samples(ctx, train_path), make_world(w, world_cfg))


def train_and_score(ctx, w: str, world_cfg, gen: dict, train_path: str, test_path: str, spec: VerifierSpec,
                    v: VerifierConfig, data_digest: str = "") -> dict:
    """Stage: fine-tune one verifier, save it, and score every distinct test solution."""
    name = spec.name
    world = make_world(w, world_cfg)
    examples = training_examples(ctx, w, world_cfg, train_path, v)
    lm, tokenizer = load_generator(ctx, gen)
    torch.manual_seed(ctx.derive(w, name, "init"))
    verifier = StepVerifier(lm, spec.kind, spec.head, spec.aggregation, spec.frozen)
    history = train_verifier(verifier, tokenizer, examples, v.steps, v.batch_size, v.lr, v.head_lr,
                             seed=ctx.derive(w, name), description=f"training {w} {name}")
    model_path = ctx.artifact(f"models/{w}_{name}")
    atomic_save_dir(ctx.file(model_path), lambda f: save_verifier(verifier, tokenizer, f))
    rows = read_samples(ctx, test_path)
    pairs, _ = unique_solutions(rows)
    probs = score_pairs(verifier, tokenizer, world, pairs, description=f"scoring {w} {name}",
                        tokens=pair_tokens(rows, pairs))
    path = ctx.artifact(f"samples/{w}_test_scores_{name}") + ".json"
    atomic_write_json(ctx.file(path), probs)
    return {"model": model_path, "scores": path, "loss_history": history}


def loglik_scores(ctx, w: str, world_cfg, gen: dict, test_path: str) -> str:
    """Stage: the generator's own log-likelihood of each distinct test solution."""
    lm, tokenizer = load_generator(ctx, gen)
    rows = read_samples(ctx, test_path)
    pairs, _ = unique_solutions(rows)
    logits = score_pairs(StepVerifier(lm, "orm", "loglik", "cumulative"), tokenizer, make_world(w, world_cfg), pairs,
                         probabilities=False, description=f"likelihood {w}", tokens=pair_tokens(rows, pairs))
    path = ctx.artifact(f"samples/{w}_test_scores_loglik") + ".json"
    atomic_write_json(ctx.file(path), whole_solution_loglik(logits))
    return path


def whole_solution_loglik(logits: list[list[float]]) -> list[float | None]:
    """The cumulative log-likelihood at each solution's last step end; None for a solution with no
    step at all (a bare answer), which ranks last, as it does under every verifier."""
    return [x[-1] if x else None for x in logits]


def read_json(ctx, path: str):
    import json

    return json.loads(ctx.file(path).read_text())


def method_scores(ctx, trained: dict, test_rows: list[dict], aggregate: str) -> dict[str, np.ndarray]:
    """Per test row, one score per method (higher is better)."""
    _, which = unique_solutions(test_rows)
    out = {"loglik": np.array([-np.inf if v is None else v for v in read_json(ctx, trained["loglik"])], float)[which]}
    for spec in VERIFIERS:
        if spec.name in trained:
            probs = read_json(ctx, trained[spec.name]["scores"])
            out[spec.name] = np.array([solution_score(p, spec.aggregation, aggregate) for p in probs])[which]
    return out


def evaluate_world(ctx, w: str, trained: dict, test_path: str, b: BestOfNConfig) -> dict:
    test_rows = read_samples(ctx, test_path)
    scores = method_scores(ctx, trained, test_rows, b.verifier.aggregate)
    curves = best_of_n(pools_from(test_rows, scores), b.n_values, b.subsets, seed=ctx.derive(w, "subsets"))
    boot = ctx.boot
    result: dict = {m: {str(n): bootstrap_ci(v, **boot) for n, v in by_n.items()} for m, by_n in curves.items()}
    diffs = {}
    for a, c in [("prm", "majority"), ("prm", "orm"), ("orm", "majority"), ("prm_weak", "majority"), ("prm", "prm_weak"),
                 ("prm", "orm_last_token"), ("orm_last_token", "orm_frozen"), ("orm_last_token", "loglik")]:
        if a in curves and c in curves:
            diffs[f"{a}_vs_{c}"] = {str(n): bootstrap_ci(curves[a][n] - curves[c][n], **boot) for n in b.n_values}
    result["diff"] = diffs
    ablation = ablation_effects(curves, b.n_values, **boot)
    if ablation:
        result["ablation"] = ablation
    ids = [r["problem"] for r in test_rows]
    correct = [r["correct"] for r in test_rows]
    auroc = {m: auroc_ci(ids, correct, s.tolist(), n_resamples=min(ctx.bootstrap_resamples, 500), seed=ctx.seed)
             for m, s in scores.items()}
    within = {m: within_problem_auroc(ids, correct, s, **boot) for m, s in scores.items()}
    return {"best_of_n": result, "auroc": auroc, "auroc_within": within, "sample_accuracy": float(np.mean(correct))}


def generator_metrics(ctx, world_cfg, gen: dict, test_path: str, b: BestOfNConfig, s: SamplingConfig) -> dict:
    """The arithmetic generator's accuracy, from its pool samples (K = pool size, temperature T)."""
    world = make_world("arithmetic", world_cfg)
    greedy = greedy_accuracy(generator_model(ctx, gen), world.problems(ctx.seed, "test", b.test_problems), world, s)
    metrics = evaluate_samples(read_samples(ctx, test_path), greedy, s.temperature, ctx.boot)
    metrics["samples_per_problem"] = b.pool_size
    metrics["params"] = gen["params"]
    return metrics


def generator_stage(w: str) -> str:
    return "train_generator" if w == "arithmetic" else f"{w}.train_generator"


def run_worlds(ctx, cfg) -> dict:
    """Every world's pipeline, with the independent trainings side by side: the generators of all
    worlds together, then the verifiers of all worlds in pairs."""
    b, s = cfg.best_of_n, cfg.sampling
    gens = dict(zip(b.worlds, ctx.side_by_side([
        (generator_stage(w), train_generator, (w, world_config(cfg, w), cfg.generator, validation_sampling(s)))
        for w in b.worlds])))
    backbone = given_generator(parse_address(b.backbone, "best_of_n.backbone")) if b.backbone else None
    if (backbone or gens[b.worlds[0]]).get("remote"):
        raise UserError(f"best_of_n: the PRM and ORM are fine-tuned from the generator's weights, but "
                        f"{b.backbone or cfg.generator.model} is black-box (served over HTTP); set best_of_n.backbone "
                        "to a lab/ or hf/ address")
    paths, trained, calls = {}, {}, []
    for w in b.worlds:
        wc, gen = world_config(cfg, w), gens[w]
        base = backbone or gen  # what the verifiers start from
        train_path = ctx.stage(f"{w}.sample_train", sample_and_check, w, wc, gen, "overseer", b.train_problems,
                               b.train_samples_per_problem, s)
        test_path = ctx.stage(f"{w}.sample_test", sample_and_check, w, wc, gen, "test", b.test_problems, b.pool_size, s)
        paths[w] = {"generator": gen, "backbone": base, "train": train_path, "test": test_path}
        trained[w] = {"loglik": ctx.stage(f"{w}.loglik", loglik_scores, w, wc, base, test_path)}
        digest = content_digest(b.verifier.data[w]) if w in b.verifier.data else ""  # edited in place: retrain
        calls += [(f"{w}.train_{spec.name}", train_and_score, (w, wc, base, train_path, test_path, spec, b.verifier, digest))
                  for spec in enabled_verifiers(b.verifier.weak_baseline, b.verifier.ablation)]
    calls.sort(key=lambda c: c[2][5].frozen)  # the cheap frozen-backbone heads pair with each other, not a fine-tune
    for (stage_name, _, _), result in zip(calls, ctx.side_by_side(calls)):
        w, name = stage_name.split(".train_", 1)
        trained[w][name] = result
    results = {}
    for w in b.worlds:
        results[w] = ctx.stage(f"{w}.evaluate", evaluate_world, w, trained[w], paths[w]["test"], b)
        if w == "arithmetic":
            results[w]["generator"] = ctx.stage("arithmetic.evaluate_generator", generator_metrics, world_config(cfg, w),
                                                gens[w], paths[w]["test"], b, s)
        results[w]["paths"] = paths[w]
    return results


def report(store, r: dict, stages: dict) -> str:
    return best_of_n_section(store, r, stages)


@protocol("best_of_n", sections={"world": ArithmeticConfig, "generator": GeneratorConfig, "sampling": SamplingConfig,
                                 "best_of_n": BestOfNConfig},
          results=BestOfNResults, summary=summary, headline=headline, report=report)
def run(ctx, cfg) -> dict:
    from .active_learning import run_active_learning

    b = cfg.best_of_n
    results = run_worlds(ctx, cfg)
    metrics = {
        **({"generator": results["arithmetic"]["generator"]} if "arithmetic" in results else {}),
        "best_of_n": {w: r["best_of_n"] for w, r in results.items()},
        "verifier_auroc": {w: r["auroc"] for w, r in results.items()},
        "verifier_auroc_within": {w: r["auroc_within"] for w, r in results.items()},
        "generator_sample_accuracy": {w: r["sample_accuracy"] for w, r in results.items()},
    }
    al = b.active_learning
    if al.enabled and al.world in b.worlds:
        paths = results[al.world]["paths"]
        metrics["active_learning"] = ctx.stage("active_learning", run_active_learning, al.world,
                                               world_config(cfg, al.world), paths["backbone"], paths["train"],
                                               paths["test"], b)
    return metrics
