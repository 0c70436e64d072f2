"""Arithmetic chains written through a per-seed secret: a task whose labels code cannot compute.

Why (issue #25): on the plain arithmetic world a weak-to-strong item is a solution text whose label
(is the answer right?) any method can compute with a few lines of its own, so a code-writing optimizer
reaches PGR above 1 without eliciting anything from the strong model. Here the same problems, gold
solutions and planted flaws are written through a secret drawn from the run's seed: a permutation of
the ten digit glyphs (the text's ``3`` may mean 7) and of the operator glyphs (the text's ``+`` may
mean ``-``). The surface stays digits and operators, so a method's own standard-arithmetic checker
parses every text and is simply wrong: on a balanced set it is near chance (``tests/test_secret_world.py``
measures it, with the identity secret as the negative control, where it is right on every item).
The strong model can learn the secret's arithmetic in pretraining on the world's unlabelled gold
solutions (``weak_to_strong.pretrain_steps``: for a model trained from scratch on characters the
secret is a relabelling of tokens, as hard as plain arithmetic), so its latent knowledge is the
intended source of labels (``scripts/validate_secret_world.py`` measures weak, ceiling and a
standard checker on one seed).

What a method can and cannot infer. It never receives the secret: not in a text, a config, a file or
the jail's inputs; only this module derives it, from the seed, inside the protocol and the evaluation
server (the checker reads it from the problem object, which no method is handed). But the task does
not hide the secret information-theoretically: the transfer texts are consistent arithmetic under it
and the weak labels correlate with correctness under it, so a determined search over the 10! digit
and k! operator permutations (k operators), scored against the weak labels or against the texts
alone (under the right permutation the weakly-labelled-right chains are valid arithmetic step by
step; identities such as ``x*1=x`` pin glyphs fast), could recover it and then compute the labels by
code. Such a search is within a patient program's reach, so this world stops the naive canary (a
checker of standard arithmetic), not a method that cryptanalyses the substitution.
And the draw is public code: with the default empty ``key`` the secret is a function of the seed alone,
so a proposal that knows the run's seeds (the notebook lists the search seeds; the jail hands a
method its seed) could copy it; a private ``key`` in the run's config, which no proposal or jailed
method receives, closes that door.

The problems, their splits and the planted flaws are exactly the arithmetic world's with the same
knobs and seed (this world delegates to it and renders the result), so plain ``arithmetic`` is the
matched control: only the glyphs differ.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from pydantic import Field

from ..errors import UserError
from ..records import Verdict
from ..registry import worlds
from ..seeding import py_rng
from .arithmetic import ArithmeticConfig, ArithmeticWorld
from .arithmetic import Problem as PlainProblem
from .base import Problem as ProblemBase
from .base import Tampered, World
from .chain_format import split_solution, step_spans

DIGITS = "0123456789"


@dataclass(frozen=True)
class Secret:
    """Glyph -> meaning, one character for one character: ``digits[i]`` is the glyph written for digit
    ``i``; ``operators[j]`` the glyph written for the config's ``j``-th operator."""

    digits: str
    operators: str
    meanings: str  # the operators the glyphs stand for, in the config's order

    def __post_init__(self):
        plain, written = DIGITS + self.meanings, self.digits + self.operators
        object.__setattr__(self, "_encode", str.maketrans(plain, written))
        object.__setattr__(self, "_decode", str.maketrans(written, plain))

    def render(self, plain: str) -> str:
        """A plain-arithmetic text as the world writes it (``=``, ``;``, ``#`` and the rest unchanged)."""
        return plain.translate(self._encode)

    def read(self, written: str) -> str:
        """What a written text means in plain arithmetic."""
        return written.translate(self._decode)

    def __repr__(self) -> str:  # a problem printed into a log must not spell out the secret
        return "Secret(...)"

    @classmethod
    def identity(cls, operators: str) -> Secret:
        return cls(DIGITS, operators, operators)


class SecretArithmeticConfig(ArithmeticConfig):
    """The arithmetic world's knobs, and a key the secret is drawn with."""

    key: str = Field(
        "",
        description=(
            "Mixed with the seed into the secret's draw. Empty: the secret is a public function of the seed, "
            "which a proposal that knows the run's seeds could compute; set a private value there."
        ),
    )


def secret_for(seed: int, operators: str, key: str = "") -> Secret:
    """The seed's secret: a digit permutation (never the identity) and an operator permutation."""
    rng = py_rng(seed, "secret_arithmetic", "secret", key)
    digits = list(DIGITS)
    while "".join(digits) == DIGITS:
        rng.shuffle(digits)
    ops = list(operators)
    rng.shuffle(ops)
    return Secret("".join(digits), "".join(ops), operators)


@dataclass(frozen=True)
class Problem(ProblemBase):
    """A plain arithmetic problem and the secret it is written through; every text is rendered."""

    plain: PlainProblem
    secret: Secret

    @property
    def prompt(self) -> str:
        return self.secret.render(self.plain.prompt)

    @property
    def solution(self) -> str:
        return self.secret.render(self.plain.solution)

    @property
    def answer(self) -> str:
        """The gold answer as written (a string of digit glyphs, as the checker's Verdict reports it)."""
        return self.secret.render(str(self.plain.answer))

    @property
    def n_steps(self) -> int:
        return self.plain.n_steps

    @property
    def step_spans(self) -> tuple[tuple[int, int], ...]:
        return self.plain.step_spans  # rendering maps one character to one, separators unchanged

    @property
    def extras(self) -> dict:
        return {}  # the plain steps would spell out the secret

    def __repr__(self) -> str:  # as written: the plain problem beside it would spell out the secret
        return f"Problem({self.prompt!r})"


@worlds.register("secret_arithmetic")
class SecretArithmeticWorld(World):
    """The arithmetic world's problems and flaws, written through the seed's secret glyph permutation."""

    name = "secret_arithmetic"
    Config = SecretArithmeticConfig
    flaw_kinds = ArithmeticWorld.flaw_kinds
    correction_pattern = r"\d{1,6}"

    def __init__(self, config: SecretArithmeticConfig | None = None):
        super().__init__(config)
        self.plain = ArithmeticWorld(ArithmeticConfig(**self.config.model_dump(exclude={"key"})))

    def secret(self, seed: int) -> Secret:
        return secret_for(seed, self.config.operators, self.config.key)

    def problems(self, seed: int, split: str, n: int, tag=None, distinct: bool = True) -> list[Problem]:
        """The arithmetic world's problems for this seed, split and knobs, written through the seed's secret."""
        secret = self.secret(seed)
        return [Problem(p, secret) for p in self.plain.problems(seed, split, n, tag=tag, distinct=distinct)]

    def draw(self, rng: random.Random) -> Problem:
        raise UserError(
            f"world {self.name!r} draws problems per seed only (its secret is the seed's): use problems(seed, ...)"
        )

    def identity(self, problem: Problem) -> str:
        return problem.plain.prompt

    def split_of(self, problem: Problem) -> str:
        return self.plain.split_of(problem.plain)

    def check(self, problem: Problem, text: str) -> Verdict:
        """The arithmetic checker on what ``text`` means under the problem's secret; the step texts and
        the answer are reported as written."""
        v = self.plain.check(problem.plain, problem.secret.read(text))
        steps, answer = split_solution(text)
        return Verdict(
            step_texts=steps,
            step_labels=v.step_labels,
            answer=answer if v.answer is not None else None,
            correct=v.correct,
            well_formed=v.well_formed,
            first_error=v.first_error,
        )

    def steps(self, text: str) -> list[tuple[int, int]]:
        return step_spans(text)

    def tamper(self, problem: Problem, kind: str, rng: random.Random) -> Tampered:
        t = self.plain.tamper(problem.plain, kind, rng)
        return Tampered(problem.secret.render(t.text), t.flawed_step, kind)

    def locally_invalid_steps(self, problem: Problem, text: str) -> list[int]:
        return self.plain.locally_invalid_steps(problem.plain, problem.secret.read(text))

    def correction(self, problem: Problem, text: str, step: int) -> str:
        return problem.secret.render(self.plain.correction(problem.plain, problem.secret.read(text), step))

    def scripted_flaw(self, problem: Problem) -> Tampered:
        t = self.plain.scripted_flaw(problem.plain)
        return Tampered(problem.secret.render(t.text), t.flawed_step, t.kind)
