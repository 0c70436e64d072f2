"""The critic's language: a fixed, parseable critique, the task texts, and how a critique is graded.

One model per size plays generator, discriminator and critic (as in Saunders et al. 2022), told
apart by what follows the solution:

    generation      7+5*3=                          -> 7+5=12;12*3=36;#36
    discrimination  7+5*3=7+5=12;12*3=35;#35 D:     -> N         (flawed; or Y: sound)
    critique        7+5*3=7+5=12;12*3=35;#35 C:     -> step 2 wrong, should be 36   (or: no flaw)

The verdict is one character, one token for the character tokenizer and for common BPE
vocabularies, so the decision is the whole target: a word ("flawed") would put the decision in its
first token and make the rest of the target a free, predictable echo that dilutes the loss.
Steps are numbered from 1 in critiques. What follows "should be" is the world's correction of the
step (``World.correction``: a value for arithmetic and countdown, by default the gold step as
written), parsed with the world's ``correction_pattern``. The world's checker grades a critique:
*right* if it names the first wrong step (or says "no flaw" of a sound solution), a *hallucination*
if it flags a step that is sound, a *miss* if it says "no flaw" of a flawed solution or cannot be parsed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

DISCRIMINATE = " D:"
CRITIQUE = " C:"
FLAWED, SOUND = "N", "Y"  # the discriminator's verdict: is the solution sound?
NO_FLAW = "no flaw"
NUMBER = r"\d{1,6}"  # a correction that is a value (arithmetic, countdown)


@lru_cache(maxsize=None)
def _critique_re(value_pattern: str) -> re.Pattern:
    return re.compile(rf"^step (\d{{1,3}}) wrong, should be ({value_pattern})$")


@dataclass(frozen=True)
class Critique:
    """A parsed critique: ``step`` is 0-based, None for "no flaw" or unparseable text."""

    step: int | None
    value: str | None
    says_no_flaw: bool
    well_formed: bool


def write_critique(flawed_step: int | None, correct_value: object = None) -> str:
    if flawed_step is None:
        return NO_FLAW
    return f"step {flawed_step + 1} wrong, should be {correct_value}"


def parse_critique(text: object, value_pattern: str = NUMBER) -> Critique:
    """Parse model text; never raises. Only the first line counts; the correction must match
    ``value_pattern`` (the world's ``correction_pattern``)."""
    if not isinstance(text, str):
        return Critique(None, None, False, False)
    line = text.strip().split("\n", 1)[0].strip()
    if line == NO_FLAW:
        return Critique(None, None, True, True)
    m = _critique_re(value_pattern).match(line)
    if m is None or int(m.group(1)) == 0:
        return Critique(None, None, False, False)
    return Critique(int(m.group(1)) - 1, m.group(2), False, True)


@dataclass(frozen=True)
class CritiqueGrade:
    right: bool  # names the first wrong step, or rightly says "no flaw"
    caught: bool  # flawed solution and the flawed step named
    value_right: bool  # caught, and the correction is right too
    hallucination: bool  # flags a step that is not the flawed one


def grade_critique(critique: Critique, flawed_step: int | None, correct_value: object) -> CritiqueGrade:
    if flawed_step is None:
        return CritiqueGrade(critique.says_no_flaw, False, False, critique.step is not None)
    caught = critique.step == flawed_step
    return CritiqueGrade(
        caught, caught, caught and critique.value == str(correct_value), critique.step is not None and not caught
    )


def discrimination_prompt(prompt: str, solution: str) -> str:
    return prompt + solution + DISCRIMINATE


def critique_prompt(prompt: str, solution: str) -> str:
    return prompt + solution + CRITIQUE


# The critic is a language model that writes critiques in this format; the registry names the
# format's parser, which is what turns any model's text into a verdict.
