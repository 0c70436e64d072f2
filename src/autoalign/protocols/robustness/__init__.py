"""Robustness per overseer: what a search gets an overseer to accept that the checker rejects, and
how often a change that should not matter flips its verdict.

Question: for each overseer (PRM, ORM, critic, the facts judge, a plugin's), how often does a cheap
black-box adversary find a wrong solution it accepts, within a given number of queries, and how
brittle is its verdict under spacing, equivalent rewrites and distractor text?

Method, per seed (``autoalign.interpretability.robustness`` holds the search; this file composes it):
1. Train the generator on gold solutions (the shared ``train_generator`` stage), and from it the
   overseers' backbone in the critic's language (``pipeline/critic.py``): every overseer starts from
   the same weights. Sample the generator on overseer-split problems; the checker labels each sample;
   every overseer in ``robustness.overseers`` is built from the backbone and fit on them (the critic
   has nothing to fit). Overseers see blind problems (the prompt) and a sealed world (step spans).
2. Threshold: each accepts at or above the score that accepts ``accept_share`` (90%) of the gold
   solutions of val-split problems, the calibration split, disjoint from fitting and test problems.
3. Attack (test-split problems): the generator's samples first, then rounds of edits of the gold
   solution and hill climbing on the rejected texts the overseer scored highest. Only texts the checker
   rejects are queried; success is an accepted one, read at each query budget (``attack.budgets``).
4. Flips: the gold solution and the generator's first sample of each test problem under the
   perturbations that keep the checker's whole verdict; the share of them that change the accept decision.
5. Beside every overseer, on the same problems, texts and budgets: the floors (``accept_all``, and
   ``random``: a uniform score fixed per text) and the ceiling (``checker``: the checker as overseer,
   whose attack success must be 0; asserted here and declared a guarantee in the config).
6. The facts arm (``interpretability/argued_facts.py``): the facts judge is fit on random argued
   answers of overseer-split questions, calibrated on gold arguments (the true walk quoted) of val
   questions, attacked on test questions (random consultants' arguments, then quote edits and hill
   climbing), perturbed on gold and random arguments; floors and ceiling as above.
7. Differences between overseers, paired per problem (attack) and per text (flips).
CIs: bootstrap over problems within a seed; a fan-out over seeds pools them (seeds, then problems).
"""

from __future__ import annotations

import random

from ...interpretability.argued_facts import ArguedEdits, ArguedFacts, gold_argument, random_argument
from ...interpretability.edits import TextEdits
from ...interpretability.robustness import accept_all, checker_scores, random_scores
from ...optimization.gold import BlindProblem, SealedWorld
from ...overseers.base import OverseerContext, build_overseer
from ...pipeline.critic import train_critic
from ...pipeline.generator import (
    GeneratorConfig,
    SamplingConfig,
    load_generator,
    read_samples,
    sample_and_check,
    train_generator,
    validation_sampling,
)
from ...protocol import protocol
from ...runtime.progress import log
from .config import ARGUMENTS, CONTROLS, RobustnessConfig, RobustnessWorld
from .measure import paired_differences, public, robustness_of
from .report import headline, robustness_section, summary


def controls(world, seed: int) -> dict:
    return {"accept_all": accept_all, "random": random_scores(seed), "checker": checker_scores(world)}


def by_problem(rows: list[dict], n: int) -> list[list[str]]:
    out: list[list[str]] = [[] for _ in range(n)]
    for row in rows:
        out[row["problem"]].append(row["text"])
    return out


def solution_setting(ctx, world_ref, test_path: str, r: RobustnessConfig):
    """(world, edits, test problems, calibration, flip texts, samples per problem) of the run-level world."""
    world = world_ref.make()
    test = world.problems(ctx.seed, "test", r.test_problems)
    cal = world.problems(ctx.seed, "val", r.calibration_problems)
    samples = by_problem(read_samples(ctx, test_path), len(test))
    flips = (test + test, [p.solution for p in test] + [s[0] for s in samples])
    return world, TextEdits(world), test, (cal, [p.solution for p in cal]), flips, samples


def overseer_stage(ctx, world_ref, backbone: dict, fit_path: str, test_path: str, name: str, r: RobustnessConfig):
    """Stage: overseer ``name`` fit on the generator's labelled samples, then measured."""
    world, edits, test, cal, flips, samples = solution_setting(ctx, world_ref, test_path, r)
    rows = read_samples(ctx, fit_path)
    overseer = build_overseer(
        name,
        OverseerContext(
            world=SealedWorld(world),
            seed=ctx.derive("overseer", name),
            backbone=load_generator(ctx, backbone, f"the {name} overseer's backbone"),
            description=f"training {name}",
            **r.training.training(),
        ),
        where="robustness.overseers",
    )
    problems = world.problems(ctx.seed, "overseer", r.overseer_problems)
    fit_problems = [problems[row["problem"]] for row in rows]
    texts = [row["text"] for row in rows]
    overseer.fit(
        [BlindProblem(p.prompt) for p in fit_problems], texts, [world.check(p, t) for p, t in zip(fit_problems, texts)]
    )

    def score(ps, ts):
        return overseer.score([BlindProblem(p.prompt) for p in ps], ts)

    log(f"robustness: attacking {name}")
    return robustness_of(ctx, score, world, edits, test, cal, flips, samples, r, r.attack.rejects)


def controls_stage(ctx, world_ref, test_path: str, r: RobustnessConfig) -> dict:
    """Stage: the floors and the ceiling on the run-level world."""
    world, edits, test, cal, flips, samples = solution_setting(ctx, world_ref, test_path, r)
    return {
        name: robustness_of(ctx, score, world, edits, test, cal, flips, samples, r, r.attack.rejects)
        for name, score in controls(world, ctx.derive("random-overseer")).items()
    }


def facts_stage(ctx, r: RobustnessConfig) -> dict:
    """Stage: every judge of argued answers, fit on random arguments, and the controls, on the facts world."""
    f = r.facts
    world = ArguedFacts(f.world.make())
    rng = random.Random(ctx.derive("facts", "arguments"))

    def argue(questions):
        return [random_argument(q, rng, f.most_quotes, f.fabricate) for q in questions]

    train = world.problems(ctx.seed, "overseer", f.train_questions)
    cal = world.problems(ctx.seed, "val", f.calibration_questions)
    test = world.problems(ctx.seed, "test", f.test_questions)
    train_texts = argue(train)
    samples = [argue([q] * max(1, r.attack.samples)) for q in test]
    flips = (test + test, [gold_argument(q) for q in test] + argue(test))
    calibration = (cal, [gold_argument(q) for q in cal])
    scores = controls(world, ctx.derive("random-overseer"))
    for name in f.judges:
        judge = build_overseer(name, OverseerContext(world=world, seed=ctx.derive("overseer", name)), ARGUMENTS)
        judge.fit(train, train_texts, [world.check(q, t) for q, t in zip(train, train_texts)])
        scores[name] = judge.score
    return {
        name: robustness_of(ctx, score, world, ArguedEdits(), test, calibration, flips, samples, r)
        for name, score in scores.items()
    }


def assemble(ctx, measured: dict[str, dict], names: list[str]) -> dict:
    """One world's block: each overseer and control, and the paired differences between overseers."""
    ceiling = measured["checker"]["attack"]["success"]["mean"]
    if ceiling != 0:
        raise RuntimeError(f"the search fooled the checker itself ({ceiling:.1%} of problems): a bug in the search")
    out = {name: public(measured[name]) for name in names + list(CONTROLS)}
    out["differences"] = paired_differences(ctx, measured, names + ["random"])
    return out


@protocol(
    "robustness",
    sections={
        "world": RobustnessWorld,
        "generator": GeneratorConfig,
        "sampling": SamplingConfig,
        "robustness": RobustnessConfig,
    },
    summary=summary,
    headline=headline,
    report=robustness_section,
)
def run(ctx, cfg) -> dict:
    r, s = cfg.robustness, cfg.sampling
    gen = ctx.stage("train_generator", train_generator, cfg.world, cfg.generator, validation_sampling(s))
    backbone = ctx.stage("robustness.critic_backbone", train_critic, cfg.world, gen, r.critic)
    fit_path = ctx.stage(
        "robustness.sample_overseer",
        sample_and_check,
        cfg.world,
        gen,
        "overseer",
        r.overseer_problems,
        r.samples_per_problem,
        s,
    )
    test_path = ctx.stage(
        "robustness.sample_test", sample_and_check, cfg.world, gen, "test", r.test_problems, max(1, r.attack.samples), s
    )
    measured = {
        name: ctx.stage(f"robustness.{name}", overseer_stage, cfg.world, backbone, fit_path, test_path, name, r)
        for name in r.overseers
    }
    measured.update(ctx.stage("robustness.controls", controls_stage, cfg.world, test_path, r))
    out = {cfg.world.name: assemble(ctx, measured, list(r.overseers))}
    if r.facts.judges:
        out["facts"] = assemble(ctx, ctx.stage("robustness.facts", facts_stage, r), list(r.facts.judges))
    return out
