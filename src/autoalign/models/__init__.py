"""Tiny causal LMs built from config, a character tokenizer, training and batched sampling."""

from .lm import SIZES, build_model, count_parameters, load_pretrained
from .sampling import sample_solutions
from .tokenizer import build_char_tokenizer
from .train import TrainConfig, train_lm

__all__ = [
    "SIZES",
    "TrainConfig",
    "build_char_tokenizer",
    "build_model",
    "count_parameters",
    "load_pretrained",
    "sample_solutions",
    "train_lm",
]
