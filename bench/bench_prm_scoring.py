"""PRM scoring throughput: every step in one forward pass, against one pass per step prefix.

A PRM that reads labels at each step's end scores a whole solution in one pass; the naive way
runs the model once per prefix (steps 1..i) and reads the last step. Both are batched the same
way, on the same solutions and the same model; the scores agree (a test checks that) and the ratio
of throughputs is written to ``bench/results/prm_scoring.json``.

    python bench/bench_prm_scoring.py [--size small] [--solutions 1024] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from autoalign.models import build_char_tokenizer, build_model
from autoalign.overseers import StepVerifier
from autoalign.overseers.training import step_logit_values
from autoalign.worlds import ArithmeticConfig, generate, make_world


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="small")
    ap.add_argument("--solutions", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "prm_scoring.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tok = build_char_tokenizer()
    prm = StepVerifier(build_model("llama", args.size, tok, 0), "prm", "loglik")
    problems = generate(0, args.solutions, ArithmeticConfig(min_steps=2, max_steps=5))
    world = make_world("arithmetic")
    prompts = [p.prompt for p in problems]
    texts = [p.solution for p in problems]
    spans = [world.steps(t) for t in texts]

    step_logit_values(prm, tok, prompts[:64], texts[:64], spans[:64])  # warm-up
    t0 = time.perf_counter()
    one_pass = step_logit_values(prm, tok, prompts, texts, spans)
    one_pass_s = time.perf_counter() - t0

    # one sequence per prefix: the text up to the end of step k, scored at its last step
    pre_prompts, pre_texts, pre_spans, owner = [], [], [], []
    for i, sp in enumerate(spans):
        for k in range(len(sp)):
            pre_prompts.append(prompts[i])
            pre_texts.append(texts[i][: sp[k][1]])
            pre_spans.append(sp[: k + 1])
            owner.append((i, k))
    t0 = time.perf_counter()
    per_prefix = step_logit_values(prm, tok, pre_prompts, pre_texts, pre_spans)
    per_prefix_s = time.perf_counter() - t0

    max_diff = max(abs(per_prefix[j][-1] - one_pass[i][k]) for j, (i, k) in enumerate(owner))
    result = {
        "model": {"size": args.size, "params": sum(p.numel() for p in prm.parameters())},
        "threads": args.threads,
        "solutions": args.solutions,
        "mean_steps": len(owner) / args.solutions,
        "one_pass": {"seconds": one_pass_s, "solutions_per_s": args.solutions / one_pass_s},
        "per_prefix": {
            "seconds": per_prefix_s,
            "solutions_per_s": args.solutions / per_prefix_s,
            "forward_sequences": len(owner),
        },
        "speedup_one_pass": per_prefix_s / one_pass_s,
        "max_abs_score_difference": max_diff,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
