"""bf16 autocast against fp32 for one training step of a lab model, on this machine's CPU.

Why: bf16 halves the bytes a matrix product moves and, on CPUs with AVX-512 BF16 or AMX, runs the
products on bf16 units; on a CPU without them PyTorch emulates bf16 and the step gets slower. Which
CPU a session gets varies, so this measures instead of assuming. Same model, same batch, alternating
fp32 and bf16 rounds; the best of ``--repeats`` rounds is kept. Writes ``bench/results/bf16.json``.

    python bench/bench_bf16.py [--size tiny] [--batch 64] [--length 80] [--threads 1]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import time
from pathlib import Path

import torch

from autoalign.models import build_char_tokenizer, build_model

REPO = Path(__file__).resolve().parents[1]


def cpu_flags() -> list[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return sorted(f for f in flags if f.startswith(("avx512", "amx")) or f in ("avx2", "fma"))


def step_seconds(size: str, batch: int, length: int, bf16: bool, steps: int) -> float:
    tok = build_char_tokenizer()
    model = build_model("llama", size, tok, 0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ids = torch.randint(3, len(tok), (batch, length), generator=torch.Generator().manual_seed(0))

    def step():
        cast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        with cast:
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(3):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="tiny")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--length", type=int, default=80)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    runs = {"fp32": [], "bf16": []}
    for _ in range(args.repeats):
        for name in runs:
            runs[name].append(step_seconds(args.size, args.batch, args.length, name == "bf16", args.steps))
    best = {k: min(v) for k, v in runs.items()}
    result = {
        "machine": {"processor": platform.processor() or platform.machine(), "cpu_flags": cpu_flags()},
        "setting": vars(args),
        "seconds_per_step": runs,
        "best_seconds_per_step": best,
        "bf16_over_fp32_time": best["bf16"] / best["fp32"],
    }
    out = REPO / "bench" / "results" / "bf16.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"fp32 {best['fp32'] * 1000:.0f} ms/step, bf16 {best['bf16'] * 1000:.0f} ms/step "
        f"({result['bf16_over_fp32_time']:.2f}x the time)"
    )


if __name__ == "__main__":
    main()
