"""The lab that the tests of method code behind the evaluation boundary share: a synthetic task whose
scores are exact (an untrained micro Llama for the strong model; the server's labels are files, a
text's label being whether its last letter comes before ``n``; a scripted evaluator for the weak and
ceiling accuracies), the method files that try to escape, and ``run``: ``autoalign research`` with the
lm proposer replying from a script. Used by ``test_research_code.py``, ``test_research_code_hostile.py``
and ``test_research_canaries.py``."""

from __future__ import annotations

import dataclasses
import json
import random
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from research_fakes import evaluation
from test_research_lm import scripted_app

from autoalign.models import build_char_tokenizer, build_model
from autoalign.research import code_runs, loop, task_canaries
from autoalign.runtime.sandbox import MiB
from autoalign.serve.background import background

SEARCH, TEST = [11, 12], [21, 22]
WEAK, CEILING = 0.6, 0.8  # the scripted evaluator's accuracies on every seed


CONFIG = """\
name: research-code-test
seed: 0
research:
  search_seeds: {search}
  test_seeds: {test}
  proposers: {{lm: {n}}}
  boundary: {boundary}
  lm: {{model: openai/scripted, base_url: "{url}", timeout: 10, max_failures: 3}}
  space:
    lr_scale: {{low: 0.25, high: 4, log: true}}
weak_to_strong:
  sizes: [micro, tiny]
"""


def hostile_codes(sentinel: Path, labels: Path, port: int) -> dict[str, str]:
    """Method files that try to escape; each leaves a mark in ``sentinel`` (a host folder) if it can."""

    def mark(name: str) -> str:
        return f"open({str(sentinel / name)!r}, 'w').write('escaped')"

    return {
        "labels": f"""import glob, sys
def train(strong_model_dir, transfer_path, out_dir, seed):
    rows = [line for p in glob.glob({str(labels)!r} + "/*.jsonl") for line in open(p)]
    print(f"hostile labels: read {{len(rows)}} labelled rows")
    if not rows:
        sys.exit(1)
    {mark("labels")}
""",
        "checker": f"""import sys
def train(strong_model_dir, transfer_path, out_dir, seed):
    try:
        from autoalign.worlds import check_solution
    except ImportError as e:
        sys.exit(f"hostile checker: {{type(e).__name__}}")
    {mark("checker")}
""",
        "socket": f"""import socket
def train(strong_model_dir, transfer_path, out_dir, seed):
    with socket.create_connection(("127.0.0.1", {port}), timeout=5) as s:
        s.sendall(b"the labels, please")
    {mark("socket")}
""",
        "fork": """import os
def train(strong_model_dir, transfer_path, out_dir, seed):
    while True:
        os.fork()
""",
        "disk": """def fill(path):
    with open(path, "wb") as f:
        while True:
            f.write(b"0" * 2**20)
def train(strong_model_dir, transfer_path, out_dir, seed):
    try:
        fill("/tmp/fill")
    except OSError as e:
        print(f"hostile disk: /tmp/fill: {e.strerror}")
    fill("/work/fill")
""",
        "write": f"""import sys
TARGETS = ({str(sentinel / "write")!r}, "/inputs/transfer.jsonl", "/opt/python/hostile.pth")
def train(strong_model_dir, transfer_path, out_dir, seed):
    wrote = []
    for path in TARGETS:
        try:
            with open(path, "a") as f:
                f.write("escaped")
            wrote.append(path)
        except OSError as e:
            print(f"hostile write: {{path}}: {{e.strerror}}")
    sys.exit(f"hostile write: wrote {{wrote}}")
""",
        "pickle": f"""import os, pickle
class Payload:
    def __reduce__(self):
        return (os.system, ("touch " + {str(sentinel / "pickle")!r},))
def train(strong_model_dir, transfer_path, out_dir, seed):
    with open(f"{{out_dir}}/model.safetensors", "wb") as f:
        pickle.dump(Payload(), f)
""",
    }


def labelled(rng: random.Random, n: int) -> list[tuple[str, int]]:
    """``n`` texts, half of each label (so a constant predictor scores exactly 0.5 on every seed)."""
    rows: list[tuple[str, int]] = []
    while len(rows) < n:
        text = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(6, 12)))
        label = int(text[-1] < "n")
        if sum(1 for _, y in rows if y == label) < n // 2:
            rows.append((text, label))
    return rows


def build_lab(root: Path) -> SimpleNamespace:
    """The strong model (an untrained micro Llama), the server's label files and the transfer texts
    with their weak labels, in ``root``."""
    tokenizer = build_char_tokenizer()
    strong = root / "strong"
    build_model("llama", "micro", tokenizer, seed=0).save_pretrained(strong)
    tokenizer.save_pretrained(strong)
    rng = random.Random(0)
    labels = root / "labels"  # the server's label files
    labels.mkdir()
    for split, seeds in (("validation", SEARCH), ("test", TEST)):
        for seed in seeds:
            rows = labelled(rng, 80)
            (labels / f"{split}-{seed}.jsonl").write_text(
                "".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in rows)
            )
    transfer = labelled(rng, 60)
    return SimpleNamespace(
        strong=strong,
        labels=labels,
        texts=[t for t, _ in transfer],
        weak=[0.8 if y else 0.2 for _, y in transfer],
    )


def scripted_evaluator(baseline_pgr: float):
    """The baseline's PGR on every seed (a little per-seed noise), the weak and ceiling accuracies fixed."""

    def evaluate(root, base, seed, pair, methods, canaries, threads):
        noise = 0.01 * (seed % 7) + (0.005 if methods.get("tunable", {}).get("rerun") else 0.0)
        out = evaluation(seed, {name: baseline_pgr + noise for name in methods}, canaries)
        return {**out, "weak": WEAK, "ceiling": CEILING}

    return evaluate


def run(tmp_path, monkeypatch, lab, script: list, baseline_pgr: float = -1.0, boundary: bool = True):
    """``autoalign research`` with the lm proposer answering ``script``: (result, rows, requests). The
    task canaries are left out (``test_research_canaries.py`` runs them)."""
    monkeypatch.setattr(task_canaries, "CANARIES", ())
    monkeypatch.setattr(loop, "evaluate", scripted_evaluator(baseline_pgr))
    monkeypatch.setattr(
        code_runs,
        "jail_inputs",
        lambda root, base, seed, pair, threads: {
            "strong": str(lab.strong),
            "texts": lab.texts,
            "weak_labels": lab.weak,
        },
    )

    real_spec = code_runs.server_spec

    def spec(folder, root, base, splits, budget, strong, threads):  # the run's spec, labels from files
        real = real_spec(folder, root, base, splits, budget, strong, threads)
        return real.model_copy(update={"source": {"kind": "files", "dir": str(lab.labels)}})

    monkeypatch.setattr(code_runs, "server_spec", spec)
    limits = dataclasses.replace(code_runs.LIMITS, wall_seconds=120, disk=16 * MiB, processes=32)
    monkeypatch.setattr(code_runs, "LIMITS", limits)
    requests: list = []
    with background(scripted_app(script, requests)) as url:
        text = CONFIG.format(search=SEARCH, test=TEST, n=len(script), boundary=str(boundary).lower(), url=f"{url}/v1")
        (tmp_path / "r.yaml").write_text(text)
        result = loop.run_research(tmp_path / "r.yaml", tmp_path / "run")
    rows = [json.loads(line) for line in (tmp_path / "run" / "notebook.jsonl").read_text().splitlines()]
    return result, [r for r in rows if r["proposer"] == "lm"], requests


def unjailed(method: Path, lab, out: Path) -> None:
    """The method run as a plain process of this environment: no sandbox."""
    out.mkdir()
    call = (
        "import runpy, sys; runpy.run_path(sys.argv[1])['train']("
        "strong_model_dir=sys.argv[2], transfer_path='', out_dir=sys.argv[3], seed=0)"
    )
    subprocess.run(
        [sys.executable, "-c", call, str(method), str(lab.strong), str(out)], capture_output=True, timeout=60
    )
