"""Train a PRM or ORM on your own step labels: ``autoalign train prm|orm``.

TRL dropped its PRM trainer and its stepwise-supervision support, so this package is the trainer
for people who bring a file of labelled steps (TRL's stepwise lines, or preference pairs for an
ORM) and want a verifier they can plug into GRPO as a reward function. Each part is its own small
module: ``steps`` (joining steps into one text and finding them again), ``data`` (reading and
splitting the file), ``backbone`` (which model to fine-tune), ``head_init`` (a calibrated start),
``metrics`` (held-out AUROCs and ProcessBench's F1), ``run`` (the whole command), ``reward``
(loading the result for TRL) and ``demo_data`` (a file in a foreign format, for tests and the
README).
"""

from __future__ import annotations

from importlib import import_module

# Where each public name lives; imported on first use, so reading data or the CLI's help does not
# load torch.
_EXPORTS = {
    "SeparatorSteps": "steps",
    "join_steps": "steps",
    "read_examples": "data",
    "split_examples": "data",
    "write_own_format_stepwise": "demo_data",
    "verifier_metrics": "metrics",
    "load_reward": "reward",
    "TrainOptions": "run",
    "train_from_file": "run",
}
__all__ = [
    "SeparatorSteps",
    "TrainOptions",
    "join_steps",
    "load_reward",
    "read_examples",
    "split_examples",
    "train_from_file",
    "verifier_metrics",
    "write_own_format_stepwise",
]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
