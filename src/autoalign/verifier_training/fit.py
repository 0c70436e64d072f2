"""Fine-tuning the verifier with a validation part: keep the weights that did best on it.

``overseers.training.train_verifier`` runs a fixed number of steps. On a user's file that can be too
many: on the own-format arithmetic file a PRM fine-tuned from a backbone that already knew the
arithmetic fell below that backbone's own likelihood on held-out prompts (step AUROC 0.923 before,
0.910 after 300 steps at lr 1e-4, 0.898 at 3e-4) while its training loss kept falling: it learned
the training prompts. So the same schedule runs here with a check every ``check_every`` steps on
validation prompts (never trained or pretrained on), and the weights with the lowest validation loss,
the calibrated head start included, are the ones kept.
"""

from __future__ import annotations

import copy
import math
import random

import torch

from ..overseers.training import BUCKET_STEPS, encode_examples, targets
from ..runtime.progress import progress_bar


def score(verifier, tokenizer, examples) -> list[list[float]]:
    """Every step's probability (PRM: that the step is right; ORM: that the final answer is)."""
    from ..overseers.training import step_probabilities

    return step_probabilities(verifier, tokenizer, [e.prompt for e in examples], [e.text for e in examples],
                              [list(e.spans) for e in examples], batch_size=128, description="evaluating")


def validation_score(verifier, tokenizer, examples) -> tuple[float, float]:
    """(step AUROC, minus the loss) on ``examples``: larger is better, compared in that order. The
    AUROC counts as 0 where the validation steps are all of one class."""
    from .metrics import verifier_metrics

    probs = score(verifier, tokenizer, examples)
    auroc = verifier_metrics([list(e.labels) for e in examples], probs, verifier.kind)["step_auroc"]
    return (auroc if auroc is not None else 0.0, -validation_loss(verifier, tokenizer, examples))


@torch.no_grad()
def validation_loss(verifier, tokenizer, examples, batch_size: int = 128) -> float:
    """Mean loss per labelled step (PRM: up to the first wrong one) over ``examples``."""
    verifier.eval()
    total, count = 0.0, 0.0
    for start in range(0, len(examples), batch_size):
        batch = examples[start:start + batch_size]
        enc = encode_examples(tokenizer, batch)
        labels, mask = targets(batch, verifier.kind, enc.step_mask.size(1))
        n = float(mask.sum())
        total += float(verifier.loss(enc, labels, mask)) * n
        count += n
    return total / max(count, 1.0)


def fit_verifier(verifier, tokenizer, examples, validation, steps: int, batch_size: int = 64, lr: float = 3e-4,
                 head_lr: float = 1e-2, seed: int = 0, check_every: int = 50,
                 description: str = "training verifier") -> dict:
    """Train as ``train_verifier`` does (AdamW, 10% warm-up, cosine to 10%, length-grouped blocks of
    batches) and end with the weights of the best validation check. Returns the loss every 10 steps,
    the validation checks and the step kept (0: the head start, no fine-tuning kept)."""
    head = [verifier.scale, verifier.bias]
    head_ids = {id(p) for p in head}
    body = [p for p in verifier.parameters() if id(p) not in head_ids]
    opt = torch.optim.AdamW([{"params": body, "lr": lr}, {"params": head, "lr": head_lr}], weight_decay=0.0)
    rng = random.Random(seed)

    def check(step: int) -> tuple[float, float]:
        value = validation_score(verifier, tokenizer, validation)
        checks.append({"step": step, "step_auroc": round(value[0], 5), "loss": round(-value[1], 5)})
        return value

    checks: list[dict] = []
    best = (check(0), 0, copy.deepcopy(verifier.state_dict())) if validation else None
    history, running, grouped = [], 0.0, []
    verifier.train()
    with progress_bar(description, total=steps) as bar:
        for step in range(steps):
            warm = min(1.0, (step + 1) / max(1, steps // 10))
            decay = 0.5 * (1 + math.cos(math.pi * step / steps))
            for g, base in zip(opt.param_groups, (lr, head_lr)):
                g["lr"] = base * warm * (0.1 + 0.9 * decay)
            if step % BUCKET_STEPS == 0:
                block = sorted((examples[rng.randrange(len(examples))] for _ in range(batch_size * BUCKET_STEPS)),
                               key=lambda e: len(e.prompt) + len(e.text))
                grouped = [block[k * batch_size:(k + 1) * batch_size] for k in range(BUCKET_STEPS)]
                rng.shuffle(grouped)
            batch = grouped[step % BUCKET_STEPS]
            enc = encode_examples(tokenizer, batch)
            labels, mask = targets(batch, verifier.kind, enc.step_mask.size(1))
            loss = verifier.loss(enc, labels, mask)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(verifier.parameters(), 1.0)
            opt.step()
            running += loss.item()
            if (step + 1) % 10 == 0:
                history.append(round(running / 10, 5))
                bar.update(info=f"loss {running / 10:.3f}")
                running = 0.0
            if validation and ((step + 1) % check_every == 0 or step + 1 == steps):
                value = check(step + 1)
                if value > best[0]:
                    best = (value, step + 1, copy.deepcopy(verifier.state_dict()))
                verifier.train()
            bar.advance(1)
    kept = steps
    if best is not None:
        verifier.load_state_dict(best[2])
        kept = best[1]
    verifier.eval()
    return {"loss_history": history, "validation": checks, "kept_step": kept}
