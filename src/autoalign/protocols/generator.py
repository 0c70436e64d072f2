"""The generator experiment: train a policy on a world's gold solutions, then measure it.

Method. Train a tiny causal LM from scratch on fresh problems of the world's training split,
stopping early once its greedy validation accuracy reaches the target; sample K solutions per
held-out test problem at temperature T; label every sample with the world's checker; report accuracy
overall and by number of steps, each with a 95% bootstrap CI over problems. The world is the
run-level ``world:`` section (``{name: arithmetic, max_steps: 5}``, or any registered world with
text solutions). Other protocols get a generator from ``autoalign.pipeline.generator``; with the
same settings they share this one.
"""

from __future__ import annotations

from ..pipeline.generator import (
    GeneratorConfig,
    GeneratorResults,
    GeneratorWorld,
    SamplingConfig,
    evaluate_samples,
    generator_model,
    greedy_accuracy,
    read_samples,
    sample_and_check,
    train_generator,
    validation_sampling,
)
from ..protocol import protocol
from ..worlds.reference import WorldRef


def evaluate(ctx, world_ref: WorldRef, trained: dict, path: str, sampling: SamplingConfig) -> dict:
    world = world_ref.make()
    problems = world.problems(ctx.seed, "test", sampling.test_problems)
    greedy = greedy_accuracy(generator_model(ctx, trained), problems, world, sampling)
    metrics = evaluate_samples(read_samples(ctx, path), greedy, sampling.temperature, ctx.boot)
    metrics["params"] = trained["params"]
    if trained["trained"]:
        metrics["train_steps"] = trained["steps"]
    return metrics


def summary(r: dict) -> list[str]:
    a = r["accuracy"]
    lines = [
        f"generator accuracy: {a['mean']:.1%} [95% CI {a['ci_low']:.1%}, {a['ci_high']:.1%}] "
        f"({r['test_problems']} problems x {r['samples_per_problem']} samples)"
    ]
    for n, e in sorted(r["accuracy_by_steps"].items(), key=lambda kv: int(kv[0])):
        lines.append(f"  {n} steps: {e['mean']:.1%} [{e['ci_low']:.1%}, {e['ci_high']:.1%}]")
    return lines


def headline(r: dict) -> str:
    return f"generator {r['accuracy']['mean']:.1%}"


def report(store, r: dict, stages: dict) -> str:
    from ..report.sections import generator_section

    history = stages.get("train_generator", {}).get("result", {}).get("history")
    return generator_section(store, r, history)


@protocol(
    "generator",
    sections={"world": GeneratorWorld, "generator": GeneratorConfig, "sampling": SamplingConfig},
    results=GeneratorResults,
    summary=summary,
    headline=headline,
    report=report,
)
def run(ctx, cfg) -> dict:
    trained = ctx.stage("train_generator", train_generator, cfg.world, cfg.generator, validation_sampling(cfg.sampling))
    s = cfg.sampling
    path = ctx.stage(
        "sample_test", sample_and_check, cfg.world, trained, "test", s.test_problems, s.samples_per_problem, s
    )
    return ctx.stage("evaluate", evaluate, cfg.world, trained, path, s)
