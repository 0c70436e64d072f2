"""The reference method behind the evaluation boundary: the strong model fine-tuned with
cross-entropy on the weak labels (naive weak-to-strong, Burns et al. 2023's baseline).

It is also the contract by example. A method file defines ``train(strong_model_dir, transfer_path,
out_dir, seed)``, runs in the jail with torch and transformers but without autoalign, and writes
``out_dir/model.safetensors``: the state dict of the strong model read as a one-logit sequence
classifier (``AutoModelForSequenceClassification``, ``num_labels=1``), whose sigmoid is
P(label = 1). The boundary tokenizes a text as :func:`encode` does, with the strong model's tokenizer.
"""

import json

import torch
import transformers
from safetensors.torch import save_file
from torch.nn import functional as F
from transformers import AutoModelForSequenceClassification, AutoTokenizer

transformers.utils.logging.set_verbosity_error()  # the new score head is expected, not news
transformers.utils.logging.disable_progress_bar()

STEPS, BATCH, LR = 60, 16, 1e-3


def encode(tokenizer, texts, max_length):
    return tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")


def student(strong_model_dir):
    """The strong model as the boundary's classifier, and its tokenizer."""
    tokenizer = AutoTokenizer.from_pretrained(strong_model_dir, local_files_only=True)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForSequenceClassification.from_pretrained(
        strong_model_dir, num_labels=1, pad_token_id=tokenizer.pad_token_id, local_files_only=True
    )
    return model, tokenizer


def fit(model, tokenizer, texts, labels, seed, steps=STEPS, batch=BATCH, lr=LR):
    """Cross-entropy on soft labels, a constant learning rate, batches drawn with replacement."""
    g = torch.Generator().manual_seed(seed)
    targets = torch.tensor(labels, dtype=torch.float)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    for _ in range(steps):
        idx = torch.randint(len(texts), (batch,), generator=g)
        logits = model(**encode(tokenizer, [texts[i] for i in idx], model.config.max_position_embeddings)).logits
        loss = F.binary_cross_entropy_with_logits(logits[:, 0], targets[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


def save(model, out_dir):
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, f"{out_dir}/model.safetensors")


def train(strong_model_dir, transfer_path, out_dir, seed):
    torch.manual_seed(seed)
    with open(transfer_path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    model, tokenizer = student(strong_model_dir)
    fit(model, tokenizer, [r["text"] for r in rows], [r["weak_label"] for r in rows], seed)
    save(model, out_dir)
