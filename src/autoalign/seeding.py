"""One seeding helper for everything: ``rng(seed, *tags)`` and ``derive_seed(seed, *tags)``.

A stream is named by the run's seed and the tags of what draws from it (``"facts", "test"``), hashed
with SHA-256, so streams of different seeds never overlap (as ``seed + k`` did) and adding a new
stream never shifts an old one. Python's ``hash()`` is salted per process and is never used.
"""

from __future__ import annotations

import hashlib
import random

import numpy as np


def derive_seed(*parts) -> int:
    """A stable 31-bit seed from any parts (ints, strings)."""
    h = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(h[:4], "little") & 0x7FFFFFFF


def rng(seed: int, *tags) -> np.random.Generator:
    """A NumPy generator for the stream ``(seed, *tags)``."""
    return np.random.default_rng(derive_seed(seed, *tags))


def py_rng(seed: int, *tags) -> random.Random:
    """A ``random.Random`` for the stream ``(seed, *tags)`` (world generators use the stdlib)."""
    return random.Random(derive_seed(seed, *tags))


def unit_hash(*parts) -> float:
    """A number in [0, 1) fixed by ``parts``: how worlds assign a problem to a split."""
    h = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(h[:8], "little") / 2**64
