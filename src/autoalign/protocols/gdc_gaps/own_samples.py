"""G, D and C on common items: the model's own samples, in one unit.

Why: comparing G (exact match on a greedy solution, chance near 0) with D and C (balanced planted
flaws, chance 50%) mixes units and items, and "discrimination is harder than generation" can then
be an artifact of the design. Saunders et al. measure the abilities on the model's own samples;
so does this module.

For every test problem the model samples K solutions (temperature 1). The checker labels each one
sound (right answer, every step right) or flawed (with its first wrong step). On exactly these
items every evaluator scores every sample, and within a problem picks the sample it rates most
sound (ties broken at random, counted exactly as the mean over the tied samples):

* G: a random pick, i.e. the share of sound samples (and, beside it, the greedy solution);
* D: the discriminator's margin, log P("sound") - log P("flawed");
* C: the model's greedy critique says "no flaw" (1) or names a step (0); it ties on most problems,
  so beside it C's likelihood, log P("no flaw") - log P("step ..."), ranks every sample;
* compare (reference): the sample's answer equals the model's own greedy answer, i.e. a
  discriminator that regenerates the solution and compares (the outside review of issue #11
  argued that such a discriminator would beat the trained D; here it is measured);
* surprise (reference): the mean per-token log-probability of the sample under the generation
  prompt (no discrimination training at all);
* oracle: the checker (pass@K, the ceiling).

Selection accuracy (the picked sample's soundness) is in G's units, so "evaluation is easier than
generation" reads as D-pick - G > 0 and "the critique says less than the discriminator knows" as
D-pick - C-pick > 0, both paired over the same problems. The within-problem AUROC of each score
(problems holding both sound and flawed samples) measures ranking alone; balanced accuracies of D,
C and compare on the same items are given too, and everything again by number of steps.
"""

from __future__ import annotations

import numpy as np

from ...measures import bootstrap_ci, within_group_auroc
from ...models.sampling import sample_solutions
from ...models.scoring import completion_logprobs
from ...overseers.critic import (
    FLAWED,
    NO_FLAW,
    SOUND,
    critique_prompt,
    discrimination_prompt,
    parse_critique,
)
from .critiques import grade

EVALUATORS = ("discriminator", "critique", "critique_likelihood", "compare", "surprise")


def selection_accuracy(sound: np.ndarray, score: np.ndarray) -> float:
    """Soundness of the sample with the highest score, ties counted as a random pick among them."""
    top = score >= score.max() - 1e-12
    return float(sound[top].mean())


def label_samples(world, problems, texts: list[str], k: int) -> list[dict]:
    """One record per sample: its problem, soundness and the step a right critique would name."""
    rows = []
    for i, t in enumerate(texts):
        p = problems[i // k]
        v = world.check(p, t)
        sound = bool(v.correct and v.first_error is None and v.well_formed)
        flawed_step = None if sound else (v.first_error if v.first_error is not None else len(v.step_labels))
        rows.append(
            {
                "problem": i // k,
                "text": t,
                "sound": sound,
                "flawed_step": flawed_step,
                "answer": v.answer,
                "n_steps": p.n_steps,
            }
        )
    return rows


def evaluator_scores(model, tokenizer, problems, rows: list[dict], greedy_answers: list) -> dict[str, np.ndarray]:
    """Every evaluator's score per sample (higher: rated more sound), and the critiques."""
    prompts = [problems[r["problem"]].prompt for r in rows]
    texts = [r["text"] for r in rows]
    d_prompts = [discrimination_prompt(p, t) for p, t in zip(prompts, texts)]
    sound = np.asarray(completion_logprobs(model, tokenizer, d_prompts, [SOUND] * len(rows)))
    flawed = np.asarray(completion_logprobs(model, tokenizer, d_prompts, [FLAWED] * len(rows)))
    c_prompts = [critique_prompt(p, t) for p, t in zip(prompts, texts)]
    critiques = sample_solutions(
        model, tokenizer, c_prompts, temperature=0.0, max_new_tokens=32, description="critiquing own samples"
    )
    no_flaw = np.asarray(completion_logprobs(model, tokenizer, c_prompts, [NO_FLAW] * len(rows)))
    flags = np.asarray(completion_logprobs(model, tokenizer, c_prompts, ["step "] * len(rows), with_eos=False))
    loglik = np.asarray(completion_logprobs(model, tokenizer, prompts, texts))
    lengths = np.array([len(tokenizer(t, add_special_tokens=False)["input_ids"]) + 1 for t in texts])  # + EOS
    return {
        "discriminator": sound - flawed,
        "critique": np.array([float(parse_critique(c).says_no_flaw) for c in critiques]),
        "critique_likelihood": no_flaw - flags,
        "compare": np.array(
            [float(r["answer"] is not None and r["answer"] == greedy_answers[r["problem"]]) for r in rows]
        ),
        "surprise": loglik / lengths,
        "_critiques": critiques,
    }


def own_sample_metrics(
    rows: list[dict], scores: dict, critiques: list[str], world, problems, greedy_correct, boot: dict
) -> dict:
    """Selection accuracy, gaps, within-problem AUROC and balanced accuracies on the same samples."""
    n = len(problems)
    sound = np.array([r["sound"] for r in rows], float)
    pid = np.array([r["problem"] for r in rows])
    by_problem = [np.flatnonzero(pid == i) for i in range(n)]
    g = np.array([sound[ix].mean() for ix in by_problem])
    picks = {e: np.array([selection_accuracy(sound[ix], scores[e][ix]) for ix in by_problem]) for e in EVALUATORS}
    picks["oracle"] = np.array([sound[ix].max() for ix in by_problem])
    est = {"generator_samples": bootstrap_ci(g, **boot), "generator_greedy": bootstrap_ci(greedy_correct, **boot)}
    est["selection"] = {e: bootstrap_ci(v, **boot) for e, v in picks.items()}
    est["gd_selection"] = bootstrap_ci(picks["discriminator"] - g, **boot)
    est["gc_selection"] = bootstrap_ci(picks["critique"] - g, **boot)
    est["dc_selection"] = bootstrap_ci(picks["discriminator"] - picks["critique"], **boot)
    # verdict against verdict: D's margin ranks within C's ties, which favours D even when D knows no
    # more than C says, so D is also reduced to its verdict (sound or not), ties a random pick as for C
    d_verdict = np.array(
        [selection_accuracy(sound[ix], (scores["discriminator"][ix] > 0).astype(float)) for ix in by_problem]
    )
    est["selection_discriminator_verdict"] = bootstrap_ci(d_verdict, **boot)
    est["dc_selection_verdicts"] = bootstrap_ci(d_verdict - picks["critique"], **boot)
    est["dc_selection_likelihood"] = bootstrap_ci(picks["discriminator"] - picks["critique_likelihood"], **boot)
    est["d_minus_compare"] = bootstrap_ci(picks["discriminator"] - picks["compare"], **boot)
    est["d_minus_surprise"] = bootstrap_ci(picks["discriminator"] - picks["surprise"], **boot)
    within = {e: within_group_auroc(pid, sound.astype(bool), scores[e]) for e in EVALUATORS}
    mixed = sorted(within["discriminator"])
    est["within_auroc"] = {e: bootstrap_ci([w[i] for i in mixed], **boot) if mixed else None for e, w in within.items()}
    est["dc_within_auroc"] = (
        bootstrap_ci([within["discriminator"][i] - within["critique"][i] for i in mixed], **boot) if mixed else None
    )
    est["problems_with_both"] = len(mixed)
    # per problem, for paired comparisons between two models on the same problems (``control.py``);
    # the run takes it out of the metrics
    est["per_problem"] = {
        "discriminator_verdict": d_verdict.tolist(),
        "critique": picks["critique"].tolist(),
        "within_auroc_discriminator": {str(i): within["discriminator"][i] for i in mixed},
    }
    # balanced accuracies on the same items: mean of the rates on sound and on flawed samples
    # a right critique of an own sample names its first wrong step with the world's correction of it
    # (``World.correction``: for countdown, the true result of a step whose arithmetic is wrong)
    grades = [grade(world, problems[r["problem"]], r["text"], r["flawed_step"], c) for r, c in zip(rows, critiques)]
    verdicts = {
        "discriminator": scores["discriminator"] > 0,
        "compare": scores["compare"] > 0.5,
        "critique": np.array([gr.right for gr in grades]),
    }
    flawed = sound == 0
    balanced = {}
    for e, right_if_sound in verdicts.items():
        right = right_if_sound if e == "critique" else np.where(flawed, ~right_if_sound, right_if_sound)
        if flawed.any() and (~flawed).any():
            balanced[e] = float(0.5 * right[flawed].mean() + 0.5 * right[~flawed].mean())
    est["balanced_accuracy"] = balanced
    missed = flawed & ~np.array([gr.caught for gr in grades])
    est["d_on_missed_flaws"] = (
        bootstrap_ci((scores["discriminator"][missed] < 0).astype(float), **boot) if missed.any() else None
    )
    est["share_sound"] = float(sound.mean())
    steps = np.array([problems[i].n_steps for i in range(n)])
    est["by_steps"] = {
        str(s): {
            "problems": int((steps == s).sum()),
            "generator_samples": float(g[steps == s].mean()),
            **{e: float(picks[e][steps == s].mean()) for e in (*EVALUATORS, "oracle")},
            "within_auroc_discriminator": (
                float(np.mean([within["discriminator"][i] for i in mixed if steps[i] == s]))
                if any(steps[i] == s for i in mixed)
                else None
            ),
        }
        for s in sorted(set(steps.tolist()))
    }
    return est


def evaluate_own_samples(
    model,
    tokenizer,
    world,
    problems,
    greedy_texts: list[str],
    k: int,
    seed: int,
    boot: dict,
    rows: list[dict] | None = None,
) -> tuple[dict, list[dict]]:
    """Sample K solutions per problem, score them with every evaluator and measure on them; with
    ``rows`` (another model's labelled samples, as written to the records), score those instead,
    so that two models' evaluators are compared on the same items."""
    if rows is None:
        prompts = [p.prompt for p in problems for _ in range(k)]
        texts = sample_solutions(
            model,
            tokenizer,
            prompts,
            temperature=1.0,
            max_new_tokens=64,
            seed=seed,
            description="sampling own solutions",
        )
        rows = label_samples(world, problems, texts, k)
    else:
        keys = ("problem", "text", "sound", "flawed_step", "answer", "n_steps")
        rows = [{key: r[key] for key in keys} for r in rows]
    greedy = [world.check(p, t) for p, t in zip(problems, greedy_texts)]
    scores = evaluator_scores(model, tokenizer, problems, rows, [v.answer for v in greedy])
    critiques = scores.pop("_critiques")
    metrics = own_sample_metrics(
        rows, scores, critiques, world, problems, np.array([v.correct for v in greedy], float), boot
    )
    metrics["samples_per_problem"] = k
    records = [
        {
            **r,
            "prompt": problems[r["problem"]].prompt,
            **{e: float(scores[e][i]) for e in EVALUATORS},
            "critique_text": c,
        }
        for i, (r, c) in enumerate(zip(rows, critiques))
    ]
    return metrics, records
