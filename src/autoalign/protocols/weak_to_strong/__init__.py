"""Weak-to-strong generalization (Burns et al. 2023): can a weak supervisor elicit what a stronger
model knows?

Method, for a task ("is this solution correct?" or "is this step correct?" on any world with gold
solutions and planted flaws, or a user's ``{text, label}`` JSONL):
1. Every size is first pretrained as a language model on the world's unlabelled gold solutions
   (``pretrain_steps`` per size: the strong model's latent knowledge).
2. The weak supervisor (a small classifier on its own pretrained model, or, for methods whose
   supervisor is an overseer, the registered overseer ``weak_to_strong.overseer`` on the weak model)
   trains on ground truth of the ``weak`` items and labels the disjoint ``transfer`` items with soft
   labels (``supervisors.py``).
3. Each method in ``weak_to_strong.methods`` (a registered ``autoalign.methods.Method``: built-in
   ``ce``, ``confidence``, ``bootstrap``, ``overseer``, or a plugin's) teaches the strong model from
   those labels; it sees texts and soft labels, never a label, a world or a checker
   (``students.py``). The ceiling, the same strong model, trains on the transfer items' ground truth.
4. The final scoring stage alone reads the sealed test labels (``sealed.py``, ``scoring.py``): weak,
   student and ceiling accuracy on the same test items, PGR with a paired CI and its guard,
   student-supervisor agreement, a noise floor (PGR's spread over extra ``ce`` seeds), and two
   canaries that must be caught: one predicts the majority class, one tries to read the test labels.
Primary endpoint (declared in ``config.py`` before any run): for the largest gap, PGR(ce) > 0 and
PGR(confidence) - PGR(ce) > 0.
"""

from __future__ import annotations

import re

import numpy as np

from ...methods.base import method_class, source_digest
from ...models import TrainConfig, build_char_tokenizer, build_model, count_parameters, train_lm
from ...models.device import place
from ...models.providers import checkpoint_digest, open_model, size_or_address
from ...protocol import protocol
from ...runtime.progress import log
from ...runtime.store import atomic_save_dir
from .config import WeakToStrongConfig, WeakToStrongResults
from .report import headline, summary, w2s_section
from .scoring import canary, score, sealed_test_labels
from .students import models_for, run_method
from .supervisors import fit_and_predict, overseer_supervisor
from .tasks import items

__all__ = ["boundary_inputs", "canary", "run", "run_task", "sealed_test_labels"]


def pretrain(ctx, size: str, w: WeakToStrongConfig, digest: str = "") -> dict:
    """Stage: a model pretrained as a language model on unlabelled text: a lab size from scratch, or
    a local checkpoint (its own tokenizer) further, if ``pretrain_steps`` names it."""
    address = size_or_address(size, "weak_to_strong.sizes")
    if address.lab_size is not None:
        tokenizer = build_char_tokenizer(_alphabet(ctx, w))
        model = place(build_model("llama", address.lab_size, tokenizer, seed=ctx.derive("w2s", size)))
    else:
        local = open_model(address, "weak_to_strong.sizes").white_box("weak-to-strong (it fine-tunes every model)")
        model, tokenizer = local.module, local.tokenizer
    steps = w.pretrain_steps.get(size, 0)
    history = []
    if steps:
        if w.data is None:
            from ...pipeline.generator import bucketed_batches

            batch_at = bucketed_batches(w.world.make(), ctx.seed, w.batch_size, tag="w2s-pretrain")
        else:
            texts = [it.text for role in ("weak", "transfer") for it in items(ctx, w, role)]
            rng = np.random.default_rng(ctx.derive("w2s", "pretrain"))

            def batch_at(step: int) -> list[tuple[str, str]]:
                return [("", texts[i]) for i in rng.integers(0, len(texts), w.batch_size)]

        log(f"weak-to-strong: pretraining {size} ({count_parameters(model) / 1e6:.2f}M) for {steps} steps")
        history = train_lm(
            model,
            tokenizer,
            batch_at,
            TrainConfig(steps=steps, lr=w.pretrain_lr, warmup_steps=30, checkpoint_every=10**9),
        )["history"]
    name = ctx.artifact("models/w2s_lm_" + re.sub(r"[^A-Za-z0-9_.-]+", "_", size))
    atomic_save_dir(ctx.file(name), lambda f: (model.save_pretrained(f), tokenizer.save_pretrained(f)))
    return {"path": name, "params": count_parameters(model), "history": history}


def _alphabet(ctx, w) -> str:
    """The tokenizer's characters: the lab alphabet, and any other character the items use (a file's,
    or a plugin world's own notation)."""
    from ...models.tokenizer import ALPHABET

    chars = {c for role in ("weak", "transfer", "test") for it in items(ctx, w, role) for c in it.text}
    return ALPHABET + "".join(sorted(chars - set(ALPHABET)))


def _pretrained(ctx, w: WeakToStrongConfig) -> dict:
    """Stages: every size pretrained (reused where finished), ``{size: pretrain's result}``."""
    ws = w.shared()  # what the models, supervisors and ceilings are keyed by: not the methods
    digest = ""
    if w.data is not None:  # a file edited in place is a new input
        from ...runtime.context import content_digest

        digest = content_digest(w.data)
    calls = [
        (f"w2s.{s}.pretrain", pretrain, (s, ws, digest + checkpoint_digest(s, "weak_to_strong.sizes"))) for s in w.sizes
    ]
    return dict(zip(w.sizes, ctx.side_by_side(calls)))


def boundary_inputs(ctx, w: WeakToStrongConfig, pair: tuple[str, str]) -> dict:
    """What a method behind the research loop's evaluation boundary is handed for ``pair``: the strong
    model's folder (a transformers folder with its tokenizer), the transfer texts and the weak
    supervisor's P(label = 1) of each. The same stages :func:`run_task` builds, reused where they
    finished: no label, no test text."""
    weak, strong = pair
    lms = _pretrained(ctx, w)
    sup = ctx.stage(f"w2s.{weak}.weak", fit_and_predict, weak, lms[weak], w.shared(), "weak")
    return {
        "strong": str(ctx.file(lms[strong]["path"])),
        "texts": [it.text for it in items(ctx, w, "transfer")],
        "weak_labels": [float(p) for p in sup["transfer"]],
    }


def run_task(ctx, w: WeakToStrongConfig) -> dict:
    ws = w.shared()  # what the models, supervisors and ceilings are keyed by: not the methods
    lms = _pretrained(ctx, w)
    pairs = w.pair_list()
    weak_sizes = list(dict.fromkeys(a for a, _ in pairs))
    strong_sizes = list(dict.fromkeys(b for _, b in pairs))
    sup = {s: ctx.stage(f"w2s.{s}.weak", fit_and_predict, s, lms[s], ws, "weak") for s in weak_sizes}
    ceil = {s: ctx.stage(f"w2s.{s}.ceiling", fit_and_predict, s, lms[s], ws, "transfer") for s in strong_sizes}
    overseen = w.overseer_supervised()
    if overseen and w.data is not None:
        log(f"weak-to-strong: {', '.join(overseen)} skipped: an overseer supervisor needs a world, not a data file")
    overseers: dict = {}

    def method(name: str, a: str, b: str, replicate: int = 0) -> dict | None:
        """Method ``name`` on the pair, as a stage; its supervisor's test predictions beside its own
        where the supervisor is the overseer."""
        cls = method_class(name)
        if cls.supervisor == "overseer":
            if w.data is not None:
                return None
            if a not in overseers:
                overseers[a] = ctx.stage(
                    f"w2s.{a}.overseer", overseer_supervisor, a, lms[a], ws, source_digest(_overseer_class(w))
                )
            supervisor = overseers[a]
        else:
            supervisor = sup[a]
        r = ctx.stage(
            f"w2s.{a}-{b}.{name}.{replicate}",
            run_method,
            name,
            source_digest(cls),
            (a, b),
            models_for(name, (a, b), w, lms),
            supervisor["transfer"],
            w,
            replicate,
        )
        if r is None:
            return None
        return {"test": r["test"], **({"supervisor_test": supervisor["test"]} if cls.supervisor == "overseer" else {})}

    preds: dict = {"pairs": {}}
    for a, b in pairs:
        results = {name: method(name, a, b) for name in w.methods}
        noise = [method("ce", a, b, k)["test"] for k in range(1, w.noise_seeds + 1)] if "ce" in w.methods else []
        preds["pairs"][f"{a}->{b}"] = {
            "weak": sup[a],
            "ceiling": ceil[b],
            "noise": noise,
            "methods": {k: v for k, v in results.items() if v is not None},
        }
    if w.canaries:
        first = sup[pairs[0][0]]
        preds["canaries"] = {k: ctx.stage(f"w2s.canary.{k}", canary, k, first, w) for k in ("majority", "peek")}
    result = ctx.stage("w2s.score", score, w, preds)
    result["sizes"] = {s: lms[s]["params"] for s in w.sizes}
    result["task"] = w.task if w.data is None else "file"
    return result


def _overseer_class(w) -> type:
    from ...registry import overseers

    return overseers.get(w.overseer)


@protocol(
    "weak_to_strong",
    sections={"weak_to_strong": WeakToStrongConfig},
    results=WeakToStrongResults,
    summary=summary,
    headline=headline,
    report=w2s_section,
)
def run(ctx, cfg) -> dict:
    return {"weak_to_strong": run_task(ctx, cfg.weak_to_strong)}
