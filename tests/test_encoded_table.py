"""Overseer training encodes its items once (``EncodedTable``) and slices each step's batch from
them. These tests hold that to what it replaced: a slice equals encoding the batch afresh, tensor
for tensor, and a verifier, a student classifier trained from the table ends at the same weights,
bit for bit, as one that encodes every batch afresh (with a control in which misaligned rows are
told apart)."""

from __future__ import annotations

import random

import pytest
import torch
from test_any_checkpoint import bpe_checkpoint

from autoalign.models import build_char_tokenizer, build_model
from autoalign.models.encoding import encode_texts
from autoalign.models.lm import load_pretrained
from autoalign.overseers import training
from autoalign.overseers import verifier as verifier_module
from autoalign.overseers.lm_classifier import Classifier, train_classifier
from autoalign.overseers.training import train_verifier
from autoalign.overseers.verifier import StepVerifier, encode_steps, encode_table
from autoalign.records import LabelledSolution
from autoalign.worlds import ArithmeticConfig, generate
from autoalign.worlds.chain_format import step_spans

FIELDS = ("ids", "step_of_token", "step_end", "step_mask")


@pytest.fixture(scope="module", params=["char", "bpe"])
def tokenizer(request, tmp_path_factory):
    if request.param == "char":
        return build_char_tokenizer()
    return load_pretrained(bpe_checkpoint(tmp_path_factory.mktemp("bpe") / "model"))[1]


def examples(tok, n: int = 120) -> list[LabelledSolution]:
    """Arithmetic solutions of 1 to 5 steps; some with the generator's own tokens, one whose tokens do
    not decode to its text (re-tokenized), one with no text and no steps."""
    out = []
    for i, p in enumerate(generate(3, n, ArithmeticConfig(min_steps=1, max_steps=5))):
        spans = tuple(step_spans(p.solution))
        tokens = tuple(encode_texts(tok, [p.solution])[0]) if i % 3 == 0 else None
        if i == 1:
            tokens = tuple(encode_texts(tok, ["9+9=18"])[0])
        out.append(LabelledSolution(p.prompt, p.solution, spans, tuple(True for _ in spans), tokens))
    out.append(LabelledSolution("1+2=", "", (), (), None))
    return out


def columns(data):
    return [e.prompt for e in data], [e.text for e in data], [list(e.spans) for e in data], [e.tokens for e in data]


@pytest.mark.parametrize("chunk", [1024, 7])  # built in one call, and in chunks of other widths
def test_a_slice_of_the_table_equals_encoding_the_batch_afresh(tokenizer, chunk, monkeypatch):
    monkeypatch.setattr(verifier_module, "TABLE_CHUNK", chunk)
    data = examples(tokenizer)
    table = encode_table(tokenizer, *columns(data))
    rng = random.Random(0)
    for size in (1, 2, 7, 64, 200):
        rows = [rng.randrange(len(data)) for _ in range(size)]
        got, want = table.batch(rows), encode_steps(tokenizer, *columns([data[r] for r in rows]))
        for name in FIELDS:
            assert torch.equal(getattr(got, name), getattr(want, name)), (size, name)
        assert got.lengths == want.lengths
    one = table.batch([len(data) - 1])  # the empty solution alone: one empty step, the width of its prompt
    assert one.step_mask.shape == (1, 1) and not one.step_mask.any()


class Afresh:
    """What training did before the table: encode the batch's items at each step."""

    def __init__(self, tokenizer, prompts, texts, spans, tokens=None, shift: int = 0):
        self.args, self.tokenizer, self.shift = (prompts, texts, spans, tokens), tokenizer, shift

    def batch(self, rows):
        rows = [(r + self.shift) % len(self.args[0]) for r in rows]
        prompts, texts, spans, tokens = ([col[r] for r in rows] if col is not None else None for col in self.args)
        return encode_steps(self.tokenizer, prompts, texts, spans, tokens)


def weights(module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def same(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


def trained_verifier(tok, data, monkeypatch, shift=None) -> list[torch.Tensor]:
    if shift is not None:
        monkeypatch.setattr(training, "encode_table", lambda t, *cols: Afresh(t, *cols, shift=shift))
    verifier = StepVerifier(build_model("llama", "micro", tok, 0), "prm", "loglik")
    train_verifier(verifier, tok, data, 8, batch_size=16, seed=1, buckets=4)
    monkeypatch.undo()
    return weights(verifier)


def test_a_verifier_trained_from_the_table_equals_one_trained_on_fresh_encodings(monkeypatch):
    tok = build_char_tokenizer()
    data = examples(tok)[:-1]
    from_table = trained_verifier(tok, data, monkeypatch)
    assert same(from_table, trained_verifier(tok, data, monkeypatch, shift=0))
    assert not same(from_table, trained_verifier(tok, data, monkeypatch, shift=1))  # control: misaligned rows


class Item:
    def __init__(self, prompt, body):
        self.prompt, self.body = prompt, body


def trained_student(tok, items, soft, monkeypatch, shift=None) -> list[torch.Tensor]:
    if shift is not None:
        monkeypatch.setattr(verifier_module, "encode_table", lambda t, *cols: Afresh(t, *cols, shift=shift))
    clf = Classifier(build_model("llama", "micro", tok, 0), seed=2, head="loglik", task="solution")
    train_classifier(
        clf, tok, items, soft, lambda body: step_spans(body), 8, 16, 1e-3, 1e-2, seed=3, loss="confidence", weight=0.5
    )
    monkeypatch.undo()
    return weights(clf)


def test_a_student_trained_from_the_table_equals_one_trained_on_fresh_encodings(monkeypatch):
    tok = build_char_tokenizer()
    problems = generate(4, 80, ArithmeticConfig(min_steps=1, max_steps=5))
    items = [Item(p.prompt, p.solution) for p in problems]
    soft = [float(i % 3 == 0) * 0.8 + 0.1 for i in range(len(items))]
    from_table = trained_student(tok, items, soft, monkeypatch)
    assert same(from_table, trained_student(tok, items, soft, monkeypatch, shift=0))
    assert not same(from_table, trained_student(tok, items, soft, monkeypatch, shift=1))  # control
