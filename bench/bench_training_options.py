"""Training-loop options measured side by side: padded or packed batches, eager or compiled, fp32 or bf16.

Why: issue #24 asks training throughput of 1.5x, compile time included. Each candidate changes what
a step costs by a different amount on each CPU (bf16 runs on bf16 units where the CPU has them and is
emulated, much slower, where it does not; ``torch.compile`` pays its compilation once per process, less
with its cache on disk), so they are measured here rather than assumed. Every variant trains the small
Llama on the same 40 arithmetic batches with ``train_lm``; the variants alternate and each keeps its
best of ``--repeats`` rounds. Compilation is timed apart: the first steps of a compiled model in a fresh
process with an empty inductor cache (``cold``) and again in another fresh process that finds the first
one's cache (``warm``). The final logged loss is kept beside each time (packing and compile change the
order of float sums; bf16 changes the precision). Writes ``bench/results/training_options.json``.

    python bench/bench_training_options.py [--size small] [--threads 2] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from autoalign.models import TrainConfig, build_char_tokenizer, build_model, train_lm
from autoalign.models.lm import SIZES
from autoalign.preregistration import environment
from autoalign.runtime.placement import set_placement
from autoalign.seeding import derive_seed
from autoalign.worlds import ArithmeticConfig, generate

VARIANTS = {  # name: (packed, compiled, bf16)
    "padded": (False, False, False),
    "packed": (True, False, False),
    "packed+compile": (True, True, False),
    "padded+bf16": (False, False, True),
    "packed+bf16": (True, False, True),
    "packed+compile+bf16": (True, True, True),
}


def batches(steps: int, batch_size: int = 64):
    world = ArithmeticConfig(min_steps=2, max_steps=5)
    return [
        [(p.prompt, p.solution) for p in generate(derive_seed(0, "bench", i), batch_size, world)] for i in range(steps)
    ]


def train(size: str, data, packed: bool, compiled: bool, bf16: bool, steps: int | None = None) -> tuple[float, float]:
    """Seconds for ``steps`` (default all) steps of a fresh model, and its last logged loss."""
    tok = build_char_tokenizer()
    model = build_model("llama", size, tok, 0)
    # the run options themselves (``autocast: bf16``, ``compile: on``), as a run's stages set them
    set_placement("cpu", "float32", "bf16" if bf16 else "off", "on" if compiled else "off")
    n = steps or len(data)
    try:
        t0 = time.perf_counter()
        state = train_lm(model, tok, lambda i: data[i], TrainConfig(steps=n, warmup_steps=min(5, n), pack=packed))
        seconds = time.perf_counter() - t0
    finally:
        set_placement("cpu", "float32", "off", "off")
    losses = [h["loss"] for h in state["history"] if "loss" in h]
    return seconds, losses[-1] if losses else float("nan")


def compile_seconds(size: str, cache: Path, threads: int) -> list[float]:
    """Five compiled steps of a first and then a second fresh model in a fresh process using ``cache`` as the
    inductor cache (a run trains several models per process: the second shows what each one after the first pays)."""
    code = (
        "import sys, torch; sys.path.insert(0, %r); import bench_training_options as b; "
        "torch.set_num_threads(%d); d = b.batches(5); print(b.train(%r, d, True, True, False)[0], "
        "b.train(%r, d, True, True, False)[0])"
    ) % (str(Path(__file__).parent), threads, size, size)
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(cache)}
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    return [float(x) for x in out.stdout.strip().splitlines()[-1].split()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="small", choices=list(SIZES))
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated; padded is always run")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "training_options.json"))
    args = ap.parse_args()
    chosen = {"padded", *args.variants.split(",")}
    unknown = chosen - set(VARIANTS)
    if unknown:
        raise SystemExit(f"--variants: unknown {', '.join(sorted(unknown))}; choose from {', '.join(VARIANTS)}")
    variants = {name: options for name, options in VARIANTS.items() if name in chosen}
    torch.set_num_threads(args.threads)
    data = batches(args.steps)
    with tempfile.TemporaryDirectory() as cache:
        compiles = any(compiled for _, compiled, _ in variants.values())
        cold = compile_seconds(args.size, Path(cache), args.threads) if compiles else None
        warm = compile_seconds(args.size, Path(cache), args.threads) if compiles else None
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache  # the timed compiled runs below start warm
        for name, (packed, compiled, bf16) in variants.items():  # warm-up: kernels, and each compile once
            train(args.size, data[:3], packed, compiled, bf16)
        runs = {name: [] for name in variants}
        for _ in range(args.repeats):
            for name, options in variants.items():
                runs[name].append(train(args.size, data, *options))
    best = {name: min(r) for name, r in runs.items()}
    base = best["padded"][0]
    result = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "environment": environment(),
        "setting": {"size": args.size, "steps": args.steps, "batch": 64, "threads": args.threads},
        "seconds": {name: s for name, (s, _) in best.items()},
        "speedup_over_padded": {name: base / s for name, (s, _) in best.items()},
        "last_logged_loss": {name: loss for name, (_, loss) in best.items()},
        "compile_first_5_steps_s": {
            "cold_cache": cold and cold[0],
            "warm_cache": warm and warm[0],
            "second_model_same_process": {"cold_cache": cold and cold[1], "warm_cache": warm and warm[1]},
        },
        "note": (
            "compiled runs are timed after their compilation (warm-up); add compile_first_5_steps_s per process "
            "(and second_model_same_process per later model); the variants run the run options (autocast, compile)"
        ),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("seconds", "speedup_over_padded", "compile_first_5_steps_s")}, indent=2))


if __name__ == "__main__":
    main()
