"""Verifier training on a backbone with a large vocabulary: what reading only what the head needs saves.

Why: our own models have 87 characters, but a verifier may sit on a Hugging Face checkpoint with
GPT-2's 50,257 tokens, where the language-model head is the largest product of a step and its
(rows, width, vocabulary) logits the largest tensor. ``StepVerifier.step_logits`` now (a) skips the head
for a linear verifier head (``packing.hidden_only``: ``logits_to_keep=1``) and (b) reads each token's
log-probability off the packed rows (``packing.packed_token_logprobs``) instead of laying the
vocabulary-wide logits back out. This bench trains the same verifier both ways, side by side, each in
a fresh process (so peak memory is its own): an untrained GPT-2-shaped backbone (2 layers, 128 wide,
50,257 tokens), 32 solutions of 40 to 128 tokens, 4 steps each, AdamW. The values are equal either way
(``tests/test_packing.py``); only time and memory differ. Writes ``bench/results/large_vocab.json``.

    python bench/bench_large_vocab.py [--threads 2] [--steps 6]
"""

from __future__ import annotations

import argparse
import datetime
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VARIANTS = {  # name: (head, reads only what the head needs)
    "loglik, vocabulary-wide logits laid out": ("loglik", False),
    "loglik, log-probabilities read off packed rows": ("loglik", True),
    "linear, every position's logits laid out": ("linear", False),
    "linear, head skipped, nothing laid out": ("linear", True),
}


def measure(head: str, lean: bool, threads: int, steps: int) -> dict:
    """One variant in this process: median seconds per training step after the first, and peak RSS."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from autoalign.models import packing
    from autoalign.overseers import verifier as verifier_module
    from autoalign.overseers.verifier import EncodedBatch, StepVerifier

    if not lean:  # the way before: every position's logits computed and laid back out from the packed rows
        verifier_module.hidden_only = lambda model: {}

        def laid_out(model, ids, lengths):
            logits, _ = packing.packed_forward(model, ids, lengths)
            return packing.token_logprobs(logits, ids)

        def with_logits(model, ids, lengths, hidden=False, logits=True):
            return packing.packed_forward(model, ids, lengths, hidden=hidden, logits=True)

        verifier_module.packed_token_logprobs = laid_out
        verifier_module.packed_forward = with_logits
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    config = GPT2Config(vocab_size=50257, n_embd=128, n_layer=2, n_head=4, n_positions=256)
    config._attn_implementation = "sdpa"
    kind = "per_step" if head == "loglik" else "last_token"
    verifier = StepVerifier(GPT2LMHeadModel(config), "prm", head, kind).train()
    rows, width, n_steps = 32, 128, 4
    lengths = torch.randint(40, width + 1, (rows,)).tolist()
    lengths[0] = width
    ids = torch.randint(1, config.vocab_size, (rows, width))
    step_of = torch.full((rows, width), -1)
    step_end = torch.zeros(rows, n_steps, dtype=torch.long)
    for b, n in enumerate(lengths):
        ids[b, n:] = 0
        for s in range(n_steps):
            lo, hi = 1 + s * (n - 1) // n_steps, 1 + (s + 1) * (n - 1) // n_steps
            step_of[b, lo:hi], step_end[b, s] = s, hi - 1
    batch = EncodedBatch(ids, step_of, step_end, torch.ones(rows, n_steps, dtype=torch.bool), lengths)
    assert verifier_module.worth_packing(batch)  # the packed path is the one measured
    opt = torch.optim.AdamW(verifier.parameters(), 1e-4)
    seconds = []
    for _ in range(steps):
        t0 = time.perf_counter()
        (verifier.step_logits(batch) * batch.step_mask).sum().backward()
        opt.step()
        opt.zero_grad()
        seconds.append(time.perf_counter() - t0)
    timed = sorted(seconds[1:])
    return {"step_s": timed[len(timed) // 2], "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--variant", help=argparse.SUPPRESS)  # one variant, in a child process
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "large_vocab.json"))
    args = ap.parse_args()
    if args.variant:
        print(json.dumps(measure(*VARIANTS[args.variant], args.threads, args.steps)))
        return
    from autoalign.preregistration import environment

    results = {}
    for name in VARIANTS:
        cmd = [sys.executable, __file__, "--variant", name, "--threads", str(args.threads), "--steps", str(args.steps)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
        print(name, results[name], flush=True)
    pairs = {"loglik": list(VARIANTS)[:2], "linear": list(VARIANTS)[2:]}
    result = {
        "date": datetime.date.today().isoformat(),
        "threads": args.threads,
        "variants": results,
        "speedup": {h: results[a]["step_s"] / results[b]["step_s"] for h, (a, b) in pairs.items()},
        "peak_rss_saved_mb": {h: results[a]["peak_rss_mb"] - results[b]["peak_rss_mb"] for h, (a, b) in pairs.items()},
        "environment": environment(),
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("speedup", "peak_rss_saved_mb")}, indent=2))


if __name__ == "__main__":
    main()
