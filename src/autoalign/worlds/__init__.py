"""Task generators with machine-checkable ground truth, deterministic from a seed."""

from .arithmetic import ArithmeticConfig, Problem, Verdict, check_solution, generate, parse_prompt
from .stepwise import (
    StepwiseExample,
    example_from_solution,
    read_stepwise_jsonl,
    write_stepwise_jsonl,
)

__all__ = [
    "ArithmeticConfig",
    "Problem",
    "StepwiseExample",
    "Verdict",
    "check_solution",
    "example_from_solution",
    "generate",
    "parse_prompt",
    "read_stepwise_jsonl",
    "write_stepwise_jsonl",
]
