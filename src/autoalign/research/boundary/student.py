"""The student a method hands back, and the one way the boundary reads it.

A method returns weights, never predictions: the evaluation server runs the student on texts the
method never saw. The architecture is fixed by the boundary, not by the method: the strong model's
own config (its ``config.json``, from the boundary's copy of the strong model) read as a sequence
classifier with one logit (``AutoModelForSequenceClassification``, ``num_labels=1``), which pools the
hidden state at the last non-padding token. A returned ``model.safetensors`` must be exactly that
model's state dict (every key, every shape): safetensors, so that loading a file a method wrote
executes nothing (no pickle), and ``strict`` loading, so that it cannot carry extra modules. Any
other file the method left (its own config, code, a pickle) is ignored.

P(label = 1 | text) is the sigmoid of that logit, on the strong model's tokenizer with
:func:`encode` (the call a method must train with too). A student that cannot be read is a
:class:`StudentError` with one line; a NaN prediction counts as wrong where it is scored. A student
whose verdicts carry no information about the label (``degenerate``) is flagged where it is scored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

STUDENT_FILE = "model.safetensors"
MAX_BYTES = 512 << 20  # no tiny model's student comes near this
DEGENERATE_ALPHA = 0.01  # a student must show information about the label at this level (``degenerate``)


class StudentError(ValueError):
    """A returned student the boundary cannot read as the known architecture (one line)."""


def strong_parts(strong_dir: str | Path):
    """The strong model's tokenizer and its config as a one-logit sequence classifier."""
    from ...models.lm import transformers_lib

    tf = transformers_lib()
    tokenizer = tf.AutoTokenizer.from_pretrained(strong_dir, local_files_only=True)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    config = tf.AutoConfig.from_pretrained(strong_dir, local_files_only=True, num_labels=1)
    config.pad_token_id = tokenizer.pad_token_id
    return tokenizer, config


def encode(tokenizer, texts: list[str], max_length: int):
    """The batch a student reads: the tokenizer's own call, padded, cut at the model's positions."""
    return tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")


def load_student(strong_dir: str | Path, student_dir: str | Path):
    """(model, tokenizer): the known architecture with the returned weights, or StudentError."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from ...models.lm import transformers_lib

    path = Path(student_dir) / STUDENT_FILE
    if path.is_symlink() or not path.is_file():
        raise StudentError(f"no {STUDENT_FILE} in the returned folder (a regular file, not a link)")
    if path.stat().st_size > MAX_BYTES:
        raise StudentError(f"{STUDENT_FILE} is {path.stat().st_size} bytes, above {MAX_BYTES}")
    tokenizer, config = strong_parts(strong_dir)
    torch.manual_seed(0)  # every weight is overwritten below; this only makes a failed load repeatable
    model = transformers_lib().AutoModelForSequenceClassification.from_config(config)
    try:
        state = load_file(str(path), device="cpu")
        model.load_state_dict(state, strict=True)
    except (SafetensorError, RuntimeError, OSError, ValueError) as e:
        why = " ".join(str(e).split()) or type(e).__name__
        raise StudentError(f"{STUDENT_FILE} is not the strong model's classifier: {why[:300]}") from None
    model.eval()
    return model, tokenizer


def predict(model, tokenizer, texts: list[str], batch_size: int = 64) -> np.ndarray:
    """P(label = 1) per text."""
    import torch

    out = np.zeros(len(texts))
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = encode(tokenizer, texts[start : start + batch_size], model.config.max_position_embeddings)
            logits = model(**batch).logits[:, 0].float()
            out[start : start + batch_size] = torch.sigmoid(logits).numpy()
    return out


def degenerate(probabilities: np.ndarray, labels: list[int], alpha: float = DEGENERATE_ALPHA) -> str | None:
    """Why a student's verdicts carry no more information about the label than a constant (None: they
    carry some). A student that says the majority class with a few random flips is not exactly constant
    (the protocol's old check), yet tells the classes apart no better than a constant does: its balanced
    accuracy is 0.5 up to sampling noise. The rule: its verdicts (P > 0.5; NaN: the wrong class, as
    ``accuracy`` counts it) against the labels in a 2x2 table, and Fisher's exact test of "the verdicts
    say 1 more often when the label is 1" (one-sided, conditional on both margins, so it holds whatever
    share of 1s the student says and the split has); not significant at ``alpha`` -> degenerate. A
    constant student's table has one column (p = 1); a split of one class tells nothing (p = 1: every
    student flagged, the W2S splits are half flawed). A noise student escapes with chance ``alpha``."""
    from scipy import stats

    p, y = np.asarray(probabilities, float), np.asarray(labels, bool)
    said = np.where(np.isfinite(p), p > 0.5, ~y)
    table = [[int(np.sum(said & y)), int(np.sum(~said & y))], [int(np.sum(said & ~y)), int(np.sum(~said & ~y))]]
    pvalue = float(stats.fisher_exact(table, alternative="greater")[1]) if len(y) else 1.0
    if pvalue < alpha:
        return None
    rates = [table[0][0] / max(1, y.sum()), table[1][1] / max(1, (~y).sum())]
    return (
        f"degenerate: its verdicts carry no more information about the label than a constant (balanced "
        f"accuracy {sum(rates) / 2:.3f}, says 1 for {said.mean():.0%} of items; one-sided Fisher p {pvalue:.2g}, "
        f"not below {alpha})"
    )


def accuracy(probabilities: np.ndarray, labels: list[int]) -> float:
    """Share of texts whose P(label = 1) lies on the side of 0.5 of their label (NaN: wrong)."""
    p = np.asarray(probabilities, float)
    right = np.where(np.isfinite(p), (p > 0.5) == np.asarray(labels, bool), False)
    return float(right.mean()) if len(right) else 0.0
