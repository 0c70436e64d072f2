"""The ``autoalign train prm|orm`` command: options, the run, and a short table of what it measured.

The two subcommands in ``autoalign/cli/tools.py`` are thin wrappers around :func:`train_command`, which
raises ``UserError`` for a user's mistake (the wrappers turn it into one line and exit code 2).
Options are declared here once, so ``prm`` and ``orm`` cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import UserError
from .run import DEFAULT_PRETRAIN_STEPS, DEFAULT_STEPS

DATA = typer.Option(
    ...,
    "--data",
    help="TRL stepwise JSONL (prompt, completions, labels); for orm also preference JSONL (prompt, chosen, rejected).",
)
MODEL = typer.Option(
    ...,
    "--model",
    help="lab/<size> (micro, tiny, small, medium: trained from scratch on the "
    "data's correct solutions first) or hf/<folder> (a local checkpoint, fine-tuned directly).",
)
OUT = typer.Option(..., "--out", help="Folder for the verifier, verifier.json and metrics.json.")
EVAL_SPLIT = typer.Option(0.2, "--eval-split", help="Share of prompts held out for evaluation (by hash of the prompt).")
STEPS = typer.Option(DEFAULT_STEPS, "--steps", help="Optimizer steps for the verifier.")
PRETRAIN_STEPS = typer.Option(
    None,
    "--pretrain-steps",
    help=f"Language-model steps on the correct solutions "
    f"first (default {DEFAULT_PRETRAIN_STEPS} for lab/<size>, 0 for hf/).",
)
SEPARATOR = typer.Option(
    "\\n",
    "--separator",
    help="Joins a solution's steps and splits them again at reward "
    "time; \\n and \\t are read as newline and tab (TRL's default is a newline).",
)
SEED = typer.Option(0, "--seed", help="Seed of initialisation and batches (the split does not depend on it).")

_ESCAPES = {"\\n": "\n", "\\t": "\t", "\\r": "\r", "\\\\": "\\"}


def unescape(text: str) -> str:
    """``\\n``, ``\\t``, ``\\r`` and ``\\\\`` as the characters they name; everything else as typed."""
    out, i = [], 0
    while i < len(text):
        pair = text[i : i + 2]
        if pair in _ESCAPES:
            out.append(_ESCAPES[pair])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _number(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def summary(metrics: dict, out: Path) -> list[str]:
    """The table the command prints: held-out metrics of the verifier and of its backbone alone."""
    held, pb, base = metrics["held_out"], metrics["processbench"], metrics["backbone_only"]
    secs = metrics["seconds"]
    lines = [
        (
            f"{metrics['kind'].upper()} on {metrics['model']}: held out {held['solutions']} solutions "
            f"({held['erroneous']} with a wrong step), {held['steps_scored']} steps scored"
        ),
        f"  {'':<18}{'verifier':>10}{'backbone alone':>16}",
    ]
    for name, key in (
        ("step AUROC", "step_auroc"),
        ("solution AUROC", "solution_auroc"),
        ("answer AUROC", "answer_auroc"),
    ):
        lines.append(f"  {name:<18}{_number(metrics[key]):>10}{_number(base[key]):>16}")
    lines.append(
        f"  {'ProcessBench F1':<18}{_number(pb['f1']):>10}   (acc erroneous {_number(pb['acc_erroneous'])}, "
        f"acc correct {_number(pb['acc_correct'])})"
    )
    pre = f", pretraining {secs['pretrain']:.0f} s" if "pretrain" in secs else ""
    lines.append(f"took {secs['total']:.0f} s{pre}; saved to {out} (metrics.json, verifier.json)")
    return lines


def train_command(
    kind: str,
    data: Path,
    model: str,
    out: Path,
    eval_split: float = 0.2,
    steps: int = DEFAULT_STEPS,
    pretrain_steps: int | None = None,
    separator: str = "\\n",
    seed: int = 0,
    quiet: bool = False,
) -> dict:
    """Run ``autoalign train KIND``; user errors raise ``UserError``."""
    from ..runtime.progress import set_progress
    from .run import TrainOptions, train_from_file

    set_progress(not quiet)
    if not isinstance(model, str) or not model.strip():
        raise UserError("--model: expected a model address such as lab/tiny or hf/<folder>")
    options = TrainOptions(
        kind=kind,
        data=Path(data),
        model=model,
        out=Path(out),
        eval_split=eval_split,
        steps=steps,
        pretrain_steps=pretrain_steps,
        separator=unescape(separator),
        seed=seed,
    )
    metrics = train_from_file(options, say=lambda line: typer.echo(line, err=True))
    if not quiet:
        for line in summary(metrics, Path(out)):
            typer.echo(line)
    return metrics
