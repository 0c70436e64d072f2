"""Reading a user's labelled solutions and splitting off a held-out part by prompt.

Two line formats, the ones TRL's data sets use:

* stepwise supervision ``{"prompt", "completions", "labels"}``: a label per step (PRM or ORM; the
  ORM learns the last label, which is the final answer's);
* preference ``{"prompt", "chosen", "rejected"}``: two whole solutions, the chosen one right and
  the rejected one wrong, each a single step (ORM only: there are no step labels to learn).

The held-out part is chosen by a hash of the prompt, never at random, so the same file always
splits the same way and no prompt (with its several solutions) is on both sides: a verifier is
measured on problems it never saw.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from ..records import LabelledSolution
from ..seeding import unit_hash
from .steps import join_steps

SPLIT_SALT = "autoalign-verifier-eval"


def _preference_examples(path: Path, rows: list[tuple[int, dict]]) -> list[LabelledSolution]:
    from ..config_io import file_name

    out = []
    for lineno, obj in rows:
        where = f"{file_name(path)}:{lineno}"
        for key in ("prompt", "chosen", "rejected"):
            if key not in obj:
                raise UserError(f"{where}: missing key {key!r} (a preference line has prompt, chosen, rejected)")
            if not isinstance(obj[key], str):
                raise UserError(f"{where}: {key!r} must be a string")
        for text, ok in ((obj["chosen"], True), (obj["rejected"], False)):
            out.append(LabelledSolution(obj["prompt"], text, ((0, len(text)),), (ok,)))
    return out


def read_examples(path: str | Path, kind: str, separator: str) -> tuple[list[LabelledSolution], str]:
    """Every labelled solution in ``path`` and the file's format (``"stepwise"`` or ``"preference"``).
    Stepwise completions are joined with ``separator``. Any problem is a one-line UserError naming
    the file and, where there is one, the line."""
    from ..config_io import file_name
    from ..jsonl_io import read_jsonl_lines
    from ..stepwise import read_stepwise_jsonl

    path = Path(path)
    rows = read_jsonl_lines(path)
    if rows and "chosen" in rows[0][1] and "completions" not in rows[0][1]:
        if kind == "prm":
            raise UserError(
                f"{file_name(path)}: preference lines (prompt, chosen, rejected) have no step labels "
                "for a PRM; train an ORM on them (autoalign train orm) or give stepwise lines"
            )
        examples = _preference_examples(path, rows)
        return examples, "preference"
    out = []
    for (lineno, _), e in zip(rows, read_stepwise_jsonl(path)):  # one example a non-blank line, in order
        if not e.completions[-1]:
            raise UserError(
                f"{file_name(path)}:{lineno}: the last completion is empty; a step needs text "
                "for the verifier to read a verdict at its end"
            )
        text, spans = join_steps(e.completions, separator)
        out.append(LabelledSolution(e.prompt, text, spans, tuple(e.labels)))
    return out, "stepwise"


def is_held_out(prompt: str, eval_split: float) -> bool:
    """Whether a prompt is in the held-out part: a pure function of the prompt and the share."""
    return unit_hash(SPLIT_SALT, prompt) < eval_split


def split_examples(
    examples: list[LabelledSolution], eval_split: float
) -> tuple[list[LabelledSolution], list[LabelledSolution]]:
    """(training part, held-out part), by a hash of each example's prompt."""
    if not 0 < eval_split < 1:
        raise UserError(f"--eval-split must be between 0 and 1 (exclusive), not {eval_split}")
    train, held = [], []
    for e in examples:
        (held if is_held_out(e.prompt, eval_split) else train).append(e)
    return train, held


def first_error(labels) -> int | None:
    """Index of the first step labelled wrong, or None when every step is right."""
    return next((i for i, ok in enumerate(labels) if not ok), None)


def check_sizes(
    train: list[LabelledSolution], held: list[LabelledSolution], source: str, min_train: int = 8, min_held: int = 4
) -> None:
    """Enough examples on both sides of the split to train and to measure anything."""
    prompts = len({e.prompt for e in train + held})
    if len(train) < min_train or len(held) < min_held:
        raise UserError(
            f"{source}: too few examples to train and evaluate: {len(train)} for training and {len(held)} held out "
            f"({prompts} distinct prompts); need at least {min_train} and {min_held}: give more data or change "
            "--eval-split"
        )
    if not any(all(e.labels) for e in train):
        raise UserError(f"{source}: no fully-correct solution in the training part; a verifier needs both kinds")
    if all(all(e.labels) for e in train):
        raise UserError(f"{source}: every training solution is labelled correct; a verifier needs wrong ones too")
