"""The grammar an offline explainer searches: features of a world's text, each with a plain-English name.

Bills et al. (2023) ask a chat model to write a neuron's explanation; here the explanations are drawn
from a fixed grammar, so that explaining needs no model and a planted feature has a known right answer.
A :class:`Feature` is a description and a function ``text -> one value per character`` in [0, 1]
(0/1 for most, graded for positions and values). A token reads the value at its last character, as
``models.encoding.token_steps`` maps tokens to steps.

Two families:

- **text features**, for any world: the token's identity (``the token is '7'``), its character class
  (digit, operator, letter, space, punctuation), the first token after a given character, and its
  position in the text;
- **chain features**, for worlds whose problems are number chains (``World.chains()`` is not None:
  arithmetic, countdown): the text is read as ``prompt + solution``, the prompt ends at the first
  ``=``, the solution's steps are ``world.steps`` spans and each step is ``a op b = r``. They say which
  part the token is in (prompt, step k, answer), its place in its step, the role of the number it is a
  digit of (left operand, operand, result, answer) and values: the number's value, an operand's value,
  and the *running value*: in the prompt the chain evaluated so far with the world's own operation
  (``ChainRules.apply``), in the solution the latest value written (a step's left operand, then its
  result, then the answer). A number counts once its last digit is read.

``build_grammar`` drops features that are constant on the texts at hand and keeps one of each group
of identical signals, so that a planted feature has no exact twin to tie with.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

OPERATORS = "+-*/"
STEP_RE = re.compile(r"(\d+)([+\-*/])(\d+)=(\d+)")
PROMPT_CHAIN_RE = re.compile(r"\d+(?:[+\-*/]\d+)*=")
NUMBER_RE = re.compile(r"\d+")
MAX_STEPS = 8  # step-index features, 1..MAX_STEPS
POSITIONS = 8  # exact-position features, 1..POSITIONS
GRADED_LENGTH = 64  # the graded position reaches 1 at this token


@dataclass(frozen=True)
class Feature:
    """A human-readable explanation and the signal it predicts: ``signal(text)`` has one value per character."""

    description: str
    signal: Callable[[str], np.ndarray]


class Grammar:
    """The features an explainer searches, with each text's feature matrix cached (texts recur over neurons)."""

    def __init__(self, features: Sequence[Feature]):
        self.features = tuple(features)
        self._index = {f.description: i for i, f in enumerate(self.features)}
        if len(self._index) != len(self.features):
            raise ValueError("two grammar features share a description")
        self._cache: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.features)

    @property
    def descriptions(self) -> list[str]:
        return [f.description for f in self.features]

    def index(self, description: str) -> int:
        """Where ``description`` is in the grammar; KeyError if it is not one of its explanations."""
        return self._index[description]

    def matrix(self, text: str) -> np.ndarray:
        """``[len(text), len(self)]``: every feature's value at every character."""
        if text not in self._cache:
            cols = [np.asarray(f.signal(text), dtype=np.float32) for f in self.features]
            self._cache[text] = np.stack(cols, axis=1) if cols else np.zeros((len(text), 0), np.float32)
        return self._cache[text]

    def token_matrix(self, text: str, offsets: Sequence[Sequence[int]]) -> np.ndarray:
        """``[len(offsets), len(self)]``: each token reads the features at its last character."""
        rows = np.array([max(a, b - 1) for a, b in offsets], dtype=int).clip(0, max(len(text) - 1, 0))
        return self.matrix(text)[rows]

    def pruned(self, texts: Sequence[str]) -> "Grammar":
        """The features that vary on ``texts``, one of each group of identical signals (first kept)."""
        pooled = np.concatenate([self.matrix(t) for t in texts if t], axis=0)
        varies = np.ptp(pooled, axis=0) > 0
        _, first = np.unique(pooled.T, axis=0, return_index=True)
        keep = [i for i in sorted(first) if varies[i]]
        return Grammar([self.features[i] for i in keep])


def _chars(pred: Callable[[str], bool]) -> Callable[[str], np.ndarray]:
    return lambda text: np.array([pred(c) for c in text], dtype=np.float32)


def _after(pred: Callable[[str], bool]) -> Callable[[str], np.ndarray]:
    return lambda text: np.array([i > 0 and pred(text[i - 1]) for i in range(len(text))], dtype=np.float32)


def text_features(texts: Sequence[str]) -> list[Feature]:
    """Token identity for every character in ``texts``, character classes, what precedes, position."""
    out = [Feature(f"the token is {c!r}", _chars(lambda x, c=c: x == c)) for c in sorted(set("".join(texts)))]
    out += [
        Feature("the token is a digit", _chars(str.isdigit)),
        Feature("the token is an operator (+ - * /)", _chars(lambda x: x in OPERATORS)),
        Feature("the token is a letter", _chars(str.isalpha)),
        Feature("the token is whitespace", _chars(str.isspace)),
        Feature("the token is punctuation", _chars(lambda x: x in string.punctuation and x not in OPERATORS)),
    ]
    for c in "=;#,":
        out.append(Feature(f"the token is the first token after {c!r}", _after(lambda x, c=c: x == c)))
    out.append(Feature("the token is the first token after an operator", _after(lambda x: x in OPERATORS)))
    out.append(Feature("the token is the first token after a digit", _after(str.isdigit)))
    for k in range(POSITIONS):
        out.append(Feature(f"the token is token {k + 1} of the text", lambda t, k=k: np.arange(len(t)) == k))
    out.append(
        Feature(
            f"position in the text (graded: 0 at the first token, 1 from token {GRADED_LENGTH})",
            lambda t: np.minimum(np.arange(len(t)) / (GRADED_LENGTH - 1), 1.0),
        )
    )
    return out


@dataclass(frozen=True)
class ChainView:
    """One ``prompt + solution`` text read per character (NaN where a value is not defined)."""

    part: np.ndarray  # 0 prompt, 1 solution step, 2 answer
    step: np.ndarray  # step index in the solution (-1 in the prompt; the answer has its own index)
    pos_in_step: np.ndarray  # characters since the start of the step (the prompt is one segment)
    last_in_step: np.ndarray  # the segment's last character
    role: np.ndarray  # of the number the character is a digit of: "", start, operand, left, result, answer
    value: np.ndarray  # of the number the character is a digit of
    running: np.ndarray  # the running value once the character is read


class ChainParser:
    """Reads chain texts with a world's step spans and operation; one parse per text, cached."""

    def __init__(self, world):
        self.world, self.rules = world, world.chains()
        self._cache: dict[str, ChainView] = {}

    def __call__(self, text: str) -> ChainView:
        if text not in self._cache:
            self._cache[text] = self._parse(text)
        return self._cache[text]

    def _parse(self, text: str) -> ChainView:
        n = len(text)
        part, step, pos = np.zeros(n, int), np.full(n, -1), np.zeros(n, int)
        last, role = np.zeros(n, bool), np.full(n, "", dtype=object)
        value, running = np.full(n, np.nan), np.full(n, np.nan)
        cut = text.find("=") + 1 or n
        segments = [(0, cut)] + [(cut + a, cut + b) for a, b in self.world.steps(text[cut:])]
        events: list[tuple[int, float]] = []  # (character where a number completes, running value after it)
        prompt = text[:cut]
        chain = PROMPT_CHAIN_RE.fullmatch(prompt) is not None
        current = None
        for k, m in enumerate(NUMBER_RE.finditer(prompt)):
            v = int(m.group())
            value[m.start() : m.end()] = v
            role[m.start() : m.end()] = ("start" if k == 0 else "operand") if chain else ""
            if chain and (k == 0 or current is not None):  # an undefined operation ends the running value
                current = v if k == 0 else self.rules.apply(current, prompt[m.start() - 1], v)
                if current is not None:
                    events.append((m.end() - 1, current))
        for s, (a, b) in enumerate(segments):
            pos[a:b] = np.arange(b - a)
            if b > a:
                last[b - 1] = True
            if s == 0:
                continue
            step[a:b] = s - 1
            if text.startswith("#", a):
                part[a:b] = 2
                m = NUMBER_RE.match(text, a + 1)
                if m is not None and m.end() <= b:
                    value[m.start() : m.end()], role[m.start() : m.end()] = int(m.group()), "answer"
                    events.append((m.end() - 1, int(m.group())))
                continue
            part[a:b] = 1
            m = STEP_RE.match(text, a)
            if m is None or m.end() > b:
                continue
            for g, name in ((1, "left"), (3, "operand"), (4, "result")):
                value[m.start(g) : m.end(g)], role[m.start(g) : m.end(g)] = int(m.group(g)), name
                if name != "operand":
                    events.append((m.end(g) - 1, int(m.group(g))))
        for i, v in events:  # events are in text order; a value holds until the next one or the solution
            end = cut if i < cut else n
            running[i:end] = v
        return ChainView(part, step, pos, last, role, value, running)


def chain_features(world) -> list[Feature]:
    """Parts, steps, place in step, number roles and values of chain texts, with the world's value range."""
    parse = ChainParser(world)
    top = world.chains().values
    thresholds = sorted({max(1, round(top * f)) for f in (0.1, 0.25, 0.5, 0.75)})

    def feat(description: str, fn: Callable[[ChainView], np.ndarray]) -> Feature:
        return Feature(description, lambda text: np.nan_to_num(np.asarray(fn(parse(text)), dtype=np.float32)))

    out = [
        feat("the token is in the prompt", lambda v: v.part == 0),
        feat("the token is in the solution's steps", lambda v: v.part == 1),
        feat("the token is in the answer (from '#')", lambda v: v.part == 2),
        feat("the token is the first token of the solution", lambda v: (v.step == 0) & (v.pos_in_step == 0)),
        feat("the token ends its step (the separator)", lambda v: v.last_in_step & (v.part == 1)),
        feat(f"step index (graded: 0 in the prompt, 1 at step {MAX_STEPS})", lambda v: (v.step + 1) / MAX_STEPS),
    ]
    for k in range(MAX_STEPS):
        out.append(feat(f"the token is in step {k + 1} of the solution", lambda v, k=k: (v.step == k) & (v.part == 1)))
    for k in range(3):
        out.append(
            feat(f"the token is character {k + 1} of its step", lambda v, k=k: (v.pos_in_step == k) & (v.part > 0))
        )
    for name, what in (
        ("left", "a step's left operand"),
        ("operand", "an operand"),
        ("result", "a step's result"),
        ("answer", "the answer"),
        ("start", "the prompt's first number"),
    ):
        out.append(feat(f"the token is a digit of {what}", lambda v, name=name: v.role == name))
    for t in thresholds:
        out.append(feat(f"the running value so far exceeds {t}", lambda v, t=t: v.running > t))
        out.append(feat(f"the token is a digit of a number >= {t}", lambda v, t=t: v.value >= t))
        out.append(
            feat(
                f"the token is a digit of a step's result >= {t}", lambda v, t=t: (v.role == "result") & (v.value >= t)
            )
        )
    for t in (3, 5, 7):
        out.append(
            feat(f"the token is a digit of an operand >= {t}", lambda v, t=t: (v.role == "operand") & (v.value >= t))
        )
    out.append(feat(f"the running value (graded: value / {top})", lambda v: v.running / top))
    out.append(feat(f"the value of the token's number (graded: value / {top})", lambda v: v.value / top))
    out.append(feat("the running value so far is even", lambda v: np.where(np.isnan(v.running), 0, v.running % 2 == 0)))
    return out


def build_grammar(world, texts: Sequence[str]) -> Grammar:
    """The grammar for ``world``'s texts: text features, plus chain features where the world has chains;
    pruned on ``texts`` (constant features dropped, identical ones merged)."""
    features = text_features(texts)
    if world is not None and world.chains() is not None:
        features += chain_features(world)
    return Grammar(features).pruned(texts)
