"""Arithmetic chains in TRL's stepwise format: a solution labelled step by step by the checker.

The format itself (reading, writing, joining steps) is world-agnostic and lives in
``autoalign.stepwise``; it is re-exported here for the callers that found it here. For arithmetic
chains the last completion is the answer (``#32``), and its label is final-answer correctness.
"""

from __future__ import annotations

from ..stepwise import StepwiseExample, read_stepwise_jsonl, write_stepwise_jsonl
from .arithmetic import ANSWER_MARK, Problem, check_solution


def example_from_solution(problem: Problem, solution: str, modulus: int = 100) -> StepwiseExample:
    """Label a (gold or model-written) solution with the world's checker."""
    v = check_solution(problem, solution, modulus)
    completions = list(v.step_texts)
    labels = list(v.step_labels)
    if v.answer is not None or ANSWER_MARK in solution:
        completions.append(f"{ANSWER_MARK}{v.answer if v.answer is not None else ''}")
        labels.append(v.correct)
    return StepwiseExample(problem.prompt, completions, labels)


__all__ = ["StepwiseExample", "example_from_solution", "read_stepwise_jsonl", "write_stepwise_jsonl"]
