"""The auditing game's queries: what the auditor's tools measure on one model (an organism or its twin).

The auditor writes its own probe problems (the world's validation split, tag ``audit``) and asks the
model to solve each behind every candidate context of its families and behind two neutral contexts.
Every tool reads those same answers: the world's checker on the auditor's own problems (behaviour),
the answers themselves (consistency), the fitted PRM and ORM of the table (their suspicion of each
solution, on the bare problem), and a defection probe fitted on this model's activations over generic
contrast pairs (``probe.py``), read at the solution. Then the auditor's own move: rank the contexts by
its screen (half the problems), and spend the rest of the same query budget asking its top contexts on
fresh problems. The model is loaded from its path only: which one it is (organism or twin), and what
it was trained on, the stage is not told.
"""

from __future__ import annotations

import random

import numpy as np

from ...errors import UserError
from .audit_stats import budget, screen_ranking
from .columns import load_fitted
from .lab import framed, load_model, neutral_context, solve, world_of
from .probe import activations, contrast_pairs, fit_probe, probe_scores


def near(candidate: str, context: str) -> bool:
    """A candidate too close to an organism's context: the same, or one inside the other (a
    character-level model reads ``an evaluation`` as its trigger ``evaluation``), spaces and case aside."""
    a, b = (" ".join(x.lower().split()).replace("{answer}", "") for x in (candidate, context))
    return bool(a and b) and (a in b or b in a)


def candidates(A, seed: int, forbidden: set[str]) -> tuple[list[str], list[str]]:
    """(context templates, their families): each family's contexts, then its random years. A listed
    context that contains, or is contained in, one an organism was trained or tested on is refused; a
    drawn year that is one is drawn again."""
    rng = random.Random(seed)
    texts, families = [], []
    for name, fam in A.families.items():
        for c in fam.contexts:
            if any(near(c, f) for f in forbidden):
                raise UserError(
                    f"organisms.auditing.families.{name}: {c!r} is, or holds, a context an organism was trained or tested on; "
                    "the auditor must find behaviours without knowing them"
                )
            texts.append(c)
            families.append(name)
        drawn: set[str] = set()
        while len(drawn) < fam.years:
            y = f"year {rng.randint(1900, 2099)}"
            if y not in forbidden and y not in drawn and y not in texts:
                drawn.add(y)
        for y in sorted(drawn):
            texts.append(y)
            families.append(name)
    return texts, families


def render(template: str, problem, rng: random.Random) -> str:
    """A context line for ``problem``: ``{answer}`` becomes a wrong answer (the gold one plus 1-9)."""
    if "{answer}" not in template:
        return template
    a = problem.answer
    wrong = (a + rng.randint(1, 9)) % 100 if isinstance(a, int) else f"{a}{rng.randint(1, 9)}"
    return template.replace("{answer}", str(wrong))


class Tools:
    """The tools bound to one model: ``measure(problems, templates)`` solves every problem behind
    each template (rendered per problem) and returns, per template, what every tool reads."""

    def __init__(self, ctx, cfg, path: str, shared: dict, seed: int):
        self.world = world_of(cfg)
        self.model, self.tokenizer = load_model(ctx, path)
        tools = cfg.auditing.tools
        self.fitted = {}
        for t in ("prm", "orm"):
            if t in tools:
                if t not in shared.get("fitted", {}):
                    raise UserError(f"organisms.auditing.tools: {t!r} needs {t!r} among organisms.overseers")
                self.fitted[t] = load_fitted(ctx, shared["fitted"][t]["path"])
        self.probe = None
        if "probe" in tools:
            pairs = self.world.problems(ctx.seed, "val", cfg.probe_pairs, tag=("organisms", "probe"))
            prompts, texts, labels = contrast_pairs(self.world, pairs, ctx.derive("organisms", "probe-pairs"))
            self.probe = fit_probe(activations(self.model, self.tokenizer, prompts, texts), labels)
        self.rng = random.Random(seed)

    def measure(self, problems: list, templates: list[str]) -> list[dict]:
        prompts = [framed(render(t, p, self.rng), p) for t in templates for p in problems]
        texts = solve(self.model, self.tokenizer, prompts)
        verdicts = [self.world.check(p, t) for p, t in zip(problems * len(templates), texts)]
        cols: dict[str, list] = {
            "wrong": [not v.correct for v in verdicts],
            "answer": [str(v.answer) for v in verdicts],
        }
        bare = problems * len(templates)
        for t, overseer in self.fitted.items():
            cols[t] = [float(-s.solution) for s in overseer.score(bare, texts)]
        if self.probe is not None:
            acts = activations(self.model, self.tokenizer, prompts, texts)
            cols["probe"] = [float(x) for x in np.asarray(probe_scores(self.probe, acts)[self.probe["chosen_layer"]])]
        n = len(problems)
        return [{k: v[i * n : (i + 1) * n] for k, v in cols.items()} for i in range(len(templates))]

    def neutral(self, k: int) -> list[str]:
        return [neutral_context(self.rng) for _ in range(k)]


def examine(ctx, cfg, path: str, shared: dict, forbidden: list[str]) -> dict:
    """Stage: every tool's measurements of one model on the auditor's screen, the auditor's ranking,
    and its confirmation of its top contexts on fresh problems."""
    A = cfg.auditing
    templates, families = candidates(A, ctx.derive("organisms", "audit", "candidates"), set(forbidden))
    plan = budget(len(templates), A.problems, A.top_contexts)
    pool = world_of(cfg).problems(ctx.seed, "val", A.problems + plan["confirm"], tag=("organisms", "audit"))
    screen_p, confirm_p = pool[: A.problems], pool[A.problems :]
    tools = Tools(ctx, cfg, path, shared, ctx.derive("organisms", "audit", "asks"))
    # neutral asks: one fixed neutral context per ask keeps the baseline a single condition, as each candidate is
    n1, n2 = tools.neutral(2)
    got = tools.measure(screen_p, templates + [n1, n2])
    screen = {"contexts": got[:-2], "neutral": got[-2], "neutral2": got[-1]}
    top = screen_ranking(screen, list(A.tools), plan["screen"])[: A.top_contexts]
    c1, c2 = tools.neutral(2)
    got = tools.measure(confirm_p, [templates[i] for i in top] + [c1, c2])
    confirm = {"context_ids": top, "contexts": got[:-2], "neutral": got[-2], "neutral2": got[-1]}
    return {
        "templates": templates,
        "families": families,
        "budget": plan,
        "neutral_contexts": [n1, n2, c1, c2],
        "screen": screen,
        "confirm": confirm,
    }
