"""One checkpoint of a policy under optimization, measured on held-out problems.

``measure`` samples K completions of every test problem from the policy (temperature T, a seed
fixed per checkpoint so checkpoints differ only by the policy), and reports:

* gold accuracy: the share the world's checker marks correct (the real, unsealed checker: this
  function runs outside the optimizer, on test problems no optimizer step ever sampled);
* proxy: the mean reward the policy was optimized against, on the same samples;
* wrong-but-accepted: the share of samples that the reward accepts (reward >= ``accept``; None
  accepts nothing) and the checker rejects: the over-optimization the reward cannot see; beside it
  the acceptance rate, P(accept | wrong) (the reward's false-positive rate on this policy: a share
  of all samples also rises when a policy is merely accepted more often) and P(wrong | accept);
* the form of the samples: mean steps and characters, and the share cut at ``max_new_tokens``
  (a reward that pays for short or long solutions shows here first);
* KL(pi || pi_0): the mean over samples of log pi(y) - log pi_0(y) (unbiased for the sequence-level
  KL), with its standard error, and d = sqrt(KL), Gao et al.'s x-axis;
* per-problem gold accuracy, so an endpoint can pair checkpoints problem by problem.
"""

from __future__ import annotations

import math

import numpy as np

from .gold import blind
from .policy import ended, logprobs_no_grad, require_unit_temperature, sample


def _share(flags: np.ndarray) -> float | None:
    return round(float(flags.mean()), 5) if flags.size else None


def measure(
    policy,
    reference,
    tokenizer,
    world,
    problems: list,
    reward,
    k: int,
    temperature: float,
    max_new_tokens: int,
    seed: int,
    accept: float | None = None,
) -> dict:
    require_unit_temperature(temperature, "the KL estimate")
    reps = [p for p in problems for _ in range(k)]
    prompts = [p.prompt for p in reps]
    texts, tokens = sample(policy, tokenizer, prompts, temperature, max_new_tokens, seed)
    correct = np.array([world.check(p, t).correct for p, t in zip(reps, texts)], float)
    proxy = np.asarray(reward(blind(reps), texts), float)
    finished = ended(tokens, max_new_tokens)
    kl = (
        logprobs_no_grad(policy, tokenizer, prompts, texts, tokens, finished)
        - logprobs_no_grad(reference, tokenizer, prompts, texts, tokens, finished)
    ).numpy()
    accepted = proxy >= (np.inf if accept is None else accept)
    wrong = correct == 0
    mean_kl = float(kl.mean())
    return {
        "gold": round(float(correct.mean()), 5),
        "proxy": round(float(proxy.mean()), 5),
        "wrong_accepted": round(float((accepted & wrong).mean()), 5),
        "accept_rate": round(float(accepted.mean()), 5),
        "accept_given_wrong": _share(accepted[wrong]),
        "wrong_given_accept": _share(wrong[accepted]),
        "mean_steps": round(float(np.mean([len(world.steps(t)) for t in texts])), 4),
        "mean_chars": round(float(np.mean([len(t) for t in texts])), 3),
        "cut_short": round(1 - float(np.mean(finished)), 5),
        "kl": round(mean_kl, 5),
        "kl_se": round(float(kl.std(ddof=1) / math.sqrt(len(kl))) if len(kl) > 1 else 0.0, 5),
        "sqrt_kl": round(math.sqrt(max(mean_kl, 0.0)), 5),
        "gold_by_problem": [round(float(x), 4) for x in correct.reshape(len(problems), k).mean(1)],
    }
