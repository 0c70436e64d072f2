"""Canary: a method that writes outside its own folder: into its inputs (the weak labels), the
packages the boundary itself imports, and the jail's root. Only ``/work`` is writable."""

import sys

TARGETS = ("/inputs/transfer.jsonl", "/opt/python/canary.pth", "/canary.txt", "/usr/canary.txt")


def train(strong_model_dir, transfer_path, out_dir, seed):
    wrote = []
    for path in TARGETS:
        try:
            with open(path, "a") as f:
                f.write("written by the canary\n")
            wrote.append(path)
        except OSError as e:
            print(f"canary write_outside: {path}: {type(e).__name__}: {e.strerror}")
    print(f"canary write_outside: wrote {wrote}")
    if not wrote:
        sys.exit(1)
