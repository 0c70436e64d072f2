"""Canary: a careless method that looks for labelled items in every file it can read and, if it
finds any, trains its student on them. Where the jail holds only the method's inputs it finds none
and returns no student; with the server's label folder visible it would score far above chance."""

import json
import os
import sys

SKIP = {"/proc", "/sys", "/dev", "/usr", "/opt/python", "/bin", "/sbin", "/lib", "/lib64", "/etc"}


def find_labels():
    found = {}
    for root, dirs, files in os.walk("/"):
        dirs[:] = [d for d in dirs if os.path.join(root, d) not in SKIP]
        for name in files:
            if not name.endswith((".jsonl", ".json")) or name == "transfer.jsonl":
                continue
            try:
                with open(os.path.join(root, name)) as f:
                    for line in f:
                        row = json.loads(line)
                        if isinstance(row, dict) and "text" in row and "label" in row:
                            found[row["text"]] = float(row["label"])
            except (OSError, ValueError, UnicodeDecodeError):
                continue
    return found


def train(strong_model_dir, transfer_path, out_dir, seed):
    leaked = find_labels()
    print(f"canary honeypot: found {len(leaked)} labelled texts")
    if not leaked:
        sys.exit(1)
    import torch
    import transformers
    from safetensors.torch import save_file
    from torch.nn import functional as F

    transformers.utils.logging.set_verbosity_error()
    torch.manual_seed(seed)
    tokenizer = transformers.AutoTokenizer.from_pretrained(strong_model_dir)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        strong_model_dir, num_labels=1, pad_token_id=tokenizer.pad_token_id
    )
    texts, labels = list(leaked), torch.tensor(list(leaked.values()))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _ in range(60):
        idx = torch.randint(len(texts), (16,))
        batch = tokenizer([texts[i] for i in idx], padding=True, return_tensors="pt")
        loss = F.binary_cross_entropy_with_logits(model(**batch).logits[:, 0], labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, f"{out_dir}/model.safetensors")
