"""Training and sampling throughput of the lab's models on one device (a GPU when one is lent).

Why: every figure in ``bench/results/`` so far is this laptop-sized CPU; issue #24 asks what the same
code does on a GPU. Three measurements, each on the device given (``--device auto``: CUDA if torch
sees it):

- **matmul peak**: the best of ten square products (``--matmul`` wide) in fp32 and bf16, the
  achieved FLOP/s that the MFU figures below are relative to (measured here, not a vendor number);
- **training**: AdamW steps of the Llama ``tiny`` and ``small`` models on one batch (64 x 80 tokens by
  default, as ``bench_bf16.py``), fp32 and bf16 autocast: tokens/s, and model FLOP/s by the 6·N·tokens
  rule (a model of the work, not a count of it: attention and the embedding are left out) with the
  MFU it implies against the matmul peak of the same dtype;
- **sampling**: the small generator trained as in ``bench_sampling.py`` (440 steps), then 512 prompts
  sampled by ``generate``, the loop and the compaction loop (T=1 and greedy): new tokens/s and
  whether the three decoders wrote the same tokens on this device.

Writes ``bench/results/device-<kind>.json`` (``--out`` to change) after each section, so that a lease cut
short still returns what was measured.

    python bench/bench_device.py [--device auto] [--sizes tiny small] [--steps 20]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import platform
import time
from pathlib import Path

import torch

from autoalign.models import build_char_tokenizer, build_model
from autoalign.models import device as devices
from autoalign.preregistration import environment
from autoalign.worlds import ArithmeticConfig, generate

REPO = Path(__file__).resolve().parents[1]


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def matmul_peak(device: str, n: int, dtype: torch.dtype, reps: int = 10) -> float:
    """Best achieved FLOP/s of an n x n x n product in ``dtype`` on ``device``."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(reps):
        sync(device)
        t0 = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best


def train_rate(device: str, size: str, batch: int, length: int, bf16: bool, steps: int) -> dict:
    tok = build_char_tokenizer()
    model = build_model("llama", size, tok, 0).to(device)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=device.startswith(("cpu", "cuda")))
    ids = torch.randint(3, len(tok), (batch, length), generator=torch.Generator().manual_seed(0)).to(device)
    kind = torch.device(device).type

    def step():
        cast = torch.autocast(kind, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        with cast:
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(3):
        step()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    seconds = (time.perf_counter() - t0) / steps
    tokens = batch * length
    return {
        "params": params,
        "ms_per_step": 1000 * seconds,
        "tokens_per_s": tokens / seconds,
        "model_flops_per_s_6N": 6 * params * tokens / seconds,
    }


def sampling_rates(device: str, train_steps: int, repeats: int) -> dict:
    """bench_sampling.py's setting and decoders, on ``device``."""
    spec = importlib.util.spec_from_file_location("bench_sampling", REPO / "bench" / "bench_sampling.py")
    bs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bs)
    world = ArithmeticConfig(min_steps=2, max_steps=5)
    devices.use(device)  # trained_generator places its model on this device before training
    t0 = time.perf_counter()
    model, tok = bs.trained_generator("small", world, train_steps)
    out: dict = {"train_seconds": time.perf_counter() - t0, "train_steps": train_steps}
    prompts = [p.prompt for p in generate(99, 512, world)]
    for name, temperature in (("sampled", 1.0), ("greedy", 0.0)):
        for decoder in bs.DECODERS:  # warm-up
            bs.run(model, tok, prompts[:64], temperature, decoder, batch_size=64)
        best = {}
        for _ in range(repeats):
            for decoder in bs.DECODERS:
                sync(device)
                r = bs.run(model, tok, prompts, temperature, decoder)
                if decoder not in best or r["seconds"] < best[decoder]["seconds"]:
                    best[decoder] = r
        ref = best["loop"]
        out[name] = {d: bs.figures(b, len(prompts)) for d, b in best.items()}
        out[name]["outputs_equal_to_loop"] = {
            d: b["texts"] == ref["texts"] and b["tokens"] == ref["tokens"] for d, b in best.items()
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--sizes", nargs="+", default=["tiny", "small"])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--length", type=int, default=80)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--matmul", type=int, default=0, help="matrix width (default 8192 on CUDA, 1024 else)")
    ap.add_argument("--train-steps", type=int, default=440)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--skip-sampling", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    device = devices.resolve_device(args.device)
    cuda = device.startswith("cuda")
    n = args.matmul or (8192 if cuda else 1024)
    name = torch.cuda.get_device_name(device) if cuda else (platform.processor() or platform.machine())
    peak = {"fp32": matmul_peak(device, n, torch.float32), "bf16": matmul_peak(device, n, torch.bfloat16)}
    result: dict = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "device": device,
        "device_name": name,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32 if cuda else None,
        "environment": environment(),
        "setting": {k: str(v) for k, v in vars(args).items()},
        "matmul_peak_flops_per_s": peak,
        "matmul_width": n,
        "training": {},
    }
    out = args.out or REPO / "bench" / "results" / f"device-{torch.device(device).type}.json"
    out.parent.mkdir(parents=True, exist_ok=True)

    def save():  # after every section: a lease cut short still returns what was measured
        out.write_text(json.dumps(result, indent=2) + "\n")

    save()
    for size in args.sizes:
        for dtype in ("fp32", "bf16"):
            r = train_rate(device, size, args.batch, args.length, dtype == "bf16", args.steps)
            r["mfu_6N_vs_matmul_peak"] = r["model_flops_per_s_6N"] / peak[dtype]
            result["training"][f"{size}/{dtype}"] = r
            print(f"train {size} {dtype}: {r['tokens_per_s']:,.0f} tokens/s, MFU {r['mfu_6N_vs_matmul_peak']:.2%}")
            save()
    if not args.skip_sampling:
        result["sampling"] = sampling_rates(device, args.train_steps, args.repeats)
        for t in ("sampled", "greedy"):
            s = result["sampling"][t]
            rates = ", ".join(f"{d} {s[d]['new_tokens_per_s']:,.0f}" for d in ("generate", "loop", "compaction"))
            print(f"sampling {t}: new tokens/s {rates}; equal to loop: {s['outputs_equal_to_loop']}")
        save()
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
