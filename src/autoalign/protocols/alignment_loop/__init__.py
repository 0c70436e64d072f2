"""The alignment loop: a small human signal plus compute, iterated (the superalignment plan's loop).

Question: with a fixed budget of labels, does refreshing the reward model on samples of the policy
as it is optimized end with a better-aligned policy than spending the same labels up front?

Method, on the run-level world (arithmetic chains by default); the checker plays the human and
every label it gives is counted:
1. Train the generator (the shared ``train_generator`` stage): the initial policy pi_0 and the KL
   reference. Label a calibration set of pi_0's samples (shared by every arm): each arm's
   acceptance threshold accepts at most ``accept_fpr`` of its wrong samples.
2. Arms, side by side, each optimizing a fresh copy of pi_0 with RLOO for ``rounds`` x ``rl.steps``
   steps on the same training prompts:
   * refresh: each round samples the current policy on fresh overseer-split problems, labels
     ``labels_per_round`` of the samples (round 0: a uniform draw; later rounds: ``selection``,
     by default the ones the current reward model rates highest, where a wrong answer it accepts
     hides), refits the reward model from the generator's weights on every label so far, and
     optimizes the policy against it;
   * upfront: ``rounds`` x ``labels_per_round`` labels of pi_0's samples, one fit, then the same
     optimization (equal labels, no refresh);
   * frozen: one round's labels of pi_0's samples, one fit (equal compute, no refresh, fewer labels).
3. After each round, on held-out test problems: gold accuracy (the checker), the share of samples the
   arm's reward model accepts and the checker rejects, and KL(pi || pi_0).

The primary comparison is refresh vs upfront at the end (equal labels, equal RL steps on the same
prompts), paired per problem. Not equal: refresh fits its reward model once a round (``rounds``
fits), the others once, and refresh samples a fresh pool each round; the wall time of each arm is
in its stage record. Wrong-but-accepted is judged by each arm's own reward model (a stricter model
lowers it without a better policy), so it is described, not tested; gold is the common yardstick.
"""

from __future__ import annotations

import numpy as np
import torch

from ...measures import bootstrap_ci
from ...optimization.gold import blind
from ...optimization.measure import measure
from ...optimization.overseer_reward import calibrate, fit_reward
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
from ...seeding import py_rng
from ...worlds.reference import WorldRef
from .config import AlignmentLoopConfig
from .report import headline, summary


def label(world, problems: list, texts: list[str]) -> list[dict]:
    """The human's labels (the checker's verdicts) of ``texts``, as reward-model training rows."""
    rows = []
    for p, t in zip(problems, texts):
        v = world.check(p, t)
        rows.append({"prompt": p.prompt, "text": t, "step_labels": list(v.step_labels), "correct": bool(v.correct)})
    return rows


def pool(
    policy, tokenizer, world, ctx, rnd: int, c: AlignmentLoopConfig, s: SamplingConfig, exclude: set, size: int = 1
):
    """(problems, texts): the policy's samples of fresh overseer-split problems for round ``rnd``,
    none of them a calibration problem (``exclude``: their prompts)."""
    from ...optimization.policy import sample

    n = c.pool_problems * size
    drawn = world.problems(ctx.seed, "overseer", n + len(exclude), tag=("loop-pool", rnd))
    problems = [p for p in drawn if p.prompt not in exclude][:n]
    reps = [p for p in problems for _ in range(c.pool_samples_per_problem)]
    texts, _ = sample(
        policy, tokenizer, [p.prompt for p in reps], s.temperature, s.max_new_tokens, ctx.derive("pool", rnd)
    )
    return reps, texts


def choose(reward, problems: list, texts: list[str], n: int, selection: str, rng) -> list[int]:
    """Indices of the ``n`` samples to label: uniform, or the reward model's highest-rated."""
    if selection == "uniform" or reward is None:
        return rng.sample(range(len(texts)), min(n, len(texts)))
    scores = np.asarray(reward(blind(problems), texts), float)
    return list(np.argsort(-scores, kind="stable")[:n])


def run_arm(
    ctx, world_ref: WorldRef, gen: dict, calibration_path: str, arm: str, c: AlignmentLoopConfig, s: SamplingConfig
) -> dict:
    """Stage: one arm of the loop; its labels and its measurements after each round."""
    world = world_ref.make()
    policy, reference, tokenizer = policy_and_reference(ctx, gen)
    calibration = read_samples(ctx, calibration_path)
    held_out = {r["prompt"] for r in calibration}
    test = world.problems(ctx.seed, "test", c.test_problems)
    rng = py_rng(ctx.seed, "loop-labels", arm)
    rows: list[dict] = []
    reward, threshold, rounds = None, None, []
    for rnd in range(c.rounds):
        refit = arm == "refresh" or rnd == 0
        if refit:
            if arm == "upfront":
                problems, texts = pool(policy, tokenizer, world, ctx, rnd, c, s, held_out, size=c.rounds)
                n = c.rounds * c.labels_per_round
            else:
                problems, texts = pool(policy, tokenizer, world, ctx, rnd, c, s, held_out)
                n = c.labels_per_round
            picked = choose(reward if rnd else None, problems, texts, n, c.selection, rng)
            rows += label(world, [problems[i] for i in picked], [texts[i] for i in picked])
            backbone = load_generator(ctx, gen)
            reward = fit_reward(c.reward, world, backbone, rows, ctx.derive("reward", arm, rnd), c.overseer.training())
            threshold = calibrate(reward, calibration, c.accept_fpr)
        log(f"{arm}: round {rnd + 1}, optimizing against a reward fit on {len(rows)} labels")
        torch.manual_seed(ctx.derive("loop", arm, rnd))
        cfg = c.rl.config(s.temperature, s.max_new_tokens)
        prompts = lambda step, rnd=rnd: blind(  # noqa: E731
            world.problems(ctx.seed, "train", c.rl.prompts_per_step, tag=("loop", rnd, step), distinct=False)
        )
        steps = rloo(policy, reference, tokenizer, prompts, reward, cfg, ctx.derive("loop-rl", rnd))["steps"]
        m = measure(
            policy,
            reference,
            tokenizer,
            world,
            test,
            reward,
            c.test_samples_per_problem,
            s.temperature,
            s.max_new_tokens,
            ctx.derive("measure"),
            accept=threshold,
        )
        rounds.append(
            {
                "round": rnd + 1,
                "labels": len(rows),
                "rl_steps": (rnd + 1) * c.rl.steps,
                "last_reward": steps[-1]["reward"],
                **m,
            }
        )
    return {"rounds": rounds, "labels": len(rows), "wrong_labelled": sum(not r["correct"] for r in rows)}


def initial(ctx, world_ref: WorldRef, gen: dict, c: AlignmentLoopConfig, s: SamplingConfig) -> dict:
    """Stage: pi_0 on the test problems (the loop's starting point), measured as every round is."""
    world = world_ref.make()
    policy, tokenizer = load_generator(ctx, gen, "the policy")
    test = world.problems(ctx.seed, "test", c.test_problems)
    zero = lambda problems, texts: np.zeros(len(texts))  # noqa: E731  (no reward model yet)
    return measure(
        policy,
        policy,
        tokenizer,
        world,
        test,
        zero,
        c.test_samples_per_problem,
        s.temperature,
        s.max_new_tokens,
        ctx.derive("measure"),
    )


def evaluate(ctx, start: dict, arms: dict, c: AlignmentLoopConfig) -> dict:
    out: dict = {"initial_gold": start["gold"], "arms": {}}
    for arm, r in arms.items():
        last = r["rounds"][-1]
        out["arms"][arm] = {
            "labels": r["labels"],
            "wrong_labelled": r["wrong_labelled"],
            "rounds": [{k: v for k, v in x.items() if k != "gold_by_problem"} for x in r["rounds"]],
            "final_gold": last["gold"],
            "final_wrong_accepted": last["wrong_accepted"],
            "gain": bootstrap_ci(np.array(last["gold_by_problem"]) - np.array(start["gold_by_problem"]), **ctx.boot),
        }
    for a, b in (("refresh", "upfront"), ("refresh", "frozen"), ("upfront", "frozen")):
        if a in arms and b in arms:
            ga = np.array(arms[a]["rounds"][-1]["gold_by_problem"])
            gb = np.array(arms[b]["rounds"][-1]["gold_by_problem"])
            out[f"{a}_vs_{b}"] = {
                "gold": bootstrap_ci(ga - gb, **ctx.boot),
                "wrong_accepted": arms[a]["rounds"][-1]["wrong_accepted"] - arms[b]["rounds"][-1]["wrong_accepted"],
            }
    out["calibration_labels"] = c.calibration_problems * c.calibration_samples_per_problem
    return out


@protocol(
    "alignment_loop",
    sections={
        "world": GeneratorWorld,
        "generator": GeneratorConfig,
        "sampling": SamplingConfig,
        "alignment_loop": AlignmentLoopConfig,
    },
    summary=summary,
    headline=headline,
)
def run(ctx, cfg) -> dict:
    c, s = cfg.alignment_loop, cfg.sampling
    gen = ctx.stage("train_generator", train_generator, cfg.world, cfg.generator, validation_sampling(s))
    calibration = ctx.stage(
        "alignment_loop.calibration",
        sample_and_check,
        cfg.world,
        gen,
        "overseer",
        c.calibration_problems,
        c.calibration_samples_per_problem,
        s,
    )
    start = ctx.stage("alignment_loop.initial", initial, cfg.world, gen, c, s)
    calls = [(f"alignment_loop.{arm}", run_arm, (cfg.world, gen, calibration, arm, c, s)) for arm in c.arms]
    arms = dict(zip(c.arms, ctx.side_by_side(calls)))
    return ctx.stage("alignment_loop.evaluate", evaluate, start, arms, c)
