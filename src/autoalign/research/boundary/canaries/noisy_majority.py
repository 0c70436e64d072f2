"""Canary: a student that says the weak labels' majority class with a few random flips (about one
item in ten). Its verdicts are not exactly constant, so the protocol's old check (one class for every
item) misses it, yet they carry no information about the label. It returns a real student of the
known architecture, so the jail does not stop it: the evaluation server's degeneracy guard
(``../student.py``: ``degenerate``) must flag it, and a flagged student is never kept nor reported.

How, without a bias in the head: the strong model's pooled hidden states share a common direction
(their mean; language models' states are anisotropic), so a head along it says one class for nearly
every text. A random direction, orthogonal to that mean and to the direction the weak labels vary
along, is added with the weight that makes about ``FLIPS`` of the transfer texts flip: the flips
depend on the text, not on its label.
"""

import json

import torch
import transformers
from safetensors.torch import save_file
from transformers import AutoModelForSequenceClassification, AutoTokenizer

FLIPS = 0.1


def pooled(model, tokenizer, texts):
    """The pooled hidden state the head reads, per text (the head swapped for the identity)."""
    head, model.score = model.score, torch.nn.Identity()
    with torch.no_grad():
        states = torch.cat(
            [
                model(
                    **tokenizer(
                        texts[i : i + 64],
                        padding=True,
                        truncation=True,
                        max_length=model.config.max_position_embeddings,
                        return_tensors="pt",
                    )
                ).logits
                for i in range(0, len(texts), 64)
            ]
        )
    model.score = head
    return states.float()


def unit(v):
    return v / v.norm().clamp_min(1e-12)


def train(strong_model_dir, transfer_path, out_dir, seed):
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    with open(transfer_path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    texts, weak = [r["text"] for r in rows], torch.tensor([r["weak_label"] for r in rows]) > 0.5
    sign = 1.0 if weak.float().mean() >= 0.5 else -1.0
    tokenizer = AutoTokenizer.from_pretrained(strong_model_dir, local_files_only=True)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForSequenceClassification.from_pretrained(
        strong_model_dir, num_labels=1, pad_token_id=tokenizer.pad_token_id, local_files_only=True
    )
    states = pooled(model, tokenizer, texts)
    common = unit(states.mean(0))
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(states.shape[1], generator=g)
    avoid = [common]
    if weak.any() and (~weak).any():
        avoid.append(states[weak].mean(0) - states[~weak].mean(0))
    basis = []  # Gram-Schmidt: the flips follow neither the common direction nor the weak labels
    for v in avoid:
        for u in basis:
            v = v - (v @ u) * u
        basis.append(unit(v))
    for u in basis:
        noise = noise - (noise @ u) * u
    noise = unit(noise)
    a, b = states @ common, states @ noise
    best = min(
        (abs(float((sign * (a * sign + s * b) <= 0).float().mean()) - FLIPS), s)
        for s in [0.0] + [float(x) for x in torch.logspace(-3, 3, 200)]
    )[1]
    head = sign * common + best * noise
    with torch.no_grad():
        head = head * (3.0 / (states @ head).abs().median().clamp_min(1e-12))  # logits of about +-3
        model.score.weight.copy_(head[None, :])
    said = torch.sigmoid(states @ head) > 0.5
    print(
        f"canary noisy_majority: majority class {int(sign > 0)}, says 1 for {float(said.float().mean()):.0%} of "
        f"the transfer texts, flipped {float((said != (sign > 0)).float().mean()):.0%}"
    )
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, f"{out_dir}/model.safetensors")
