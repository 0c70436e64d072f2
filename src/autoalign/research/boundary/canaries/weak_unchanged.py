"""Canary: a method that hands back the weak labels unchanged, as a student: it fits the strong model
to the weak supervisor's verdicts (its P(label = 1) thresholded at 0.5) with cross-entropy, copying
them, errors and all, with nothing added to elicit what the strong model knows. It returns a real
student, so neither the jail nor the degeneracy guard stops it (its verdicts do carry the weak
labels' information): what must stop it is the gate's noise floor. Its gain over the hand-written
method must be at or below what identical reruns show, so it is never kept and cannot raise the
reported result.

It must train long enough to copy: at 60 steps of batch 16 (learning rate 1e-3) its student learned
only the class prior (on research_w2s v2's seed 401 inputs it agreed with the weak verdicts on 66% of
transfer texts and said 1 for 96%, where the weak labels say 1 for 67%), so the server flagged it as
degenerate and the gate's noise floor was never reached (results/research_w2s/search2, 4 seeds of 5).
At 600 steps of batch 32 and 3e-4 it agrees on 89% and says 1 for 71% (same inputs;
scripts/check_weak_unchanged.py).
"""

import json

import torch
import transformers
from safetensors.torch import save_file
from torch.nn import functional as F
from transformers import AutoModelForSequenceClassification, AutoTokenizer

STEPS, BATCH, LR = 600, 32, 3e-4


def train(strong_model_dir, transfer_path, out_dir, seed):
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    torch.manual_seed(seed)
    with open(transfer_path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    texts = [r["text"] for r in rows]
    copied = torch.tensor([float(r["weak_label"] > 0.5) for r in rows])
    print(f"canary weak_unchanged: copies {len(texts)} weak verdicts, {int(copied.sum())} of them 1")
    tokenizer = AutoTokenizer.from_pretrained(strong_model_dir, local_files_only=True)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForSequenceClassification.from_pretrained(
        strong_model_dir, num_labels=1, pad_token_id=tokenizer.pad_token_id, local_files_only=True
    )
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.0)
    model.train()
    for _ in range(STEPS):
        idx = torch.randint(len(texts), (BATCH,), generator=g)
        batch = tokenizer(
            [texts[i] for i in idx],
            padding=True,
            truncation=True,
            max_length=model.config.max_position_embeddings,
            return_tensors="pt",
        )
        loss = F.binary_cross_entropy_with_logits(model(**batch).logits[:, 0], copied[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, f"{out_dir}/model.safetensors")
