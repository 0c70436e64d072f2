"""Sampling throughput: ``model.generate``, our decoding loop and the loop with compaction, side by side.

The setting of ``bench_generator.py``'s sampling measurement: the small Llama generator trained on
arithmetic until its solutions end with EOS, 512 prompts in one batch of 512, temperature 1.0 (and
greedy, temperature 0). The three decoders (``generate``; ``loop``: ``decoding.decode``, every row computed
until the batch ends; ``compaction``: ``compaction.decode``, finished rows dropped) run through
``sample_solutions`` on the same model and prompts, alternated, and each keeps its best of ``--repeats``
runs (the machine is shared and noisy). The texts and token ids of all three are checked equal, and one
more run of each loop under the torch profiler shows where a decoding step's time goes. A second setting,
64 problems x 8 samples in batches of 256 (what best-of-N asks), times the compaction loop with each
distinct prompt run once against every row's prompt run, tokens checked equal.

The ceiling beside them is a model, not a measurement: this machine's fp32 matmul peak (measured, as in
``bench_generator.py``) and the FLOPs the work needs at the least (2 per parameter per token, for every
prompt token and every new token, plus attention's 4 * layers * d_model per token per earlier position),
with nothing else costing time. It says how far the decoders are from what the matrix products allow:
the prompts have to be read too, and on this bench they are about as many tokens as the solutions.
Writes ``bench/results/sampling.json``.

    python bench/bench_sampling.py [--size small] [--threads 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import time
from pathlib import Path
from unittest import mock

import torch

from autoalign.models import (
    TrainConfig,
    build_char_tokenizer,
    build_model,
    compaction,
    decoding,
    sample_solutions,
    sampling,
    train_lm,
)
from autoalign.models.decoding import generate_only
from autoalign.models.device import place
from autoalign.models.encoding import encode_prompts
from autoalign.models.lm import SIZES
from autoalign.preregistration import environment
from autoalign.seeding import derive_seed
from autoalign.worlds import ArithmeticConfig, generate

DECODERS = {
    "generate": generate_only,
    "loop": lambda: mock.patch.object(sampling, "decode", decoding.decode),
    "compaction": lambda: mock.patch.object(sampling, "decode", compaction.decode),
}


def trained_generator(size: str, world, steps: int, batch_size: int = 64):
    """The small generator, trained long enough that its solutions end (as in bench_generator.py), on
    the process's device (``models.device.use``; the CPU unless a caller such as bench_device.py set one)."""
    data = [
        [(p.prompt, p.solution) for p in generate(derive_seed(0, "bench", i), batch_size, world)] for i in range(40)
    ]
    tok = build_char_tokenizer()
    model = place(build_model("llama", size, tok, 0))
    train_lm(model, tok, lambda i: data[i % len(data)], TrainConfig(steps=steps, lr=2e-3, warmup_steps=5))
    return model.eval(), tok


def run(model, tok, prompts, temperature, decoder, batch_size=512):
    stats: dict = {}
    tokens: list = []
    with DECODERS[decoder]():
        t0 = time.perf_counter()
        texts = sample_solutions(
            model, tok, prompts, temperature, batch_size=batch_size, seed=1, stats=stats, tokens_out=tokens
        )
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "stats": stats, "texts": texts, "tokens": tokens}


def figures(best, n):
    s, stats = best["seconds"], best["stats"]
    return {
        "new_tokens_per_s": stats["new_tokens"] / s,
        "positions_per_s": stats["positions"] / s,
        "solutions_per_s": n / s,
        "ms_per_decoding_step": 1000 * s / (stats["positions"] / n),
        "seconds": s,
    }


def profile_steps(model, tok, prompts, temperature, decoder, top=8):
    """Where a decoding step's time goes: self CPU milliseconds per step of the costliest torch ops."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        r = run(model, tok, prompts, temperature, decoder)
    steps = r["stats"]["positions"] / len(prompts)
    ops = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in ops)
    out = {e.key: e.self_cpu_time_total / 1000 / steps for e in ops[:top]}
    out["all ops"] = total / 1000 / steps
    return out


def ceiling(model, tok, prompts, tokens, peak_gflops: float) -> dict:
    """New tokens/s if every FLOP the work needs ran at ``peak_gflops`` and nothing else took time (a model)."""
    config = model.config
    layers, d = config.num_hidden_layers, config.hidden_size
    # every weight matrix is used once per token; tied input embeddings are a lookup, the output head a product
    params = sum(p.numel() for name, p in model.named_parameters() if "embed" not in name and "wte" not in name)
    params += config.vocab_size * d

    def needed(length: int) -> float:  # FLOPs for positions 1..length, each attending to itself and all before
        return 2 * params * length + 4 * layers * d * length * (length + 1) / 2

    flops = prompt_flops = 0.0
    new = 0
    for ids, toks in zip(encode_prompts(tok, prompts), tokens, strict=True):
        n = len(toks) + 1  # the EOS is computed too (a row that hit the length limit: one more than needed)
        flops += needed(len(ids) + n)
        prompt_flops += needed(len(ids))
        new += n
    seconds = flops / (peak_gflops * 1e9)
    return {
        "matmul_peak_gflops": peak_gflops,
        "gflops_needed": flops / 1e9,
        "prompt_share_of_flops": prompt_flops / flops,
        "new_tokens_per_s": new / seconds,
    }


def compare(model, tok, prompts, temperature, repeats, peak_gflops):
    runs = {name: [] for name in DECODERS}
    for name in DECODERS:  # warm-up: first calls allocate and load kernels
        run(model, tok, prompts[:64], temperature, name, batch_size=64)
    for _ in range(repeats):
        for name in DECODERS:
            runs[name].append(run(model, tok, prompts, temperature, name))
    best = {name: min(r, key=lambda x: x["seconds"]) for name, r in runs.items()}
    old, new = best["generate"], best["compaction"]
    out = {name: figures(b, len(prompts)) for name, b in best.items()}
    rate = {name: out[name]["new_tokens_per_s"] for name in DECODERS}
    out["speedup_new_tokens_per_s"] = {
        "loop_vs_generate": rate["loop"] / rate["generate"],
        "compaction_vs_loop": rate["compaction"] / rate["loop"],
        "compaction_vs_generate": rate["compaction"] / rate["generate"],
    }
    out["outputs_equal"] = all(b["texts"] == old["texts"] and b["tokens"] == old["tokens"] for b in best.values())
    out["new_tokens"] = new["stats"]["new_tokens"]
    out["mean_new_tokens"] = new["stats"]["new_tokens"] / len(prompts)
    out["decoding_steps"] = new["stats"]["positions"] // len(prompts)
    out["temperature"] = temperature
    out["ceiling_model"] = ceiling(model, tok, prompts, new["tokens"], peak_gflops)
    out["fraction_of_ceiling"] = {
        name: out[name]["new_tokens_per_s"] / out["ceiling_model"]["new_tokens_per_s"] for name in DECODERS
    }
    out["ms_per_step_by_op"] = {
        name: profile_steps(model, tok, prompts, temperature, name) for name in ("loop", "compaction")
    }
    return out


def repeated_prompts(model, tok, world, repeats, problems=64, samples=8, batch_size=256) -> dict:
    """K samples per problem, as best-of-N asks (64 problems x 8, batches of 256, T=1): the compaction
    loop with each distinct prompt run once (the default) against every row's prompt run, alternated."""
    prompts = [p.prompt for p in generate(98, problems, world) for _ in range(samples)]
    variants = {
        "prompts_once": contextlib.nullcontext,  # the default
        "every_row": lambda: mock.patch.object(compaction, "distinct_prompts", lambda ids, mask: None),
    }
    runs = {name: [] for name in variants}
    for _ in range(repeats):
        for name, patch in variants.items():
            with patch():
                tokens: list = []
                t0 = time.perf_counter()
                sample_solutions(model, tok, prompts, 1.0, batch_size=batch_size, seed=1, tokens_out=tokens)
                runs[name].append((time.perf_counter() - t0, tokens))
    best = {name: min(r, key=lambda x: x[0]) for name, r in runs.items()}
    return {
        "problems": problems,
        "samples_per_problem": samples,
        "batch_size": batch_size,
        "seconds": {name: b[0] for name, b in best.items()},
        "speedup_prompts_once": best["every_row"][0] / best["prompts_once"][0],
        "tokens_equal": best["every_row"][1] == best["prompts_once"][1],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="small", choices=list(SIZES))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--train-steps", type=int, default=440, help="as bench_generator.py: 40 + 400 steps")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "sampling.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    world = ArithmeticConfig(min_steps=2, max_steps=5)
    t0 = time.perf_counter()
    model, tok = trained_generator(args.size, world, args.train_steps)
    train_seconds = time.perf_counter() - t0
    prompts = [p.prompt for p in generate(99, 512, world)]
    from bench_generator import matmul_peak  # bench/ is on the path when this runs as a script

    peak = matmul_peak()
    result = {
        "machine": {
            "processor": platform.processor() or platform.machine(),
            "threads": args.threads,
            "torch": torch.__version__,
        },
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "environment": environment(),
        "model": {"arch": "llama", "size": args.size, "params": sum(p.numel() for p in model.parameters())},
        "train_steps": args.train_steps,
        "train_seconds": train_seconds,
        "prompts": len(prompts),
        "batch_size": 512,
        "repeats": args.repeats,
        "sampled": compare(model, tok, prompts, 1.0, args.repeats, peak),
        "greedy": compare(model, tok, prompts, 0.0, args.repeats, peak),
        "repeated_prompts": repeated_prompts(model, tok, world, args.repeats),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
