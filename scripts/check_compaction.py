"""Tokens of compaction.decode vs decoding.decode on GPT-2 and Llama models (untrained: rows end at every step), batches 128/256/512, T=0/0.7/1: `python scripts/check_compaction.py` prints equal or DIFFERENT per setting."""

import torch

from autoalign.models import build_char_tokenizer, build_model, compaction, decoding
from autoalign.models.encoding import encode_prompts
from autoalign.worlds import ArithmeticConfig, generate

tok = build_char_tokenizer()
world = ArithmeticConfig(min_steps=2, max_steps=5)
prompts = [p.prompt for p in generate(7, 512, world)]
enc = encode_prompts(tok, prompts)
results = []
for arch in ("gpt2", "llama"):
    for size in ("micro", "small"):
        model = build_model(arch, size, tok, 3).eval()
        for bs in (128, 256, 512):
            idx = list(range(bs))
            width = max(len(enc[i]) for i in idx)
            ids = torch.full((bs, width), tok.pad_token_id, dtype=torch.long)
            mask = torch.zeros((bs, width), dtype=torch.long)
            for r, i in enumerate(idx):
                ids[r, width - len(enc[i]) :] = torch.tensor(enc[i])
                mask[r, width - len(enc[i]) :] = 1
            for t in (0.0, 0.7, 1.0):
                outs = []
                for dec in (decoding.decode, compaction.decode):
                    torch.manual_seed(11)
                    outs.append(dec(model, ids, mask, 64, t, tok.pad_token_id, tok.eos_token_id))
                a, b = outs
                eos_rows = int((a == tok.eos_token_id).any(1).sum())
                eq = a.shape == b.shape and bool((a == b).all())
                results.append((arch, size, bs, t, eq, eos_rows))
                print(arch, size, bs, t, "equal" if eq else "DIFFERENT", f"rows ending {eos_rows}/{bs}", flush=True)
print("ALL EQUAL" if all(r[4] for r in results) else "SOME DIFFER")
