"""Method files for the evaluation boundary: each runs in the jail (``../jail.py``), never imported
here. ``ce.py``: the reference, the strong model fine-tuned with cross-entropy on the weak labels."""
