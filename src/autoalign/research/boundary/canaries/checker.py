"""Canary: a method that imports the world's checker from autoalign, to label the transfer texts
itself instead of eliciting the strong model. In the jail autoalign is not importable."""

import sys


def train(strong_model_dir, transfer_path, out_dir, seed):
    try:
        from autoalign.worlds import check_solution, parse_prompt
    except ImportError as e:
        print(f"canary checker: no checker ({type(e).__name__}: {e})")
        sys.exit(1)
    print(f"canary checker: imported the checker {check_solution.__module__}.{check_solution.__name__}")
    print(f"canary checker: and the prompt parser {parse_prompt.__name__}")
