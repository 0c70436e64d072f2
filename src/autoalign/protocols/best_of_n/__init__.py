"""Process vs outcome supervision at laptop scale ("Let's Verify Step by Step", Lightman et al. 2023).

Method, for each world of ``best_of_n.worlds`` (any registered world with text solutions; arithmetic
chains and countdown by default):
1. Train a generator on gold solutions of the world's training split (or load the user's checkpoint).
2. Sample K solutions for each problem of the overseer split; the world's checker labels every
   step. A user's stepwise JSONL can replace these labels (``best_of_n.verifier.data``).
3. Fine-tune a PRM and an ORM from the generator's weights, keeping its LM head (see
   ``overseers/verifier.py``), side by side; as the weak baseline, the same with a fresh linear head.
   With ``best_of_n.verifier.ablation``, also the two missing cells of the labels x aggregation 2x2
   and an ORM that classifies at the last token, fine-tuned and on a frozen backbone (``ablation.py``).
   Every overseer named in ``best_of_n.overseers`` (a plugin's too) is fit on the same samples
   (``overseers.py``).
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

from ...errors import UserError
from ...measures import auroc_ci, bootstrap_ci
from ...models.providers import parse_address
from ...overseers.training import solution_score, train_verifier
from ...overseers.verifier import StepVerifier, save_verifier
from ...pipeline.generator import (
    GeneratorConfig,
    GeneratorWorld,
    SamplingConfig,
    evaluate_samples,
    generator_model,
    given_generator,
    greedy_accuracy,
    load_generator,
    read_samples,
    sample_and_check,
    train_generator,
    validation_sampling,
)
from ...protocol import protocol
from ...records import LabelledSolution
from ...runtime.context import content_digest
from ...runtime.progress import log
from ...runtime.store import atomic_save_dir, atomic_write_json
from ...stepwise import read_stepwise_jsonl
from ...worlds.reference import WorldRef
from .ablation import VERIFIERS, VerifierSpec, ablation_effects, enabled_verifiers, within_problem_auroc
from .config import BestOfNConfig, BestOfNResults, VerifierConfig
from .overseers import fit_and_score_overseer
from .report import best_of_n_section, headline, summary
from .reranking import best_of_n
from .scoring import labelled_solutions, pair_tokens, pools_from, score_pairs, unique_solutions


def worlds_of(cfg) -> list[WorldRef]:
    """``best_of_n.worlds``, an entry with the run-level world's name being the run-level ``world``
    section itself (so the generator protocol and best-of-N share one generator). Knobs for it belong
    in that section: an entry that sets other knobs is refused, in one line."""
    run_world, out = cfg.world, []
    for ref in cfg.best_of_n.worlds:
        if ref.name != run_world.name:
            out.append(ref)
            continue
        knobs = ref.config.model_dump()
        if knobs not in (type(ref.config)().model_dump(), run_world.config.model_dump()):
            raise UserError(
                f"best_of_n.worlds: {ref.name!r} is the run-level world; set its knobs in the `world` "
                "section, not in best_of_n.worlds"
            )
        out.append(run_world)
    return out


def data_examples(w: WorldRef, path: str, separator: str) -> list[LabelledSolution]:
    """A user's stepwise file as verifier training data, its completions joined by ``separator``;
    every example must split into its completions under the world's own steps."""
    from types import SimpleNamespace

    world = w.make()
    examples = [e.labelled(separator) for e in read_stepwise_jsonl(path)]
    for e in examples:
        if [tuple(s) for s in world.steps(e.text)] != list(e.spans):
            raise UserError(
                f"{path}: world {w.name!r} does not find the completions of prompt {e.prompt[:40]!r} as its "
                f"steps once joined by {separator!r} (best_of_n.verifier.separator)"
            )
    # a user's file may hold test or validation prompts: training on them would leak
    kept = [e for e in examples if world.split_of(SimpleNamespace(prompt=e.prompt)) not in ("test", "val")]
    log(
        f"{w.name}: training verifiers on {len(kept)} examples from {path}"
        + (
            f" ({len(examples) - len(kept)} with test or validation prompts left out)"
            if len(kept) < len(examples)
            else ""
        )
    )
    if not kept:
        raise UserError(f"{path}: every example's prompt is a test or validation prompt of world {w.name!r}")
    return kept


def training_examples(ctx, w: WorldRef, train_path: str, v: VerifierConfig) -> list[LabelledSolution]:
    if w.name in v.data:
        return data_examples(w, v.data[w.name], v.separator)
    return labelled_solutions(read_samples(ctx, train_path), w.make())


def train_and_score(
    ctx,
    world_ref: WorldRef,
    gen: dict,
    train_path: str,
    test_path: str,
    spec: VerifierSpec,
    v: VerifierConfig,
    data_digest: str = "",
) -> dict:
    """Stage: fine-tune one verifier, save it, and score every distinct test solution."""
    name, w = spec.name, world_ref.name
    world = world_ref.make()
    examples = training_examples(ctx, world_ref, train_path, v)
    lm, tokenizer = load_generator(ctx, gen)
    torch.manual_seed(ctx.derive(w, name, "init"))
    verifier = StepVerifier(lm, spec.kind, spec.head, spec.aggregation, spec.frozen)
    history = train_verifier(
        verifier,
        tokenizer,
        examples,
        v.steps,
        v.batch_size,
        v.lr,
        v.head_lr,
        seed=ctx.derive(w, name),
        description=f"training {w} {name}",
    )
    model_path = ctx.artifact(f"models/{w}_{name}")
    atomic_save_dir(ctx.file(model_path), lambda f: save_verifier(verifier, tokenizer, f))
    rows = read_samples(ctx, test_path)
    pairs, _ = unique_solutions(rows)
    probs = score_pairs(
        verifier, tokenizer, world, pairs, description=f"scoring {w} {name}", tokens=pair_tokens(rows, pairs)
    )
    path = ctx.artifact(f"samples/{w}_test_scores_{name}") + ".json"
    atomic_write_json(ctx.file(path), probs)
    return {"model": model_path, "scores": path, "loss_history": history}


def loglik_scores(ctx, world_ref: WorldRef, gen: dict, test_path: str) -> str:
    """Stage: the generator's own log-likelihood of each distinct test solution."""
    w = world_ref.name
    lm, tokenizer = load_generator(ctx, gen)
    rows = read_samples(ctx, test_path)
    pairs, _ = unique_solutions(rows)
    logits = score_pairs(
        StepVerifier(lm, "orm", "loglik", "cumulative"),
        tokenizer,
        world_ref.make(),
        pairs,
        probabilities=False,
        description=f"likelihood {w}",
        tokens=pair_tokens(rows, pairs),
    )
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


def _finite_or_last(values: list) -> np.ndarray:
    return np.array([-np.inf if v is None else v for v in values], float)


def method_scores(
    ctx, trained: dict, test_rows: list[dict], aggregate: str, overseers: list[str] = ()
) -> dict[str, np.ndarray]:
    """Per test row, one score per method (higher is better)."""
    _, which = unique_solutions(test_rows)
    out = {"loglik": _finite_or_last(read_json(ctx, trained["loglik"]))[which]}
    for spec in VERIFIERS:
        if spec.name in trained:
            probs = read_json(ctx, trained[spec.name]["scores"])
            out[spec.name] = np.array([solution_score(p, spec.aggregation, aggregate) for p in probs])[which]
    for name in overseers:
        out[name] = _finite_or_last(read_json(ctx, trained[name]["scores"]))[which]
    return out


def evaluate_world(ctx, w: str, trained: dict, test_path: str, b: BestOfNConfig) -> dict:
    test_rows = read_samples(ctx, test_path)
    scores = method_scores(ctx, trained, test_rows, b.verifier.aggregate, b.overseers)
    curves = best_of_n(pools_from(test_rows, scores), b.n_values, b.subsets, seed=ctx.derive(w, "subsets"))
    boot = ctx.boot
    result: dict = {m: {str(n): bootstrap_ci(v, **boot) for n, v in by_n.items()} for m, by_n in curves.items()}
    diffs = {}
    for a, c in [
        ("prm", "majority"),
        ("prm", "orm"),
        ("orm", "majority"),
        ("prm_weak", "majority"),
        ("prm", "prm_weak"),
        ("prm", "orm_last_token"),
        ("orm_last_token", "orm_frozen"),
        ("orm_last_token", "loglik"),
        *[(o, other) for o in b.overseers for other in ("majority", "prm")],
    ]:
        if a in curves and c in curves:
            diffs[f"{a}_vs_{c}"] = {str(n): bootstrap_ci(curves[a][n] - curves[c][n], **boot) for n in b.n_values}
    result["diff"] = diffs
    ablation = ablation_effects(curves, b.n_values, **boot)
    if ablation:
        result["ablation"] = ablation
    ids = [r["problem"] for r in test_rows]
    correct = [r["correct"] for r in test_rows]
    auroc = {
        m: auroc_ci(ids, correct, s.tolist(), n_resamples=min(ctx.bootstrap_resamples, 500), seed=ctx.seed)
        for m, s in scores.items()
    }
    within = {m: within_problem_auroc(ids, correct, s, **boot) for m, s in scores.items()}
    return {"best_of_n": result, "auroc": auroc, "auroc_within": within, "sample_accuracy": float(np.mean(correct))}


def generator_metrics(ctx, world_ref: WorldRef, gen: dict, test_path: str, b: BestOfNConfig, s: SamplingConfig) -> dict:
    """The generator's accuracy on one world, from its pool samples (K = pool size, temperature T)."""
    world = world_ref.make()
    greedy = greedy_accuracy(generator_model(ctx, gen), world.problems(ctx.seed, "test", b.test_problems), world, s)
    metrics = evaluate_samples(read_samples(ctx, test_path), greedy, s.temperature, ctx.boot)
    metrics["samples_per_problem"] = b.pool_size
    metrics["params"] = gen["params"]
    return metrics


def generator_stage(world_ref: WorldRef, cfg) -> str:
    """The run-level world's generator is the generator protocol's stage; other worlds' are their own."""
    return "train_generator" if world_ref is cfg.world else f"{world_ref.name}.train_generator"


def generator_world(cfg, worlds: list[WorldRef]) -> WorldRef:
    """Whose generator best-of-N reports on: the run-level world's if it is compared, else the first."""
    return next((ref for ref in worlds if ref is cfg.world), worlds[0])


def run_worlds(ctx, cfg) -> dict:
    """Every world's pipeline, with the independent trainings side by side: the generators of all
    worlds together, then the verifiers of all worlds in pairs, then the listed overseers."""
    b, s = cfg.best_of_n, cfg.sampling
    refs = worlds_of(cfg)
    names = [ref.name for ref in refs]
    gens = dict(
        zip(
            names,
            ctx.side_by_side(
                [
                    (generator_stage(ref, cfg), train_generator, (ref, cfg.generator, validation_sampling(s)))
                    for ref in refs
                ]
            ),
        )
    )
    backbone = given_generator(parse_address(b.backbone, "best_of_n.backbone")) if b.backbone else None
    if (backbone or gens[names[0]]).get("remote"):
        raise UserError(
            f"best_of_n: the PRM and ORM are fine-tuned from the generator's weights, but "
            f"{b.backbone or cfg.generator.model} is black-box (served over HTTP); set best_of_n.backbone "
            "to a lab/ or hf/ address"
        )
    paths, trained, calls, overseer_calls = {}, {}, [], []
    for ref in refs:
        w, gen = ref.name, gens[ref.name]
        base = backbone or gen  # what the verifiers start from
        train_path = ctx.stage(
            f"{w}.sample_train",
            sample_and_check,
            ref,
            gen,
            "overseer",
            b.train_problems,
            b.train_samples_per_problem,
            s,
        )
        test_path = ctx.stage(f"{w}.sample_test", sample_and_check, ref, gen, "test", b.test_problems, b.pool_size, s)
        paths[w] = {"generator": gen, "backbone": base, "train": train_path, "test": test_path}
        trained[w] = {"loglik": ctx.stage(f"{w}.loglik", loglik_scores, ref, base, test_path)}
        digest = content_digest(b.verifier.data[w]) if w in b.verifier.data else ""  # edited in place: retrain
        calls += [
            (f"{w}.train_{spec.name}", train_and_score, (ref, base, train_path, test_path, spec, b.verifier, digest))
            for spec in enabled_verifiers(b.verifier.weak_baseline, b.verifier.ablation)
        ]
        overseer_calls += [
            (
                f"{w}.overseer_{name}",
                fit_and_score_overseer,
                (ref, base, train_path, test_path, name, b.verifier, b.train_problems, b.test_problems),
            )
            for name in b.overseers
        ]
    calls.sort(key=lambda c: c[2][4].frozen)  # the cheap frozen-backbone heads pair with each other, not a fine-tune
    for (_, _, args), result in zip(calls, ctx.side_by_side(calls)):
        trained[args[0].name][args[4].name] = result
    for (_, _, args), result in zip(overseer_calls, ctx.side_by_side(overseer_calls)):
        trained[args[0].name][args[4]] = result
    results = {}
    for w in names:
        results[w] = ctx.stage(f"{w}.evaluate", evaluate_world, w, trained[w], paths[w]["test"], b)
        results[w]["paths"] = paths[w]
    ref = generator_world(cfg, refs)
    results[ref.name]["generator"] = ctx.stage(
        f"{ref.name}.evaluate_generator", generator_metrics, ref, gens[ref.name], paths[ref.name]["test"], b, s
    )
    return results


def report(store, r: dict, stages: dict) -> str:
    return best_of_n_section(store, r, stages)


@protocol(
    "best_of_n",
    sections={
        "world": GeneratorWorld,
        "generator": GeneratorConfig,
        "sampling": SamplingConfig,
        "best_of_n": BestOfNConfig,
    },
    results=BestOfNResults,
    summary=summary,
    headline=headline,
    report=report,
)
def run(ctx, cfg) -> dict:
    from .active_learning import run_active_learning

    b = cfg.best_of_n
    results = run_worlds(ctx, cfg)
    metrics = {
        "generator": next(r["generator"] for r in results.values() if "generator" in r),
        "best_of_n": {w: r["best_of_n"] for w, r in results.items()},
        "verifier_auroc": {w: r["auroc"] for w, r in results.items()},
        "verifier_auroc_within": {w: r["auroc_within"] for w, r in results.items()},
        "generator_sample_accuracy": {w: r["sample_accuracy"] for w, r in results.items()},
    }
    if b.active_learning.enabled:
        ref = next(ref for ref in worlds_of(cfg) if ref.name == b.active_learning_world)
        paths = results[ref.name]["paths"]
        metrics["active_learning"] = ctx.stage(
            "active_learning", run_active_learning, ref, paths["backbone"], paths["train"], paths["test"], b
        )
    return metrics
