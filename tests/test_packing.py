"""Packed training batches (models/packing.py): the padded batch's loss and gradients, on fewer positions."""

from __future__ import annotations

import pytest
import torch

from autoalign.models import TrainConfig, build_char_tokenizer, build_model, train_lm
from autoalign.models.encoding import IGNORE, encode_pairs
from autoalign.models.packing import pack, packed_loss, packing_supported
from autoalign.models.train import lm_loss

PAIRS = [
    ("3+4=", "7"),
    ("12*3-5=", "36-5=31"),
    ("9-2=", "7"),
    ("2*2*2*2=", "4*2*2=8*2=16"),
    ("1+1=", "2"),
    ("7*8-6+1=", "56-6+1=50+1=51"),
]


def _batch():
    tok = build_char_tokenizer()
    ids, labels = encode_pairs(tok, PAIRS)
    return tok, ids, labels


def test_pack_keeps_every_token_once_restarts_positions_and_ignores_each_first_label():
    tok, ids, labels = _batch()
    packed_ids, packed_labels, positions, example = pack(ids, labels, tok.pad_token_id)
    assert packed_ids.shape[0] < ids.shape[0]  # fewer rows than examples
    assert packed_ids.shape[1] == 2 * int((ids != tok.pad_token_id).sum(1).max())
    for r in range(len(PAIRS)):
        n = int((ids[r] != tok.pad_token_id).sum())
        where = (example == r).nonzero()
        assert len(where) == n  # every token of example r, once, in one row, contiguous
        row, cols = int(where[0, 0]), where[:, 1]
        assert (where[:, 0] == row).all() and (cols == torch.arange(int(cols[0]), int(cols[0]) + n)).all()
        assert torch.equal(packed_ids[row, cols], ids[r, :n])
        assert torch.equal(positions[row, cols], torch.arange(n))
        assert packed_labels[row, cols[0]] == IGNORE
        assert torch.equal(packed_labels[row, cols[1:]], labels[r, 1:n])
    assert (packed_labels[example == -1] == IGNORE).all() and (packed_ids[example == -1] == tok.pad_token_id).all()


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
@pytest.mark.parametrize("per", ["token", "example"])
def test_packed_loss_and_gradients_equal_the_padded_batch(arch, per):
    tok, ids, labels = _batch()
    model = build_model(arch, "micro", tok, 0)
    assert packing_supported(model)
    padded = lm_loss(model, ids, labels, per)
    grads = torch.autograd.grad(padded, list(model.parameters()))
    packed = packed_loss(model, *pack(ids, labels, tok.pad_token_id), per=per)
    packed_grads = torch.autograd.grad(packed, list(model.parameters()))
    assert packed.item() == pytest.approx(padded.item(), rel=1e-5)
    for a, b in zip(grads, packed_grads, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_the_check_fails_when_packed_sequences_attend_to_each_other(arch):
    """Negative control: positions that do not restart make one long sequence per row, so tokens attend
    to the sequences before them and the loss moves; the equality above would catch it."""
    tok, ids, labels = _batch()
    model = build_model(arch, "micro", tok, 0)
    packed_ids, packed_labels, positions, example = pack(ids, labels, tok.pad_token_id)
    running = torch.arange(packed_ids.shape[1]).expand_as(positions)
    with torch.no_grad():
        padded = lm_loss(model, ids, labels).item()
        leaking = packed_loss(model, packed_ids, packed_labels, running, example).item()
    assert leaking != pytest.approx(padded, rel=1e-4)


def test_training_packed_follows_the_padded_run_and_counts_the_same_labelled_tokens():
    tok, _, _ = _batch()
    runs = {}
    for packed in (False, True):
        model = build_model("llama", "micro", tok, 0)
        cfg = TrainConfig(steps=20, lr=3e-3, warmup_steps=2, pack=packed)
        runs[packed] = train_lm(model, tok, lambda i: PAIRS, cfg)
    assert runs[True]["labelled_tokens"] == runs[False]["labelled_tokens"]
    assert runs[True]["tokens"] < runs[False]["tokens"]  # fewer positions computed
    loss = {k: [h["loss"] for h in r["history"] if "loss" in h] for k, r in runs.items()}
    assert loss[True] == pytest.approx(loss[False], rel=1e-3)  # float sums in another order, nothing else


def test_models_not_checked_for_packed_attention_train_padded():
    class Other(torch.nn.Module):
        config = type("C", (), {"_attn_implementation": "sdpa"})()

    assert not packing_supported(Other())


def test_an_empty_row_is_left_out_of_a_full_row():
    """An example with no token and no label (an empty prompt and completion without EOS) packs to
    nothing, even where it would sort after a row that is already full."""
    tok, ids, labels = _batch()
    ids = torch.cat([ids, torch.full((1, ids.shape[1]), tok.pad_token_id)])
    labels = torch.cat([labels, torch.full((1, labels.shape[1]), IGNORE)])
    packed_ids, _, _, example = pack(ids, labels, tok.pad_token_id, factor=1)
    assert not (example == len(PAIRS)).any()
    assert int((packed_ids != tok.pad_token_id).sum()) == int((ids != tok.pad_token_id).sum())


# -- verifiers and classifiers: step logits from packed rows (overseers/verifier.py) -----------------

STEP_SPANS = [[(0, 1)], [(0, 4), (4, 7)], [(0, 1)], [(0, 6), (6, 10), (10, 12)], [(0, 1)], [(0, 7), (7, 12), (12, 14)]]


def _verifier(arch: str, head: str, aggregation: str, kind: str = "prm"):
    from autoalign.overseers.verifier import StepVerifier, encode_steps

    tok = build_char_tokenizer()
    lm = build_model(arch, "micro", tok, 0)
    torch.manual_seed(0)
    verifier = StepVerifier(lm, kind, head, aggregation)
    batch = encode_steps(tok, [p for p, _ in PAIRS], [s for _, s in PAIRS], STEP_SPANS)
    return verifier.train(), batch


def _logits_and_grads(verifier, batch):
    logits = verifier.step_logits(batch)
    value = (logits * batch.step_mask).sum()
    params = [p for p in verifier.parameters() if p.requires_grad]
    return logits.detach(), torch.autograd.grad(value, params, allow_unused=True)  # a linear head: scale unused


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
@pytest.mark.parametrize(
    "head, aggregation", [("loglik", "per_step"), ("loglik", "cumulative"), ("linear", "last_token")]
)
def test_training_step_logits_from_packed_rows_equal_the_padded_batch(arch, head, aggregation):
    import dataclasses

    verifier, batch = _verifier(arch, head, aggregation)
    assert max(batch.lengths) == batch.ids.shape[1] > min(batch.lengths)  # padding to pack away
    from autoalign.overseers import verifier as verifier_module

    assert verifier_module.worth_packing(batch)  # this batch is packed, not compared padded to padded
    padded_logits, padded_grads = _logits_and_grads(verifier, dataclasses.replace(batch, lengths=None))
    packed_logits, packed_grads = _logits_and_grads(verifier, batch)
    m = batch.step_mask
    assert torch.allclose(packed_logits[m], padded_logits[m], rtol=1e-5, atol=1e-4)
    for a, b in zip(padded_grads, packed_grads, strict=True):
        assert (a is None and b is None) or torch.allclose(a, b, rtol=1e-4, atol=1e-5)


def test_verifier_packing_check_fails_when_solutions_attend_to_each_other():
    """Negative control: position ids that run on through a packed row let each solution attend to the
    ones packed before it; the step logits move and the equality above would catch it."""
    import dataclasses

    verifier, batch = _verifier("llama", "loglik", "per_step")
    padded, _ = _logits_and_grads(verifier, dataclasses.replace(batch, lengths=None))
    honest, _ = _logits_and_grads(verifier, batch)
    forward = verifier.lm.forward

    def leaking(*args, position_ids=None, **kwargs):
        running = torch.arange(position_ids.shape[1]).expand_as(position_ids)
        return forward(*args, position_ids=running, **kwargs)

    verifier.lm.forward = leaking
    leaked, _ = _logits_and_grads(verifier, batch)
    m = batch.step_mask
    assert torch.allclose(honest[m], padded[m], rtol=1e-5, atol=1e-4)
    assert not torch.allclose(leaked[m], padded[m], rtol=1e-3, atol=1e-2)


def test_scoring_in_eval_mode_stays_on_the_padded_batch(monkeypatch):
    from autoalign.models import packing

    verifier, batch = _verifier("llama", "loglik", "per_step")
    monkeypatch.setattr(packing, "pack", lambda *a, **k: pytest.fail("packed at scoring"))
    verifier.eval()
    with torch.no_grad():
        verifier.step_logits(batch)


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_token_logprobs_read_off_packed_rows_equal_the_padded_ones(arch):
    """The log-probability path lays back out only (rows, width) values, never the vocabulary-wide
    logits: each token's log-probability equals the padded batch's, and a row's first token gets 0."""
    from autoalign.models.packing import packed_token_logprobs, sequence_lengths, token_logprobs

    tok, ids, labels = _batch()
    model = build_model(arch, "micro", tok, 0)
    lengths = sequence_lengths(ids, labels, tok.pad_token_id)
    padded = token_logprobs(model(input_ids=ids).logits, ids)
    packed = packed_token_logprobs(model, ids, lengths)
    inside = torch.arange(ids.shape[1]) < torch.tensor(lengths).unsqueeze(1)
    assert packed.shape == ids.shape and (packed[:, 0] == 0).all() and (packed[~inside] == 0).all()
    assert torch.allclose(packed[inside], padded[inside], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(packed[:, 1:][inside[:, 1:]], padded[:, :-1][inside[:, 1:]], atol=1e-2)  # not shifted


@pytest.mark.parametrize("packed", [True, False])
def test_a_linear_head_skips_the_language_model_head(packed):
    """A linear verifier head reads hidden states only: the model computes the logits of one position,
    not of every position (for a checkpoint with a large vocabulary, the largest product of the step)."""
    import dataclasses
    import functools

    verifier, batch = _verifier("llama", "linear", "last_token")
    batch = batch if packed else dataclasses.replace(batch, lengths=None)
    widths = []
    forward = verifier.lm.forward

    @functools.wraps(forward)  # keeps the signature the head-skipping reads
    def recording(*args, **kwargs):
        out = forward(*args, **kwargs)
        widths.append(out.logits.shape[1])
        return out

    verifier.lm.forward = recording
    verifier.step_logits(batch)
    assert widths == [1]
