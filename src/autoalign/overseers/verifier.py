"""Outcome and process reward models (ORM, PRM) on a causal-LM backbone.

Both read a solution as a prompt followed by steps and score it at every step end in a single
forward pass (the label positions of TRL's stepwise format). What they score differs:

* PRM: is *this step* correct? Its logit at step i is ``a * log p(step i | prefix) + b``: the
  backbone's own log-probability of the step's tokens through a learned affine map.
* ORM: will the *final answer* be correct? Its logit at step i is ``a * log p(steps 1..i) + b``.

The label type (``kind``: process labels for a PRM, outcome labels for an ORM) and the head's
``aggregation`` are separate options, so the two can be crossed (the best-of-N 2x2 ablation):

* ``per_step``: the log-likelihood head reads each step's own log-probability, and a solution's
  score aggregates every step's probability (product or minimum); the PRM's default;
* ``cumulative``: the head reads the whole prefix's log-probability, and a solution is scored at
  its last step; the ORM's default;
* ``last_token``: one label per solution, at the last token of its last step (the spans tile the
  line the checker grades), and scored there: a classifier of the whole solution.

``frozen=True`` fits the head alone on a fixed backbone. That only makes sense for the linear head:
an affine map of the likelihood (``a * log p + b``) cannot change the ranking of solutions, so a
frozen log-likelihood verifier would pick exactly what the likelihood floor picks.

Keeping the language-model head means that before training a verifier is exactly the generator's
likelihood, so fine-tuning starts from the backbone's arithmetic instead of erasing it; a fresh
linear head on the hidden state (``head="linear"``) is also available, and is the weak verifier
the trial in ``shared/TRIALS.md`` found to be exploited by best-of-N selection.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..models.device import model_device
from ..models.packing import (
    hidden_only,
    packed_forward,
    packed_token_logprobs,
    packing_supported,
    token_logprobs,
)


@dataclass
class EncodedBatch:
    ids: torch.Tensor  # (B, T) right-padded
    step_of_token: torch.Tensor  # (B, T) index of the step a token belongs to, -1 elsewhere
    step_end: torch.Tensor  # (B, S) position of each step's last token (0 where no step)
    step_mask: torch.Tensor  # (B, S) True where the step exists
    lengths: list[int] | None = None  # each row's tokens before its padding (None: not known)

    def to(self, device) -> "EncodedBatch":
        if self.ids.device == torch.device(device):
            return self
        moved = (t.to(device) for t in (self.ids, self.step_of_token, self.step_end, self.step_mask))
        return EncodedBatch(*moved, lengths=self.lengths)


def encode_steps(
    tokenizer, prompts: list[str], texts: list[str], spans: list[list[tuple[int, int]]], tokens: list | None = None
) -> EncodedBatch:
    """Token ids of ``[BOS] + prompt + text`` and, for every step span (character offsets into
    ``text``, as ``World.steps`` gives them), its tokens: those whose last character lies in it, the
    step ending at the token that holds its last character. The completion is tokenized whole, or
    taken as the generator's own ``tokens`` where given, so the verifier scores exactly the token
    sequence the generator wrote, whatever the tokenizer (character-level or BPE)."""
    from ..models.encoding import completion_tokens, encode_prompts, token_steps

    prompt_ids = encode_prompts(tokenizer, prompts)
    completions = completion_tokens(tokenizer, texts, tokens)
    width = max(1, max(len(p) + len(c) for p, (c, _) in zip(prompt_ids, completions)))
    n_steps = max(1, max((len(sp) for sp in spans), default=1))
    B = len(prompts)
    lengths = [len(p) + len(c) for p, (c, _) in zip(prompt_ids, completions)]
    ids = torch.full((B, width), tokenizer.pad_token_id, dtype=torch.long)
    step_of_token = torch.full((B, width), -1, dtype=torch.long)
    step_end = torch.zeros((B, n_steps), dtype=torch.long)
    step_mask = torch.zeros((B, n_steps), dtype=torch.bool)
    for b, (p, (c, offsets), sp) in enumerate(zip(prompt_ids, completions, spans)):
        ids[b, : len(p) + len(c)] = torch.tensor(p + c, dtype=torch.long)
        of_token, ends = token_steps(offsets, list(sp))
        if c:
            step_of_token[b, len(p) : len(p) + len(c)] = torch.tensor(of_token, dtype=torch.long)
        for j, end in enumerate(ends):
            if end >= 0:
                step_end[b, j] = len(p) + end
                step_mask[b, j] = True
    return EncodedBatch(ids, step_of_token, step_end, step_mask, lengths)


TABLE_CHUNK = 1024  # items encoded per call while building a table


@dataclass
class EncodedTable:
    """Every item of a training set encoded once, each row kept at its own length (so the table's
    memory is the items' tokens, not items x the widest item), so that a step's batch is a few
    copies rather than a fresh tokenization: training draws each item many times (a weak-to-strong
    student about 13 times in 120 steps), and encoding a batch was a tenth of a tiny student's step.
    ``batch(rows)`` equals ``encode_steps`` on those items, tensor for tensor (each row is encoded on
    its own; only the padding depends on the batch: its widest row and most steps)."""

    ids: list[torch.Tensor]
    step_of_token: list[torch.Tensor]
    step_end: list[torch.Tensor]
    step_mask: list[torch.Tensor]
    pad_token_id: int

    def batch(self, rows: list[int]) -> EncodedBatch:
        lengths = [len(self.ids[r]) for r in rows]
        width = max(1, max(lengths, default=0))
        n_steps = max(1, max((len(self.step_end[r]) for r in rows), default=0))
        return EncodedBatch(
            _padded([self.ids[r] for r in rows], width, self.pad_token_id),
            _padded([self.step_of_token[r] for r in rows], width, -1),
            _padded([self.step_end[r] for r in rows], n_steps, 0),
            _padded([self.step_mask[r] for r in rows], n_steps, False),
            lengths,
        )


def _padded(rows: list[torch.Tensor], width: int, fill) -> torch.Tensor:
    out = torch.full((len(rows), width), fill, dtype=rows[0].dtype if rows else torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def encode_table(
    tokenizer, prompts: list[str], texts: list[str], spans: list[list[tuple[int, int]]], tokens: list | None = None
) -> EncodedTable:
    """All items, for ``EncodedTable.batch``: ``encode_steps`` a chunk at a time, rows cut to their own length."""
    table = EncodedTable([], [], [], [], tokenizer.pad_token_id)
    for a in range(0, len(prompts), TABLE_CHUNK):
        cut = slice(a, a + TABLE_CHUNK)
        chunk = encode_steps(
            tokenizer, prompts[cut], texts[cut], spans[cut], tokens[cut] if tokens is not None else None
        )
        for r, (n, sp) in enumerate(zip(chunk.lengths, spans[cut])):
            table.ids.append(chunk.ids[r, :n].clone())
            table.step_of_token.append(chunk.step_of_token[r, :n].clone())
            table.step_end.append(chunk.step_end[r, : len(sp)].clone())
            table.step_mask.append(chunk.step_mask[r, : len(sp)].clone())
    return table


PACK_MIN_PADDING = 0.25  # pack a training batch from this share of padding positions up (measured: see worth_packing)


def worth_packing(batch: EncodedBatch) -> bool:
    """Whether packing this training batch saves time: on length-grouped batches (best-of-N's verifier
    training, 10% padding) packing every step of the small Llama was 0.95-0.97x the padded step (laying
    the values back out costs more than the padding saved), on randomly drawn ones (weak-to-strong
    students, 33% padding) of tiny 1.19-1.20x. ``bench/bench_overseer_training.py`` measures both."""
    if batch.lengths is None:
        return False
    return 1 - sum(batch.lengths) / batch.ids.numel() >= PACK_MIN_PADDING


LABELS = {"prm": "process", "orm": "outcome"}  # what each kind of verifier is taught
AGGREGATIONS = ("per_step", "cumulative", "last_token")
DEFAULT_AGGREGATION = {"prm": "per_step", "orm": "cumulative"}


class StepVerifier(nn.Module):
    """A PRM (``kind="prm"``, process labels) or ORM (``kind="orm"``, outcome labels) with a
    log-likelihood or linear head, read per step, cumulatively or at the last token only."""

    def __init__(
        self, lm, kind: str = "prm", head: str = "loglik", aggregation: str | None = None, frozen: bool = False
    ):
        super().__init__()
        aggregation = aggregation or DEFAULT_AGGREGATION.get(kind, "")
        if kind not in LABELS or head not in ("loglik", "linear") or aggregation not in AGGREGATIONS:
            raise ValueError(f"unknown verifier kind/head/aggregation {kind}/{head}/{aggregation}")
        if frozen and head != "linear":
            raise ValueError(
                "a frozen backbone needs the linear head: an affine map of the likelihood cannot change the ranking"
            )
        self.lm, self.kind, self.head, self.aggregation, self.frozen = lm, kind, head, aggregation, frozen
        if frozen:
            lm.requires_grad_(False)
        device = model_device(lm)  # the head lives where the backbone does, so batches follow it there
        self.scale = nn.Parameter(torch.tensor(1.0, device=device))
        self.bias = nn.Parameter(torch.tensor(0.0, device=device))
        if head == "linear":
            self.linear = nn.Linear(lm.config.hidden_size, 1, device=device)

    def step_logits(self, batch: EncodedBatch) -> torch.Tensor:
        """(B, S) logits, one per step (meaningless where ``step_mask`` is False)."""
        batch = batch.to(self.scale.device)
        linear = self.head == "linear"
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            # training: several solutions to a row (models/packing.py), the same values laid back out
            packed = self.training and worth_packing(batch) and packing_supported(self.lm)
            if linear:
                if packed:
                    hidden = packed_forward(self.lm, batch.ids, batch.lengths, hidden=True, logits=False)[1]
                else:
                    out = self.lm(input_ids=batch.ids, output_hidden_states=True, **hidden_only(self.lm))
                    hidden = out.hidden_states[-1]
            elif packed:
                token_lp = packed_token_logprobs(self.lm, batch.ids, batch.lengths)
            else:
                token_lp = token_logprobs(self.lm(input_ids=batch.ids).logits, batch.ids)  # token t's at position t
        if linear:
            at_end = hidden.gather(1, batch.step_end.unsqueeze(-1).expand(-1, -1, hidden.size(-1)))
            return self.linear(at_end).squeeze(-1)
        in_step = batch.step_of_token >= 0
        token_lp = token_lp * in_step
        if self.aggregation == "per_step":
            S = batch.step_mask.size(1)
            idx = batch.step_of_token.clamp(min=0)
            per_step = torch.zeros(token_lp.size(0), S, dtype=token_lp.dtype, device=token_lp.device).scatter_add(
                1, idx, token_lp
            )
        else:
            per_step = token_lp.cumsum(1).gather(1, batch.step_end)
        return self.scale * per_step + self.bias

    @property
    def labels(self) -> str:
        return LABELS[self.kind]

    def train(self, mode: bool = True) -> StepVerifier:
        super().train(mode)
        if self.frozen:
            self.lm.eval()  # a fixed feature extractor: no dropout either
        return self

    def loss(self, batch: EncodedBatch, labels: torch.Tensor, label_mask: torch.Tensor) -> torch.Tensor:
        logits = self.step_logits(batch).float()  # the loss in float32 under bf16 autocast too
        labels, label_mask = labels.to(logits.device), label_mask.to(logits.device)
        per = F.binary_cross_entropy_with_logits(logits, labels.float(), reduction="none")
        return (per * label_mask).sum() / label_mask.sum().clamp(min=1)


def save_verifier(verifier: StepVerifier, tokenizer, folder) -> None:
    """``save_pretrained`` folder for the backbone and tokenizer, plus ``verifier_head.pt``."""
    from pathlib import Path

    folder = Path(folder)
    verifier.lm.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    head = {k: v for k, v in verifier.state_dict().items() if not k.startswith("lm.")}
    torch.save(
        {
            "kind": verifier.kind,
            "head": verifier.head,
            "aggregation": verifier.aggregation,
            "frozen": verifier.frozen,
            "state": head,
        },
        folder / "verifier_head.pt",
    )


def load_verifier(folder) -> tuple[StepVerifier, object]:
    from pathlib import Path

    from ..models.device import place
    from ..models.lm import load_pretrained

    folder = Path(folder)
    lm, tokenizer = load_pretrained(folder)
    # a head saved on a GPU loads on a machine without one; place() below moves it to the run's device
    saved = torch.load(folder / "verifier_head.pt", weights_only=True, map_location="cpu")
    verifier = StepVerifier(lm, saved["kind"], saved["head"], saved.get("aggregation"), saved.get("frozen", False))
    verifier.load_state_dict(saved["state"], strict=False)
    return place(verifier).eval(), tokenizer  # on the run's device, as every other loaded model
