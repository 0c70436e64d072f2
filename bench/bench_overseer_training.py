"""Overseer training steps with packed rows against padded batches, side by side.

Why: verifiers (best-of-N's PRMs and ORMs, the organisms' overseers) and weak-to-strong students
(every method evaluation of the automated researcher) train through ``StepVerifier.step_logits``.
Packing several solutions to a row (``models/packing.py``) saves the padding positions but pays for
laying the values back out and for attention with a block mask, so whether it pays depends on how
much padding a batch has: best-of-N's verifier batches are grouped by length (``train_verifier``'s
buckets), the students' are drawn at random. Each setting trains a fresh PRM on arithmetic solutions
with ``train_verifier`` (``buckets=4``: grouped; ``buckets=1``: random) under three policies: padded
(packing off), packed (every batch) and the default (``worth_packing``: batches with at least
``PACK_MIN_PADDING`` padding). The variants alternate and each keeps its best of ``--repeats`` rounds;
the last logged loss is kept beside each time. Writes ``bench/results/overseer_training.json``.

    python bench/bench_overseer_training.py [--threads 1] [--steps 40] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from unittest import mock

import torch

from autoalign.models import build_char_tokenizer, build_model
from autoalign.overseers import verifier as verifier_module
from autoalign.overseers.training import encode_examples, train_verifier
from autoalign.preregistration import environment
from autoalign.records import LabelledSolution
from autoalign.worlds import ArithmeticConfig, generate
from autoalign.worlds.chain_format import step_spans

SETTINGS = {  # name: (backbone size, buckets): what trains this way in the demo
    "grouped_small": ("small", 4),  # best-of-N's verifiers on the small generator
    "random_tiny": ("tiny", 1),  # weak-to-strong students (tiny) on randomly drawn batches
}
POLICIES = {
    "padded": lambda batch: False,
    "packed": lambda batch: batch.lengths is not None,
    "default": verifier_module.worth_packing,
}


def examples(n: int = 2000) -> list[LabelledSolution]:
    out = []
    for p in generate(7, n, ArithmeticConfig(min_steps=2, max_steps=5)):
        spans = tuple(step_spans(p.solution)) or ((0, len(p.solution)),)
        out.append(LabelledSolution(p.prompt, p.solution, spans, tuple(True for _ in spans)))
    return out


def padding_share(tok, data, buckets: int, batch_size: int = 64, blocks: int = 20) -> float:
    rng = random.Random(0)
    shares = []
    for _ in range(blocks):
        block = sorted(
            (data[rng.randrange(len(data))] for _ in range(batch_size * buckets)), key=lambda e: len(e.prompt + e.text)
        )
        for k in range(buckets):
            b = encode_examples(tok, block[k * batch_size : (k + 1) * batch_size])
            shares.append(1 - sum(b.lengths) / b.ids.numel())
    return sum(shares) / len(shares)


def train(tok, data, size: str, buckets: int, policy: str, steps: int) -> tuple[float, float, float]:
    """Seconds, last logged loss and the share of training batches packed under ``policy``."""
    verifier = verifier_module.StepVerifier(build_model("llama", size, tok, 0), "prm", "loglik")
    decided: list[bool] = []

    def counted(batch) -> bool:
        decided.append(POLICIES[policy](batch))
        return decided[-1]

    with mock.patch.object(verifier_module, "worth_packing", counted):
        t0 = time.perf_counter()
        history = train_verifier(verifier, tok, data, steps, buckets=buckets)
        seconds = time.perf_counter() - t0
    return seconds, (history[-1] if history else float("nan")), sum(decided) / max(1, len(decided))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1, help="1: the demo trains verifiers and students one thread each")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "overseer_training.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tok, data = build_char_tokenizer(), examples()
    result = {"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "environment": environment(), "threads": args.threads}
    result["steps"], result["settings"] = args.steps, {}
    for name, (size, buckets) in SETTINGS.items():
        for policy in POLICIES:  # warm-up
            train(tok, data, size, buckets, policy, 3)
        runs = {policy: [] for policy in POLICIES}
        for _ in range(args.repeats):
            for policy in POLICIES:
                runs[policy].append(train(tok, data, size, buckets, policy, args.steps))
        best = {policy: min(r) for policy, r in runs.items()}
        result["settings"][name] = {
            "size": size,
            "buckets": buckets,
            "padding_share": padding_share(tok, data, buckets),
            "seconds": {p: s for p, (s, _, _) in best.items()},
            "speedup_over_padded": {p: best["padded"][0] / s for p, (s, _, _) in best.items()},
            "last_logged_loss": {p: loss for p, (_, loss, _) in best.items()},
            "share_of_batches_packed": {p: share for p, (_, _, share) in best.items()},
        }
        print(name, json.dumps(result["settings"][name]), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
