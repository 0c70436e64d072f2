"""Training batches packed several sequences to a row: the same loss, fewer padding positions computed.

Why: a right-padded batch is as wide as its longest sequence, so with the mixed lengths our worlds give
(a chain of two steps beside one of five) about a fifth to a third of the positions a training step
computes are padding. Packing lays the batch's sequences end to end into rows twice as wide as the
longest one (first fit, longest first) and restarts the position ids at each sequence's start.
Hugging Face's Llama and GPT-2 read such position ids, with no attention mask and no cache, as packed
sequences and attend only within each (``masking_utils.find_packed_sequence_indices``), so every token
sees what it saw in the padded batch, at the same position. The loss stays the mean over the same
labelled tokens (or over the same examples), so a step's gradient is the padded batch's up to the order
of float sums; ``tests/test_packing.py`` checks the loss and its gradients against the padded batch.

What it does not do: change which sequences share a batch (length-bucketed batches did, and changed what
the generator learned; see the README's speed section), or pack models whose attention we have not
checked to read packed positions (``packing_supported``); those train on the padded batch.
"""

from __future__ import annotations

import torch

from .encoding import IGNORE

PACKED_ARCHITECTURES = ("LlamaForCausalLM", "GPT2LMHeadModel")
ROW_FACTOR = 2  # packed rows are this many times as wide as the batch's longest sequence


def packing_supported(model) -> bool:
    """Whether ``model`` attends within packed sequences when given restarting position ids."""
    config = getattr(model, "config", None)
    return (
        type(model).__name__ in PACKED_ARCHITECTURES
        and config is not None
        and getattr(config, "_attn_implementation", None) in ("sdpa", "eager")
    )


def sequence_lengths(ids: torch.Tensor, labels: torch.Tensor, pad: int) -> list[int]:
    """Each right-padded row's length: up to its last labelled token or last non-pad token, whichever is later."""
    positions = torch.arange(1, ids.shape[1] + 1)
    labelled = ((labels != IGNORE) * positions).amax(1)
    unpadded = ((ids != pad) * positions).amax(1)
    return torch.maximum(labelled, unpadded).tolist()


def pack(
    ids: torch.Tensor, labels: torch.Tensor, pad: int, factor: int = ROW_FACTOR, lengths: list[int] | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pack right-padded ``ids``/``labels`` (rows x width) into rows of ``factor`` x the longest sequence.

    Returns packed ids, labels, position ids (restarting at 0 for each sequence; 0 on padding, which
    makes each padding position a sequence of its own) and, per position, the index of the example it
    came from (-1 on padding). Each sequence's first label is ignored: in the padded batch nothing
    predicts a row's first token, and here the token before it belongs to another sequence.
    ``lengths``: each row's length where the caller knows it (default: read off the padding and labels)."""
    lengths = sequence_lengths(ids, labels, pad) if lengths is None else list(lengths)
    width = max(1, factor * max(lengths, default=1))
    rows: list[list[int]] = []  # examples per packed row
    room: list[int] = []
    for r in sorted(range(len(lengths)), key=lambda r: -lengths[r]):  # stable: ties keep batch order
        if lengths[r] == 0:  # an empty row: no token, no label, nothing to pack
            continue
        for b, left in enumerate(room):
            if lengths[r] <= left:
                rows[b].append(r)
                room[b] -= lengths[r]
                break
        else:
            rows.append([r])
            room.append(width - lengths[r])
    shape = (len(rows), width)
    packed_ids = torch.full(shape, pad, dtype=ids.dtype)
    packed_labels = torch.full(shape, IGNORE, dtype=labels.dtype)
    positions = torch.zeros(shape, dtype=torch.long)
    example = torch.full(shape, -1, dtype=torch.long)
    for b, members in enumerate(rows):
        at = 0
        for r in sorted(members):  # batch order within a row
            n = lengths[r]
            packed_ids[b, at : at + n] = ids[r, :n]
            packed_labels[b, at : at + n] = labels[r, :n]
            packed_labels[b, at] = IGNORE
            positions[b, at : at + n] = torch.arange(n)
            example[b, at : at + n] = r
            at += n
    return packed_ids, packed_labels, positions, example


def packed_loss(model, ids, labels, positions, example, per: str = "token") -> torch.Tensor:
    """``train.lm_loss`` on a packed batch: the mean over labelled tokens, or over examples of each one's mean."""
    out = model(input_ids=ids, position_ids=positions, labels=labels if per == "token" else None, use_cache=False)
    if per == "token":
        return out.loss
    logits = out.logits[:, :-1]
    target = labels[:, 1:]
    ce = torch.nn.functional.cross_entropy(
        logits.transpose(1, 2).float(), target, ignore_index=IGNORE, reduction="none"
    )
    mask = target != IGNORE
    owner = torch.where(mask, example[:, 1:], 0).flatten()
    n = int(example.max()) + 1
    sums = torch.zeros(n, dtype=ce.dtype, device=ce.device).index_add_(0, owner, (ce * mask).flatten())
    counts = torch.zeros(n, dtype=ce.dtype, device=ce.device).index_add_(0, owner, mask.flatten().to(ce.dtype))
    return (sums[counts > 0] / counts[counts > 0]).mean()


def hidden_only(model) -> dict:
    """Forward kwargs that skip the language-model head where only hidden states are read (a linear
    verifier head): ``logits_to_keep=1`` where the model takes it. The head's product is a large share
    of a step for a checkpoint with a large vocabulary (GPT-2's 50,257 rows), and its (rows, width,
    vocabulary) logits the largest tensor of the step."""
    import inspect

    try:
        takes = "logits_to_keep" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        takes = False
    return {"logits_to_keep": 1} if takes else {}


def token_logprobs(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """(rows, width) log-probability of each token ``ids[:, t]`` given the ones before it, read off
    ``logits`` at ``t - 1``, in float32; 0 at ``t = 0`` (nothing predicts a row's first token)."""
    lp = torch.nn.functional.log_softmax(logits[:, :-1].float(), dim=-1)
    return torch.nn.functional.pad(lp.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1), (1, 0))


def _packed(model, ids: torch.Tensor, lengths: list[int], **forward):
    labels = torch.full_like(ids, IGNORE)
    packed_ids, _, positions, example = pack(ids, labels, 0, lengths=lengths)
    packed_ids, positions, example = (t.to(ids.device) for t in (packed_ids, positions, example))
    out = model(input_ids=packed_ids, position_ids=positions, use_cache=False, **forward)
    keep = example >= 0
    rows, cols = example[keep], positions[keep]

    def unpack(x: torch.Tensor) -> torch.Tensor:
        laid = x.new_zeros((*ids.shape, *x.shape[2:]))
        laid[rows, cols] = x[keep]
        return laid

    return out, packed_ids, positions, unpack


def packed_forward(model, ids: torch.Tensor, lengths: list[int], hidden: bool = False, logits: bool = True):
    """``model``'s logits (and, with ``hidden``, its last hidden states) for the right-padded ``ids``
    whose rows are ``lengths`` long, computed on packed rows and laid back out as (rows, width, ...):
    position t of row b holds what the padded batch computes there, up to the order of float sums;
    positions past a row's length hold zeros (the padded batch computed padding there). Without
    ``logits`` the model's head is skipped where it can be (:func:`hidden_only`) and None is returned
    in their place."""
    forward = {"output_hidden_states": hidden} | ({} if logits else hidden_only(model))
    out, _, _, unpack = _packed(model, ids, lengths, **forward)
    return (unpack(out.logits) if logits else None), (unpack(out.hidden_states[-1]) if hidden else None)


def packed_token_logprobs(model, ids: torch.Tensor, lengths: list[int]) -> torch.Tensor:
    """:func:`token_logprobs` of the right-padded ``ids`` computed on packed rows: read off the packed
    logits, so only (rows, width) values are laid back out, never the (rows, width, vocabulary) logits.
    Each sequence's first token gets 0, as a padded row's first token does (in a packed row the logits
    before it belong to another sequence)."""
    out, packed_ids, positions, unpack = _packed(model, ids, lengths)
    lp = token_logprobs(out.logits, packed_ids)
    return unpack(torch.where(positions == 0, torch.zeros_like(lp), lp))
