"""Does a transcript contain the whole proof: every link of the true walk, as a verified quote?

The review found that only a minority of debates show the whole walk, so the judge usually
decides from partial evidence; this is the count that says how often it had the full proof.
"""

from __future__ import annotations

from itertools import pairwise

from ...records import Argument
from ...worlds.facts import Question, walk


def proof_lines(question: Question) -> set[str]:
    """The story lines of the question's true walk (``hops`` of them)."""
    links = {f.source: f.target for f in question.story}
    rooms = walk(links, question.start, question.hops)
    return {f"{a} leads to {b}." for a, b in pairwise(rooms)}


def shows_proof(question: Question, args: tuple[Argument, ...]) -> bool:
    """True when every line of the true walk was quoted and verified (by either side)."""
    said = {a.quote.strip() for a in args if a.verified}
    return proof_lines(question) <= said
