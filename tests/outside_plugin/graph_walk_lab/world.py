"""The graph-walk world: a list-and-graph task with its own step format and planted flaws.

A problem is a functional graph on ``nodes`` letters (every node has one successor), a start node
and a number of hops. The prompt lists the edges, then the start and the hops::

    ac bd cb da;a3=

and the gold solution writes one hop per step, then the node reached::

    a>c,c>b,b>d,!d

A written step is right iff it is the gold hop at that position (as in process supervision with
first-error labels); the answer is right iff it names the node reached.
"""

from __future__ import annotations

import random
import re

from pydantic import BaseModel, ConfigDict, Field, model_validator

from autoalign.records import Verdict
from autoalign.registry import worlds
from autoalign.worlds.base import ProblemRecord, Tampered, World

LETTERS = "abcdefghij"
_HOP = re.compile(r"^([a-j])>([a-j])$")


class GraphWalkConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    nodes: int = Field(6, ge=3, le=len(LETTERS), description="Nodes in the graph.")
    min_hops: int = Field(2, ge=1)
    max_hops: int = Field(4, ge=1)

    @model_validator(mode="after")
    def _check(self):
        if self.min_hops > self.max_hops:
            raise ValueError("min_hops must be <= max_hops")
        return self


def _walk(succ: dict, start: str, hops: int) -> list[str]:
    path = [start]
    for _ in range(hops):
        path.append(succ[path[-1]])
    return path


def _solution(path: list[str]) -> str:
    return ",".join(f"{a}>{b}" for a, b in zip(path, path[1:])) + f",!{path[-1]}"


def _spans(text: str) -> list[tuple[int, int]]:
    """Each comma-separated piece with its comma: the spans tile the first line."""
    line = text.split("\n", 1)[0]
    spans, start = [], 0
    for i, ch in enumerate(line):
        if ch == ",":
            spans.append((start, i + 1))
            start = i + 1
    if start < len(line):
        spans.append((start, len(line)))
    return spans


def make_problem(succ: dict, start: str, hops: int) -> ProblemRecord:
    edges = " ".join(f"{u}{succ[u]}" for u in sorted(succ))
    path = _walk(succ, start, hops)
    solution = _solution(path)
    return ProblemRecord(
        prompt=f"{edges};{start}{hops}=",
        solution=solution,
        answer=path[-1],
        n_steps=hops,
        step_spans=tuple(_spans(solution)),
        extras={"succ": dict(succ), "start": start},
    )


def parse_prompt(prompt: str) -> ProblemRecord:
    m = re.fullmatch(r"((?:[a-j]{2} ?)+);([a-j])(\d+)=", prompt.strip())
    if m is None:
        raise ValueError(f"not a graph-walk prompt: {prompt!r}")
    succ = {e[0]: e[1] for e in m.group(1).split()}
    return make_problem(succ, m.group(2), int(m.group(3)))


@worlds.register("graph_walk")
class GraphWalkWorld(World):
    name = "graph_walk"
    Config = GraphWalkConfig
    flaw_kinds = ("wrong_edge", "short_walk")

    def draw(self, rng: random.Random) -> ProblemRecord:
        names = LETTERS[: self.config.nodes]
        succ = {u: rng.choice([v for v in names if v != u]) for u in names}
        return make_problem(succ, rng.choice(names), rng.randint(self.config.min_hops, self.config.max_hops))

    def steps(self, text: str) -> list[tuple[int, int]]:
        return _spans(text)

    def check(self, problem, text: str) -> Verdict:
        pieces = [text[a:b].rstrip(",") for a, b in _spans(text)]
        steps = [p for p in pieces if not p.startswith("!")]
        answers = [p[1:] for p in pieces if p.startswith("!")]
        gold = problem.solution.split(",")
        labels = [i < problem.n_steps and s == gold[i] for i, s in enumerate(steps)]
        answer = answers[0] if answers else None
        well_formed = (
            len(answers) == 1
            and pieces[-1].startswith("!")
            and len(steps) == problem.n_steps
            and all(_HOP.match(s) for s in steps)
        )
        first_error = next((i for i, ok in enumerate(labels) if not ok), None)
        return Verdict(
            step_texts=steps,
            step_labels=labels,
            answer=answer,
            correct=answer == problem.answer,
            well_formed=well_formed,
            first_error=first_error,
        )

    def locally_invalid_steps(self, problem, text: str) -> list[int]:
        """A step is locally invalid if it is not an edge, or does not start where the last one ended."""
        succ, at, bad = problem.extras["succ"], problem.extras["start"], []
        pieces = [text[a:b].rstrip(",") for a, b in _spans(text)]
        for i, p in enumerate(pieces):
            if p.startswith("!"):  # the answer: where the walk is, after exactly the hops asked for
                if p[1:] != at or i != problem.n_steps:
                    bad.append(i)
                break
            m = _HOP.match(p)
            if m is None or m.group(1) != at or succ.get(at) != m.group(2):
                bad.append(i)
            at = m.group(2) if m else at
        return bad

    def tamper(self, problem, kind: str, rng: random.Random) -> Tampered:
        succ, start, hops = problem.extras["succ"], problem.extras["start"], problem.n_steps
        if kind == "wrong_edge":  # one hop to a wrong node, then true edges from there: a wrong answer
            for _ in range(20):
                i = rng.randrange(hops)
                path = _walk(succ, start, i)
                wrong = rng.choice([v for v in succ if v not in (succ[path[-1]], path[-1])])
                path = path + _walk(succ, wrong, hops - i - 1)
                text = _solution(path)
                if path[-1] != problem.answer:
                    break
        elif kind == "short_walk":  # every hop written is right, but one hop short; answers where it stopped
            path = _walk(succ, start, hops - 1)
            text = _solution(path) if hops > 1 else f"{start}>{succ[start]},!{start}"
        else:
            raise ValueError(f"unknown graph_walk flaw {kind!r}")
        v = self.check(problem, text)
        flawed = v.first_error if v.first_error is not None else len(v.step_labels)
        return Tampered(text, flawed, kind)

    def parse_prompt(self, prompt: str) -> ProblemRecord:
        return parse_prompt(prompt)
