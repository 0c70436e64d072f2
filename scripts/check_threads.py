"""Does a seed compute the same numbers at another thread count? Training, sampling, scoring and
verifier training, each in a fresh process per thread count, compared bit for bit.

Why: a run's ``threads`` (``$AUTOALIGN_THREADS``, default 2) is not part of any stage's key or
science digest (``runtime/context.py``), and a run divides its threads among stages run side by side,
so the same stage computes at 1 thread in one run and 2 in another. If the thread count changed a
stage's floats, the same seed could train to another generator (the early stop amplifies any
difference: "Speed" in the README), and a stage cached at one thread count would stand for a
computation that would not reproduce at another. Matrix-product libraries split work between
threads, and a split of a sum's terms changes its rounding; whether they do so here depends on the
library and the CPU, so it is measured, on this CPU only.

Each thread count runs, in a fresh process: the small Llama trained 30 packed steps on arithmetic
batches (weights hashed), 256 solutions sampled from it greedily and at T=1 (token ids hashed), every
step of them scored by its own log-likelihood verifier (logits hashed), and a tiny verifier trained
12 steps on them (weights hashed). A control shows that the hashes see a change of float order alone:
the same training on padded instead of packed batches (the same tokens and loss, summed in another
order) must give other weights. Writes ``bench/results/threads.json``; prints whether each part is
equal across the thread counts, and the control.

With ``--stage`` it also runs a whole stage at each thread count: the demo's generator at a fixed
1,000 steps (``bench/fixed_steps_check.yaml`` on one seed, ``--stage-seed``, default 41: its training,
ten validations and test sampling), each a fresh ``autoalign run``, and compares their ``metrics.json``
(less provenance, which records the commit and machine).

    python scripts/check_threads.py [--threads 1 2 4] [--stage [--stage-seed 41]]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PARTS = ("training", "greedy", "sampled", "scores", "verifier")


def digest(tensors) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(t.detach().contiguous().float().numpy().tobytes())
    return h.hexdigest()[:16]


def one(threads: int, packed: bool = True) -> dict:
    """Every part's digest at ``threads`` threads (this process sets them first); ``packed=False``:
    the control, trained on padded batches."""
    import torch

    torch.set_num_threads(threads)
    from autoalign.models import TrainConfig, build_char_tokenizer, build_model, sample_solutions, train_lm
    from autoalign.overseers.training import step_logit_values, train_verifier
    from autoalign.overseers.verifier import StepVerifier
    from autoalign.records import LabelledSolution
    from autoalign.seeding import derive_seed
    from autoalign.worlds import ArithmeticConfig, check_solution, generate
    from autoalign.worlds.chain_format import step_spans

    world = ArithmeticConfig(min_steps=2, max_steps=5)
    tok = build_char_tokenizer()
    model = build_model("llama", "small", tok, 0)
    data = [[(p.prompt, p.solution) for p in generate(derive_seed(0, "threads", i), 64, world)] for i in range(30)]
    train_lm(model, tok, lambda i: data[i], TrainConfig(steps=30, warmup_steps=5, pack=packed))
    out = {"training": digest(model.parameters())}
    problems = generate(derive_seed(0, "threads", "test"), 256, world)
    prompts = [p.prompt for p in problems]
    for name, temperature in (("greedy", 0.0), ("sampled", 1.0)):
        tokens: list = []
        texts = sample_solutions(model, tok, prompts, temperature, max_new_tokens=48, seed=1, tokens_out=tokens)
        out[name] = digest(torch.tensor(t or [-1]) for t in tokens)
    spans = [list(step_spans(t)) or [(0, len(t))] for t in texts]
    scorer = StepVerifier(model, "prm", "loglik")
    logits = step_logit_values(scorer, tok, prompts, texts, spans, tokens=tokens)
    out["scores"] = digest(torch.tensor(x, dtype=torch.float64) for x in logits)
    examples = []
    for p, text, sp, ids in zip(problems, texts, spans, tokens):
        labels = check_solution(p, text).step_labels
        labels = tuple(labels[: len(sp)]) + (False,) * max(0, len(sp) - len(labels))
        examples.append(LabelledSolution(p.prompt, text, tuple(sp), labels, tuple(ids) if ids else None))
    verifier = StepVerifier(build_model("llama", "tiny", tok, 1), "prm", "loglik")
    train_verifier(verifier, tok, examples, 12, batch_size=32, seed=2)
    out["verifier"] = digest(verifier.parameters())
    return out


def without_provenance(value):
    if isinstance(value, dict):
        return {k: without_provenance(v) for k, v in value.items() if k != "provenance"}
    if isinstance(value, list):
        return [without_provenance(v) for v in value]
    return value


def stage_metrics(threads: int, seed: int, folder: Path) -> dict:
    """The fixed-steps generator on ``seed`` at ``threads`` threads, a fresh run: its metrics."""
    run_dir = folder / f"threads{threads}"
    config = REPO / "bench" / "fixed_steps_check.yaml"
    cmd = [sys.executable, "-m", "autoalign", "run", str(config), "--set", f"seeds=[{seed}]"]
    cmd += ["--set", f"threads={threads}", "--run-dir", str(run_dir), "--quiet"]
    subprocess.run(cmd, check=True, cwd=REPO, capture_output=True)
    return without_provenance(json.loads((run_dir / "metrics.json").read_text()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child process: one thread count
    ap.add_argument("--padded", action="store_true", help=argparse.SUPPRESS)  # the control's child
    ap.add_argument("--stage", action="store_true", help="also a whole generator stage per thread count")
    ap.add_argument("--stage-seed", type=int, default=41)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "threads.json")
    args = ap.parse_args()
    if args.one is not None:
        print(json.dumps(one(args.one, packed=not args.padded)))
        return
    from autoalign.preregistration import environment

    def child(*flags: str) -> dict:
        done = subprocess.run([sys.executable, __file__, *flags], capture_output=True, text=True, check=True, cwd=REPO)
        return json.loads(done.stdout.strip().splitlines()[-1])

    by_threads = {n: child("--one", str(n)) for n in args.threads}
    equal = {part: len({d[part] for d in by_threads.values()}) == 1 for part in PARTS}
    control = child("--one", str(args.threads[0]), "--padded")
    seen = control["training"] != by_threads[args.threads[0]]["training"]
    stage = None
    if args.stage:
        with tempfile.TemporaryDirectory() as tmp:
            metrics = {n: stage_metrics(n, args.stage_seed, Path(tmp)) for n in args.threads}
        accuracy = {n: m.get("generator", {}).get("accuracy") for n, m in metrics.items()}
        stage = {"seed": args.stage_seed, "equal": len({json.dumps(m, sort_keys=True) for m in metrics.values()}) == 1}
        stage["generator_accuracy"] = accuracy
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    env = environment()
    result = {
        "commit": commit.stdout.strip(),
        "cpu": env["cpu"],
        "cpu_flags": env["cpu_flags"],
        "torch": env["packages"]["torch"],
        "by_threads": by_threads,
        "equal": equal,
        "control_padded": control,
        "control_seen": seen,
        "stage": stage,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    counts = ", ".join(str(n) for n in args.threads)
    for part in PARTS:
        print(f"{part}: {'equal' if equal[part] else 'DIFFERS'} at {counts} threads")
    if stage is not None:
        said = "equal" if stage["equal"] else "DIFFER"
        print(f"generator stage, seed {stage['seed']}: metrics {said} at {counts} threads")
    verdict = "other weights, as it must" if seen else "THE SAME WEIGHTS: the hashes cannot see float order"
    print(f"control (padded batches, {args.threads[0]} thread(s)): {verdict}")


if __name__ == "__main__":
    main()
