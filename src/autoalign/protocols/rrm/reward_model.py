"""RRM's reward models: a causal char LM pretrained on unlabelled right outcomes, read as a verdict.

Labels are what the user supplies and are scarce; unlabelled text is cheap. So every reward model
starts from one language model pretrained on right outcomes (``7+5-3=9;``, ``47+3-2=48;``) of every
level's lengths, drawn from the ``train`` split (the outcomes judged and measured come from the
``overseer``, ``val`` and ``test`` splits). That gives it latent knowledge of the world's steps; a
reward model reads it with the shared log-likelihood classifier (``overseers/lm_classifier.py``):
an outcome is its prompt (the piece, ``7+5-3=``) and a one-step body (the claim, ``9;``), and its
verdict is an affine map of the backbone's log-probability of the body, fine-tuned (backbone and
head) on the level's labels.

The helper of a level answers "what does this piece reach?" with the option its reward model rates
highest (every value of a chain; the right step and the planted wrong ones of a stretch).

These are not registered overseers: an ``Overseer`` scores a world's problems and written solutions,
while these judge RRM's own pieces (a stretch entered at a stated point, with its claim), trained on
labels the protocol makes; no other protocol has such items to give them.
"""

from __future__ import annotations

import io

import numpy as np
import torch

from ...models import (
    TrainConfig,
    build_char_tokenizer,
    build_model,
    count_parameters,
    load_pretrained,
    train_lm,
)
from ...models.device import place
from ...overseers.lm_classifier import Classifier, predict, train_classifier
from ...runtime.progress import log
from ...runtime.store import atomic_save_dir, atomic_write_bytes
from .outcomes import Outcome, Outcomes
from .sources import make_outcomes


def one_step(body: str) -> list[tuple[int, int]]:
    return [(0, len(body))]


def pretrain(ctx, r) -> dict:
    """Stage: the backbone every reward model starts from, a causal LM trained on unlabelled right
    outcomes of 1 .. (the longest level's) steps."""
    tokenizer = build_char_tokenizer()
    model = place(build_model("llama", r.model_size, tokenizer, seed=ctx.derive("rrm", "lm")))
    outcomes = make_outcomes(r)

    def batch_at(step: int) -> list[tuple[str, str]]:
        pieces = outcomes.pieces(
            1, r.steps_of(r.levels)[1], ctx.seed, "train", r.batch_size, tag=("pretrain", step), judged=False
        )
        items = [outcomes.item(p, outcomes.right_claim(p)) for p in pieces]
        return [(o.prompt, o.body) for o in items]

    log(
        f"rrm: pretraining the {r.model_size} backbone ({count_parameters(model) / 1e6:.2f}M) for "
        f"{r.pretrain_steps} steps on right {r.world.name} outcomes ({r.outcome_kind})"
    )
    history = train_lm(
        model,
        tokenizer,
        batch_at,
        TrainConfig(steps=r.pretrain_steps, lr=r.pretrain_lr, warmup_steps=30, checkpoint_every=10**9),
    )["history"]
    name = ctx.artifact("models/rrm_lm")
    atomic_save_dir(ctx.file(name), lambda f: (model.save_pretrained(f), tokenizer.save_pretrained(f)))
    return {"path": name, "params": count_parameters(model), "history": history}


def new_reward_model(ctx, lm_info: dict, tag) -> tuple[Classifier, object]:
    lm, tokenizer = load_pretrained(ctx.file(lm_info["path"]))
    return Classifier(place(lm), seed=ctx.derive("rrm-head", tag), head="loglik", task="solution"), tokenizer


def train_reward_model(ctx, r, lm_info: dict, items: list[Outcome], labels: list[bool], tag: str):
    clf, tokenizer = new_reward_model(ctx, lm_info, tag)
    train_classifier(
        clf,
        tokenizer,
        items,
        [float(y) for y in labels],
        one_step,
        r.steps,
        r.batch_size,
        r.lr,
        r.head_lr,
        seed=ctx.derive("rrm-batches", tag),
    )
    return clf, tokenizer


def save_reward_model(ctx, clf: Classifier, stem: str) -> str:
    path = ctx.artifact(f"models/{stem}") + ".pt"
    buf = io.BytesIO()
    torch.save(clf.state_dict(), buf)
    atomic_write_bytes(ctx.file(path), buf.getvalue())
    return path


def load_reward_model(ctx, lm_info: dict, path: str) -> tuple[Classifier, object]:
    clf, tokenizer = new_reward_model(ctx, lm_info, "load")
    clf.load_state_dict(torch.load(ctx.file(path), map_location="cpu", weights_only=True))
    return clf.eval(), tokenizer


def p_true(clf: Classifier, tokenizer, items: list[Outcome]) -> np.ndarray:
    return predict(clf, tokenizer, items, one_step, batch_size=512)


def assistant_values(outcomes: Outcomes, clf: Classifier, tokenizer, pieces: list) -> list:
    """What each piece reaches, as the reward model's best-rated option."""
    if not pieces:
        return []
    options = [outcomes.options(p) for p in pieces]
    scores = p_true(clf, tokenizer, [outcomes.item(p, v) for p, opts in zip(pieces, options) for v in opts])
    out, at = [], 0
    for opts in options:
        out.append(opts[int(np.argmax(scores[at : at + len(opts)]))])
        at += len(opts)
    return out
