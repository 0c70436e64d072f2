"""Does the ``weak_unchanged`` canary copy the weak verdicts at a research run's size? Runs its
``train()`` on one seed's real boundary inputs (the strong model and the transfer texts with the weak
supervisor's P(label = 1), from a research run folder's finished stages) outside the jail, and prints
how often its student agrees with the weak verdicts and how often it says 1. A canary that only
learns the class prior is flagged degenerate by the evaluation server and never reaches the gate's
noise floor, the guard it exists to test. Needs the run's ``search/`` stages (not shipped) and the
code of the commit that ran it (stage keys hold the code)::

    python scripts/check_weak_unchanged.py runs/search2 configs/research_w2s.yaml --seed 401
    python scripts/check_weak_unchanged.py runs/search2 configs/research_w2s.yaml --seed 401 --steps 60 --batch 16 --lr 1e-3
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="a research run folder (with search/seed-K stages)")
    ap.add_argument("config", type=Path, help="the research config it ran")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--steps", type=int, help="override the canary's STEPS")
    ap.add_argument("--batch", type=int, help="override BATCH")
    ap.add_argument("--lr", type=float, help="override LR")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from autoalign.research.boundary.canaries import canary_file
    from autoalign.research.code_runs import jail_inputs
    from autoalign.research.config import load_research

    torch.set_num_threads(args.threads)
    research, base = load_research(args.config, [])
    pair = list(research.research.pair or base.weak_to_strong.pair_list()[0])
    inp = jail_inputs(str(args.run / "search"), base.model_dump(mode="json"), args.seed, pair, args.threads)
    spec = importlib.util.spec_from_file_location("weak_unchanged", canary_file("weak_unchanged"))
    canary = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(canary)
    for name, value in (("STEPS", args.steps), ("BATCH", args.batch), ("LR", args.lr)):
        if value is not None:
            setattr(canary, name, value)
    with tempfile.TemporaryDirectory() as d:
        transfer = Path(d, "transfer.jsonl")
        rows = (json.dumps({"text": t, "weak_label": w}) for t, w in zip(inp["texts"], inp["weak_labels"]))
        transfer.write_text("\n".join(rows) + "\n")
        start = time.time()
        canary.train(inp["strong"], str(transfer), d, args.seed)
        seconds = time.time() - start
        tok = AutoTokenizer.from_pretrained(inp["strong"], local_files_only=True)
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token
        model = AutoModelForSequenceClassification.from_pretrained(
            inp["strong"], num_labels=1, pad_token_id=tok.pad_token_id, local_files_only=True
        )
        model.load_state_dict(load_file(f"{d}/model.safetensors"))
        model.eval()
        says = []
        with torch.no_grad():
            for i in range(0, len(inp["texts"]), 128):
                batch = tok(inp["texts"][i : i + 128], padding=True, return_tensors="pt")
                says += (model(**batch).logits[:, 0] > 0).tolist()
    weak = [w > 0.5 for w in inp["weak_labels"]]
    print(
        json.dumps(
            {
                "seed": args.seed,
                "steps": canary.STEPS,
                "batch": canary.BATCH,
                "lr": canary.LR,
                "seconds": round(seconds, 1),
                "agrees_with_weak": round(sum(s == w for s, w in zip(says, weak)) / len(weak), 3),
                "says_1": round(sum(says) / len(says), 3),
                "weak_says_1": round(sum(weak) / len(weak), 3),
            }
        )
    )


if __name__ == "__main__":
    main()
