"""Steps joined into one text with a separator, and found again in any text by that separator.

A verifier scores a solution as one text and reads a probability at the end of every step, so the
steps must be joined the same way at training time (from a file's ``completions``) and at reward
time (from a policy's completion, which arrives as one string). Both sides use the separator given
to ``autoalign train`` (TRL's default step separator is ``"\\n"``). Each step's character span
holds the separator that follows it (``join_steps``, shared with ``autoalign.stepwise``), so the spans
tile the text and a step ends at its separator: the position where a PRM reads its verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..stepwise import join_steps

__all__ = ["SeparatorSteps", "join_steps"]


@dataclass(frozen=True)
class SeparatorSteps:
    """Where the steps of a text are, by separator: what ``VerifierReward`` asks a world for."""

    separator: str = "\n"

    def steps(self, text: str) -> list[tuple[int, int]]:
        """Spans of the pieces between separators, each holding the separator after it; a trailing
        separator belongs to the last step, and an empty text has no steps."""
        if not text:
            return []
        if not self.separator:
            return [(0, len(text))]
        spans, start = [], 0
        while start < len(text):
            at = text.find(self.separator, start)
            if at < 0:
                spans.append((start, len(text)))
                break
            end = at + len(self.separator)
            spans.append((start, end))
            start = end
        return spans
