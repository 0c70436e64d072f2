"""The five algorithmic tasks of iterated amplification (Christiano, Shlegeris and Amodei 2018).

Each task is a world whose problems are a small set of *facts* and a *question* about them, written
as one short text a character-level model reads: ``<fact>,<fact>,...:<question>?``. Every answer is
one character (a letter, a digit, ``-`` for "none", ``y``/``n``). A task is sized by its number of
facts, and each question has a *depth*, the quantity its decomposition shrinks.

Each task has two procedures, kept apart on purpose:

- ``decompose(q)``: what the weak expert H does. H may look up single facts, ask subquestions and
  combine their answers; it never computes the answer of anything bigger than one lookup. It is a
  generator: it yields a list of subquestions, receives their answers (from whoever H asks: the
  current model, or an oracle in tests), and returns the answer.
- ``solve(q)``: the ground truth, computed directly (BFS, union-find, ...), used only to evaluate.

Amplifying an oracle answerer with H gives ``solve``'s answer on every question (tested).

| task | facts | question (depth) | H's decomposition |
| --- | --- | --- | --- |
| permutation powering | ``ab`` = sigma(a) is b | ``a*k``: sigma^k(a) (k) | k=1 look up; else y=sigma^(k//2)(a), then sigma^(k-k//2)(y) |
| sequential assignments | ``ab`` = a:=b, ``a3`` = a:=3, in order | ``v``: v's value (v's index) | look up v's definition; a digit, or ask the value of the variable it copies |
| wildcard search | ``0110c`` = key 0110 has value c | ``0*1*``: value of the first matching key, ``-`` if none (wildcards) | no wildcard: look up; else ask with the first ``*`` as 0, then as 1; the first found |
| shortest path | ``ab`` = an edge a->b | ``ab3``: edges from a to b, at most 3, ``-`` if more (bound) | a=b: 0; bound 0: ``-``; else ask each out-neighbour m ``mb(k-1)``: 1 + the least |
| union find | ``ab`` = union(a, b), in order | ``xy``: connected? (number of unions) | no unions: x=y; else last union (a,b): ask on the earlier unions xy, xa, by, xb, ay |
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import ClassVar, Generator

from pydantic import BaseModel, ConfigDict, Field

from ..records import Verdict
from ..registry import worlds
from .base import World

LETTERS = string.ascii_lowercase
NONE = "-"
Asker = Generator[list["Question"], list[str], str]  # H: yields subquestions, gets answers, returns one


@dataclass(frozen=True)
class Question:
    """A question about a set of facts. ``choices`` are the answers that make sense for it."""

    task: str
    facts: tuple[str, ...]
    query: str
    depth: int
    choices: str

    @property
    def prompt(self) -> str:
        return ",".join(self.facts) + ":" + self.query + "?"

    @property
    def size(self) -> int:
        return len(self.facts)


class AlgorithmicConfig(BaseModel):
    """Knobs of an algorithmic task: how many facts a problem has."""

    model_config = ConfigDict(extra="forbid")

    size: int = Field(6, ge=1, le=9, description="Facts per problem (elements, variables, keys, vertices, unions).")


class AlgorithmicWorld(World):
    """One task. Subclasses give ``facts_for``, ``question_at``, ``max_depth``, ``decompose``, ``solve``."""

    # Not a text-solution world: a question is answered in one token by a model that may ask
    # sub-questions (amplification); it honours problems()/check() over all four splits but has no
    # gold step-by-step solutions, step spans or planted flaws.
    solution_text = False

    Config = AlgorithmicConfig
    min_depth: ClassVar[int] = 0

    # -- what a task provides ---------------------------------------------------------------------
    def max_depth(self, size: int) -> int:
        raise NotImplementedError

    def question_at(self, rng: random.Random, size: int, depth: int) -> Question:
        """A random question of this size and depth (fresh facts)."""
        raise NotImplementedError

    def decompose(self, q: Question) -> Asker:
        raise NotImplementedError

    def solve(self, q: Question) -> str:
        raise NotImplementedError

    # -- what every task gets ---------------------------------------------------------------------
    def draw_question(self, rng: random.Random, size: int, depth: int | None = None) -> Question:
        """A question of ``size``; its depth uniform over the task's range unless given."""
        if depth is None:
            depth = rng.randint(self.min_depth, self.max_depth(size))
        return self.question_at(rng, size, depth)

    def top_depths(self, size: int) -> tuple[int, int]:
        """The hard questions: the upper half of the depth range (what is measured)."""
        lo, hi = self.min_depth, self.max_depth(size)
        return lo + (hi - lo + 1) // 2, hi

    def draw(self, rng: random.Random) -> Question:
        """A hard question at the configured size (the test distribution)."""
        lo, hi = self.top_depths(self.config.size)
        return self.question_at(rng, self.config.size, rng.randint(lo, hi))

    def check(self, problem: Question, text: str) -> Verdict:
        answer = text.strip()[:1] if isinstance(text, str) else ""
        ok = answer == self.solve(problem)
        return Verdict(
            step_texts=[answer],
            step_labels=[ok],
            answer=answer or None,
            correct=ok,
            well_formed=len(answer) == 1 and answer in problem.choices,
            first_error=None if ok else 0,
        )


def _facts_map(q: Question) -> dict[str, str]:
    """Facts of the form ``<key><value>`` as a lookup table (H's one allowed operation)."""
    return {f[:-1]: f[-1] for f in q.facts}


# ---------------------------------------------------------------------------------------------
@worlds.register("permutation_powering")
class PermutationPowering(AlgorithmicWorld):
    name = "permutation_powering"
    min_depth = 1

    def max_depth(self, size: int) -> int:
        return size

    def question_at(self, rng, size, depth):
        elems = LETTERS[:size]
        image = list(elems)
        rng.shuffle(image)
        facts = tuple(f"{a}{b}" for a, b in zip(elems, image))
        return self._ask(facts, rng.choice(elems), depth)

    def _ask(self, facts, x: str, k: int) -> Question:
        return Question(self.name, facts, f"{x}*{k}", k, "".join(f[0] for f in facts))

    def decompose(self, q):
        x, k = q.query[0], int(q.query[2:])
        if k == 1:
            return _facts_map(q)[x]
        (y,) = yield [self._ask(q.facts, x, k // 2)]
        (z,) = yield [self._ask(q.facts, y, k - k // 2)]
        return z

    def solve(self, q):
        sigma, x = _facts_map(q), q.query[0]
        for _ in range(int(q.query[2:])):
            x = sigma[x]
        return x


# ---------------------------------------------------------------------------------------------
@worlds.register("sequential_assignments")
class SequentialAssignments(AlgorithmicWorld):
    """Variables a, b, c, ... assigned in order; each a digit or a copy of one of the 3 before it."""

    name = "sequential_assignments"

    def max_depth(self, size: int) -> int:
        return size - 1

    def question_at(self, rng, size, depth):
        facts = []
        for i, v in enumerate(LETTERS[:size]):
            if i and rng.random() < 0.8:
                facts.append(v + LETTERS[rng.randint(max(0, i - 3), i - 1)])
            else:
                facts.append(v + str(rng.randint(0, 9)))
        return self._ask(tuple(facts), depth)

    def _ask(self, facts, index: int) -> Question:
        return Question(self.name, facts, LETTERS[index], index, string.digits)

    def decompose(self, q):
        value = _facts_map(q)[q.query]
        if value.isdigit():
            return value
        (answer,) = yield [self._ask(q.facts, LETTERS.index(value))]
        return answer

    def solve(self, q):
        table, v = _facts_map(q), q.query
        while not table[v].isdigit():
            v = table[v]
        return table[v]


# ---------------------------------------------------------------------------------------------
KEY_BITS = 4
VALUES = "abcdefgh"


@worlds.register("wildcard_search")
class WildcardSearch(AlgorithmicWorld):
    """A table of 4-bit keys with letter values; a pattern's answer is its first matching key's value."""

    name = "wildcard_search"

    def max_depth(self, size: int) -> int:
        return KEY_BITS

    def question_at(self, rng, size, depth):
        keys = sorted(rng.sample([format(i, f"0{KEY_BITS}b") for i in range(2**KEY_BITS)], size))
        facts = tuple(k + rng.choice(VALUES) for k in keys)
        pattern = list(format(rng.randrange(2**KEY_BITS), f"0{KEY_BITS}b"))
        for i in rng.sample(range(KEY_BITS), depth):
            pattern[i] = "*"
        return self._ask(facts, "".join(pattern))

    def _ask(self, facts, pattern: str) -> Question:
        return Question(self.name, facts, pattern, pattern.count("*"), VALUES + NONE)

    def decompose(self, q):
        if "*" not in q.query:
            return _facts_map(q).get(q.query, NONE)
        first, second = (self._ask(q.facts, q.query.replace("*", bit, 1)) for bit in "01")
        a, b = yield [first, second]
        return a if a != NONE else b

    def solve(self, q):
        for key, value in sorted(_facts_map(q).items()):
            if all(p in ("*", c) for p, c in zip(q.query, key)):
                return value
        return NONE


# ---------------------------------------------------------------------------------------------
@worlds.register("shortest_path")
class ShortestPath(AlgorithmicWorld):
    """A directed graph on ``size`` vertices, each with one or two out-edges: edges from a to b, at
    most k (``-`` if b is farther or unreachable). With k = size - 1 that is the shortest path."""

    name = "shortest_path"

    def max_depth(self, size: int) -> int:
        return size - 1

    def question_at(self, rng, size, depth):
        verts = LETTERS[:size]
        facts = []
        for a in verts:
            others = [b for b in verts if b != a]
            for b in sorted(rng.sample(others, min(len(others), rng.randint(1, 2)))):
                facts.append(a + b)
        return self._ask(tuple(facts), rng.choice(verts), rng.choice(verts), depth)

    def _ask(self, facts, a: str, b: str, k: int) -> Question:
        return Question(self.name, facts, f"{a}{b}{k}", k, string.digits[: k + 1] + NONE)

    def decompose(self, q):
        a, b, k = q.query[0], q.query[1], int(q.query[2:])
        if a == b:
            return "0"
        if k == 0:
            return NONE
        neighbours = [f[1] for f in q.facts if f[0] == a]  # H looks up a's edges, one fact at a time
        answers = yield [self._ask(q.facts, m, b, k - 1) for m in neighbours]
        found = [int(d) for d in answers if d != NONE]
        return str(1 + min(found)) if found else NONE

    def solve(self, q):
        a, b, k = q.query[0], q.query[1], int(q.query[2:])
        frontier, seen = {a}, {a}
        for dist in range(k + 1):
            if b in frontier:
                return str(dist)
            frontier = {f[1] for f in q.facts if f[0] in frontier} - seen
            seen |= frontier
        return NONE


# ---------------------------------------------------------------------------------------------
@worlds.register("union_find")
class UnionFind(AlgorithmicWorld):
    """``depth`` unions, in order, among size + 1 elements; are x and y connected after them all?
    A subquestion asks about the same elements after fewer unions (a prefix of the facts)."""

    name = "union_find"

    def max_depth(self, size: int) -> int:
        return size

    def question_at(self, rng, size, depth):
        elems = LETTERS[: size + 1]
        facts = tuple("".join(rng.sample(elems, 2)) for _ in range(depth))
        x, y = rng.sample(elems, 2)
        return self._ask(facts, x, y)

    def _ask(self, facts, x: str, y: str) -> Question:
        return Question(self.name, tuple(facts), x + y, len(facts), "yn")

    def decompose(self, q):
        x, y = q.query
        if not q.facts:
            return "y" if x == y else "n"
        earlier, (a, b) = q.facts[:-1], q.facts[-1]
        xy, xa, by, xb, ay = yield [self._ask(earlier, *p) for p in ((x, y), (x, a), (b, y), (x, b), (a, y))]
        linked = xy == "y" or (xa == "y" and by == "y") or (xb == "y" and ay == "y")
        return "y" if linked else "n"

    def solve(self, q):
        parent: dict[str, str] = {}

        def find(v):
            while parent.get(v, v) != v:
                v = parent[v]
            return v

        for a, b in q.facts:
            parent[find(a)] = find(b)
        x, y = q.query
        return "y" if find(x) == find(y) else "n"


TASKS = ("permutation_powering", "sequential_assignments", "wildcard_search", "shortest_path", "union_find")


def amplify(world: AlgorithmicWorld, questions: list[Question], answer) -> tuple[list[str], int]:
    """Amplify(answerer): H decomposes every question, asks ``answer(subquestions) -> answers`` in
    batched rounds (all pending subquestions of all questions at once), and combines. Returns the
    answers and the number of subquestions asked."""
    out: list[str | None] = [None] * len(questions)
    running: dict[int, tuple[Asker, list[Question]]] = {}
    asked = 0
    for i, q in enumerate(questions):
        g = world.decompose(q)
        if not hasattr(g, "send"):  # H answered by one lookup
            out[i] = g
            continue
        try:
            running[i] = (g, next(g))
        except StopIteration as stop:
            out[i] = stop.value
    while running:
        batch = [sub for _, subs in running.values() for sub in subs]
        asked += len(batch)
        answers = answer(batch) if batch else []
        pos = 0
        for i in list(running):
            g, subs = running[i]
            got, pos = list(answers[pos : pos + len(subs)]), pos + len(subs)
            try:
                running[i] = (g, g.send(got))
            except StopIteration as stop:
                out[i] = stop.value
                del running[i]
    return out, asked


def oracle(world: AlgorithmicWorld):
    """An answerer that is always right (for tests: amplifying it must give the truth)."""
    return lambda qs: [world.solve(q) for q in qs]
