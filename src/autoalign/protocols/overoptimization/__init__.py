"""Reward over-optimization at laptop scale (Gao, Schulman and Hilton 2023), with process and
outcome reward models and a label-free majority vote as the proxies.

Question: when a policy is optimized against an overseer, does the gold reward (the world's
checker) rise with the proxy, and where does it stop rising?

Method, on the run-level world (arithmetic chains by default):
1. Train the generator on gold solutions (the shared ``train_generator`` stage): the initial policy
   pi_0, also the reference the KL is measured from.
2. Sample the initial policy on overseer-split problems; the checker labels every step (the labels a
   human would give; their number is reported). Each reward model named in
   ``overoptimization.rewards`` (a PRM, an ORM, any registered overseer) is fit on them, starting from
   the generator's weights; ``majority`` needs no labels (self-consistency among a prompt's samples).
3. For each reward and each optimizer (``optimization/``: RLOO with a KL penalty, and expert
   iteration), optimize a fresh copy of pi_0 against the reward on training-split prompts, with the
   checker and every gold answer sealed away from the reward (``optimization/gold.py``).
4. At step 0 and at every checkpoint, measure the policy on held-out test problems (the same problems
   and sampling seed at every checkpoint): gold accuracy, the proxy reward, the share of samples
   the reward accepts and the checker rejects, and KL(pi || pi_0) (``optimization/measure.py``).
5. Per curve: the gold gain from pi_0 to the last checkpoint (paired per problem, CI over problems);
   the drop from the peak, cross-fitted (the peak checkpoint chosen on half the test problems and
   its drop to the last checkpoint measured on the other half, both ways), so that noise alone does
   not make every curve look over-optimized; and Gao et al.'s functional forms fitted to gain
   against d = sqrt(KL) (``optimization/fit.py``).

Splits: the generator trains on ``train`` problems, reward models on ``overseer`` problems, the
optimizers on fresh ``train`` prompts, and every measurement is on ``test`` problems.
"""

from __future__ import annotations

import numpy as np
import torch

from ...measures import bootstrap_ci
from ...optimization.expert_iteration import expert_iteration
from ...optimization.fit import fit_form
from ...optimization.gold import blind
from ...optimization.measure import measure
from ...optimization.overseer_reward import CONTROLS, MAJORITY, ORACLE, calibrate, fit_reward
from ...optimization.rloo import rloo
from ...pipeline.generator import (
    GeneratorConfig,
    GeneratorWorld,
    SamplingConfig,
    load_generator,
    policy_and_reference,
    read_samples,
    sample_and_check,
    train_generator,
    validation_sampling,
)
from ...protocol import protocol
from ...runtime.progress import log
from ...worlds.reference import WorldRef
from .config import OverOptimizationConfig
from .report import headline, overoptimization_section, summary


def first_per_problem(rows: list[dict], k: int) -> list[dict]:
    """The first ``k`` samples of each problem."""
    counts: dict = {}
    kept = []
    for r in rows:
        counts[r["problem"]] = counts.get(r["problem"], 0) + 1
        if counts[r["problem"]] <= k:
            kept.append(r)
    return kept


def build_reward(ctx, name: str, world, gen: dict, train_path: str, o: OverOptimizationConfig):
    """(reward, its acceptance threshold, labels used): ``majority``, or the registered overseer
    ``name`` fit on the initial policy's checker-labelled samples of most overseer-split problems;
    the threshold is calibrated on the other problems' samples (``overseer.calibration_share``)."""
    t = o.overseer
    rows = read_samples(ctx, train_path)
    every = round(1 / t.calibration_share)
    fit_rows = [r for r in rows if r["problem"] % every]
    calibration = [r for r in rows if not r["problem"] % every]
    if name == MAJORITY:  # agreement among k samples takes steps of 1/(k-1): calibrate with the tests' k
        calibration = first_per_problem(calibration, o.test_samples_per_problem)
    training = t.training()
    backbone = None if name in (MAJORITY, ORACLE) else load_generator(ctx, gen)
    reward = fit_reward(
        name, world, backbone, fit_rows, ctx.derive("overseer", name), training, "overoptimization.rewards"
    )
    labels = None if name == ORACLE else 0 if name in CONTROLS else len(rows)  # None: the checker on every sample
    return reward, calibrate(reward, calibration, o.accept_fpr), labels


def optimize_reward(
    ctx, world_ref: WorldRef, gen: dict, train_path: str, name: str, o: OverOptimizationConfig, s: SamplingConfig
) -> dict:
    """Stage: one reward, every optimizer, each from a fresh copy of pi_0; the measured checkpoints."""
    world = world_ref.make()
    reward, threshold, labels = build_reward(ctx, name, world, gen, train_path, o)
    test = world.problems(ctx.seed, "test", o.test_problems)
    out: dict = {"labels": labels, "accept_threshold": threshold}
    for method in o.methods:
        policy, reference, tokenizer = policy_and_reference(ctx, gen)

        def checkpoint(policy=policy, reference=reference, tokenizer=tokenizer) -> dict:
            return measure(
                policy,
                reference,
                tokenizer,
                world,
                test,
                reward,
                o.test_samples_per_problem,
                s.temperature,
                s.max_new_tokens,
                ctx.derive("measure"),
                accept=threshold,
            )

        def prompts_at(step: int, n: int, method=method) -> list:
            return blind(world.problems(ctx.seed, "train", n, tag=("optimize", method, step), distinct=False))

        torch.manual_seed(ctx.derive("optimize", name, method))
        log(f"optimizing against {name} with {method}")
        if method == "rloo":
            r = o.rl
            cfg = r.config(s.temperature, s.max_new_tokens)
            result = rloo(
                policy,
                reference,
                tokenizer,
                lambda k: prompts_at(k, r.prompts_per_step),
                reward,
                cfg,
                ctx.derive("rloo", name),
                checkpoint,
            )
        else:
            e = o.expert_iteration
            cfg = e.config(s.temperature, s.max_new_tokens)
            result = expert_iteration(
                policy,
                tokenizer,
                lambda k: prompts_at(k, e.prompts_per_round),
                reward,
                cfg,
                ctx.derive("ei", name),
                checkpoint,
            )
        out[method] = result
    return out


def cross_fitted_drop(gold: np.ndarray) -> tuple[list[float], list[int]]:
    """Per problem: gold at the peak checkpoint minus gold at the last, the peak chosen on the other
    half of the problems (even/odd), so selection noise does not inflate the drop; and the two peaks."""
    halves = [np.arange(0, gold.shape[1], 2), np.arange(1, gold.shape[1], 2)]
    values, peaks = [], []
    for choose, judge in (halves, halves[::-1]):
        peak = int(gold[:, choose].mean(1).argmax())
        peaks.append(peak)
        values += list(gold[peak, judge] - gold[-1, judge])
    return values, peaks


def curve_summary(ctx, result: dict, method: str) -> dict:
    cps = result["checkpoints"]
    gold = np.array([c["gold_by_problem"] for c in cps])
    drop, peaks = cross_fitted_drop(gold)
    d = [c["sqrt_kl"] for c in cps]
    gain = [c["gold"] - cps[0]["gold"] for c in cps]
    at = "step" if method == "rloo" else "round"
    return {
        "curve": [{k: v for k, v in c.items() if k != "gold_by_problem"} for c in cps],
        "initial_gold": cps[0]["gold"],
        "final_gold": cps[-1]["gold"],
        "peak_gold": float(gold.mean(1).max()),
        "peak_at": cps[int(gold.mean(1).argmax())][at],
        "gain": bootstrap_ci(gold[-1] - gold[0], **ctx.boot),
        "drop_from_peak": bootstrap_ci(drop, **ctx.boot),
        "peak_checkpoints_cross_fitted": [cps[p][at] for p in peaks],
        "proxy_gain": cps[-1]["proxy"] - cps[0]["proxy"],
        "wrong_accepted_change": cps[-1]["wrong_accepted"] - cps[0]["wrong_accepted"],
        "final_sqrt_kl": cps[-1]["sqrt_kl"],
        "fits": {form: fit_form(d, gain, form) for form in ("bon", "rl")},
    }


def evaluate(ctx, optimized: dict, o: OverOptimizationConfig) -> dict:
    out: dict = {}
    for name, by_method in optimized.items():
        out[name] = {"labels": by_method["labels"], "accept_threshold": by_method["accept_threshold"]}
        for method in o.methods:
            out[name][method] = curve_summary(ctx, by_method[method], method)
    return out


@protocol(
    "overoptimization",
    sections={
        "world": GeneratorWorld,
        "generator": GeneratorConfig,
        "sampling": SamplingConfig,
        "overoptimization": OverOptimizationConfig,
    },
    summary=summary,
    headline=headline,
    report=overoptimization_section,
)
def run(ctx, cfg) -> dict:
    o, s = cfg.overoptimization, cfg.sampling
    gen = ctx.stage("train_generator", train_generator, cfg.world, cfg.generator, validation_sampling(s))
    train_path = ctx.stage(
        "overoptimization.sample_overseer",
        sample_and_check,
        cfg.world,
        gen,
        "overseer",
        o.overseer.problems,
        o.overseer.samples_per_problem,
        s,
    )
    calls = [
        (f"overoptimization.{name}", optimize_reward, (cfg.world, gen, train_path, name, o, s)) for name in o.rewards
    ]
    optimized = dict(zip(o.rewards, ctx.side_by_side(calls)))
    return ctx.stage("overoptimization.evaluate", evaluate, optimized, o)
