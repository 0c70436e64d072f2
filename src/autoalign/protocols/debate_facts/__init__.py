"""Information-asymmetry debate vs consultancy vs a blind judge (Khan et al. 2024), on the facts world.

Method:
1. Train the judge (``overseers/facts_judge.py``) on transcripts of random quotes from training
   stories, some of them fabricated; then freeze it. The judge never reads a story.
2. Debaters read the story. A debater of strength N draws N candidate quotes (story lines, and now
   and then a fabricated line that would help its side) and says the one after which the judge
   favours its answer most: best-of-N against the judge, Khan et al.'s way of making debaters
   stronger. Every quote passes through the quote checker; the judge sees which were rejected.
3. Protocols on held-out stories, all with the same debater strength:
   debate (honest and dishonest debater, ``rounds`` turns each, alternating, who starts alternates);
   consultancy (one consultant, its side correct or incorrect at random, ``rounds`` turns);
   blind (the judge sees the question and answers only).
4. Cross-play tournament between strengths (every honest strength against every dishonest one);
   Elo ratings from a Bradley-Terry fit with a term for the honest side's advantage; judge accuracy
   in self-play at each strength against that strength's Elo.
5. Checks on the judge (issue #11): a Platt map per protocol fit on that protocol's transcripts of
   held-out calibration questions (``calibration.py``), with accuracy, mean p(correct) and log-loss
   for the raw and calibrated judge; the share of transcripts that show the whole proof
   (``proof.py``); the judge refit without each hand-named feature (``ablation.py``); debaters that
   look one reply ahead (``planning.py``); and walks longer than a debater has quotes
   (``long_walk_hops``).
Accuracies carry 95% bootstrap CIs over questions.

Bound to the facts world by nature: debaters quote story lines that the quote checker verifies and
the judge reads questions about walks through rooms, so this protocol imports ``worlds/facts.py``
directly (the one exception the import contract in ``pyproject.toml`` allows it).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from ...measures import bootstrap_ci, elo_ratings
from ...overseers.facts_judge import QuoteJudge, judge_features
from ...protocol import Section, protocol
from ...report.fmt import text_estimate
from ...results import Estimate
from ...runtime.progress import log
from ...runtime.store import write_jsonl
from ...worlds import make_world
from ...worlds.facts import FactsConfig, Question
from .ablation import run_ablations
from .calibration import fit_platt, scores, to_correct, to_first
from .games import (
    BestOfNDebater,
    consultancy,
    debate,
    fabricated_line,
    play_protocols,
    prob_correct,
    random_transcript,
)
from .planning import run_planning
from .report import facts_section
from .roles import Judge

__all__ = ["BestOfNDebater", "consultancy", "debate", "fabricated_line", "prob_correct", "random_transcript"]


class DebateFactsConfig(Section):
    """Information-asymmetry debate, consultancy and a blind judge on the facts world."""

    facts: FactsConfig = Field(default_factory=FactsConfig)
    rounds: int = Field(3, ge=1, le=10, description="Quotes per debater (and per consultant).")
    judge_train_questions: int = Field(4000, ge=10, description="Random-quote transcripts the judge learns from.")
    test_questions: int = Field(400, ge=10, description="Held-out stories for the protocols.")
    debater_strength: int = Field(
        8, ge=1, description="Best-of-N candidate quotes per turn in the protocol comparison."
    )
    fabricate: float = Field(
        0.3, ge=0, le=1, description="Chance that a debater's candidates include a fabricated quote."
    )
    tournament_strengths: list[int] = Field(
        [1, 2, 4, 8, 16], description="Debater strengths (N) in the Elo tournament; [] skips it."
    )
    tournament_questions: int = Field(300, ge=1, description="Questions per pairing in the tournament.")
    debater_model: str | None = Field(
        None,
        description=(
            "A model address (lab/<folder>, hf/<folder>, openai/<model>) to play debaters and consultants; "
            "default: the built-in quote picker."
        ),
    )
    debater_temperature: float = Field(1.0, ge=0, description="Sampling temperature of a model debater (0: greedy).")
    debater_max_tokens: int = Field(24, ge=1, description="Longest reply of a model debater, in tokens.")
    judge_model: str | None = Field(None, description="A model address to play the judge; default: the trained judge.")
    calibration_questions: int = Field(
        400,
        ge=10,
        description=(
            "Held-out questions (the world's val split) on which each protocol is played to fit its calibration map."
        ),
    )
    ablation_questions: int = Field(
        400,
        ge=0,
        description=(
            "Test questions replayed per feature ablation of the judge (at most test_questions); 0 skips ablations."
        ),
    )
    planning_questions: int = Field(
        200,
        ge=0,
        description=(
            "Test questions on which debaters that look one reply ahead are compared (at most test_questions); 0 skips."
        ),
    )
    long_walk_hops: int = Field(
        0,
        ge=0,
        le=8,
        description=(
            "Exploratory: also run the protocols on stories whose walk has this many links, with a judge trained "
            "on them (more links than a debater has quotes: no debater can show the whole proof); 0 skips."
        ),
    )
    long_walk_questions: int = Field(200, ge=10, description="Test questions in the long-walk setting.")


def judge_questions(seed: int, d: DebateFactsConfig) -> list[Question]:
    """The judge's training questions: the world's overseer split."""
    return make_world("facts", d.facts).problems(seed, "overseer", d.judge_train_questions)


def test_questions(ctx, d: DebateFactsConfig) -> list[Question]:
    return make_world("facts", d.facts).problems(ctx.seed, "test", d.test_questions)


def calibration_questions(seed: int, d: DebateFactsConfig) -> list[Question]:
    """Questions for the calibration maps: the world's val split, disjoint from the judge's
    training questions (overseer) and the test questions by construction (``worlds/base.py``)."""
    return make_world("facts", d.facts).problems(seed, "val", d.calibration_questions)


def judge_training_set(ctx, d: DebateFactsConfig) -> tuple[list, list[bool]]:
    """The random-quote transcripts the judge learns from, and whether answer 0 is right in each."""
    rng = ctx.rng("facts", "judge-transcripts")
    questions = judge_questions(ctx.seed, d)
    return [random_transcript(q, d.rounds, d.fabricate, rng) for q in questions], [q.correct == 0 for q in questions]


def train_judge(ctx, d: DebateFactsConfig) -> dict:
    """Stage: the judge, fitted on random-quote transcripts of the world's overseer split (or, with
    ``judge_model``, nothing to fit: the model judges as it is)."""
    if d.judge_model is not None:
        return {"model": d.judge_model}
    views, labels = judge_training_set(ctx, d)
    judge = QuoteJudge.fit(views, labels)
    log("facts judge weights: " + ", ".join(f"{n} {c:+.2f}" for n, c in zip(judge.to_dict()["features"], judge.coef)))
    return judge.to_dict()


def make_judge(judge_dict: dict, d: DebateFactsConfig) -> Judge:
    if "model" in judge_dict:
        from ...models.providers import open_model
        from .model_roles import ModelJudge

        return ModelJudge(open_model(judge_dict["model"], "debate_facts.judge_model"))
    return QuoteJudge.from_dict(judge_dict)


def debater_factory(ctx, judge: Judge, d: DebateFactsConfig, rng, tag: str, log_: dict):
    """``make(strength)``: a new debater of that strength, built-in or played by a model."""
    if d.debater_model is None:
        return lambda n: BestOfNDebater(judge, n, d.fabricate, rng)
    from ...models.providers import open_model
    from .model_roles import ModelDebater

    model = open_model(d.debater_model, "debate_facts.debater_model")
    count = iter(range(1 << 62))
    return lambda n: ModelDebater(
        model, judge, n, d.debater_temperature, d.debater_max_tokens, ctx.derive("facts", tag, next(count)), log_
    )


PROTOCOLS = ("debate", "consultancy", "consultancy_honest", "consultancy_dishonest", "blind")


def _per_protocol(rows: list[dict], key) -> dict[str, np.ndarray]:
    """``key(row, protocol)`` for each protocol's questions (the consultancy halves split by side)."""
    out = {p: [] for p in PROTOCOLS}
    for r in rows:
        out["debate"].append(key(r, "debate"))
        out["consultancy"].append(key(r, "consultancy"))
        out["consultancy_honest" if r["consultant_honest"] else "consultancy_dishonest"].append(key(r, "consultancy"))
        out["blind"].append(key(r, "blind"))
    return {p: np.asarray(v, dtype=float) for p, v in out.items()}


def calibrate(test_rows: list[dict], cal_rows: list[dict], boot: dict) -> dict:
    """A Platt map per protocol (debate, consultancy, blind) fit on the calibration rows, applied to
    the test rows; raw and calibrated scores per protocol and the paired differences of p(correct)."""
    maps = {}
    for proto in ("debate", "consultancy", "blind"):
        correct = np.asarray([r["question"].correct for r in cal_rows])
        maps[proto] = fit_platt(to_first([r[proto] for r in cal_rows], correct), correct == 0)

    def calibrated(r: dict, proto: str) -> float:
        c = r["question"].correct
        return float(to_correct(maps[proto](to_first(r[proto], c)), c))

    raw = _per_protocol(test_rows, lambda r, proto: r[proto])
    cal = _per_protocol(test_rows, calibrated)
    out: dict = {"questions": len(cal_rows), "maps": {k: m.to_dict() for k, m in maps.items()}}
    for name, p in (("raw", raw), ("calibrated", cal)):
        out[name] = {proto: scores(v, boot) for proto, v in p.items()}
        out[f"{name}_diff"] = {
            "debate_minus_consultancy": bootstrap_ci(p["debate"] - p["consultancy"], **boot),
            "consultancy_minus_blind": bootstrap_ci(p["consultancy"] - p["blind"], **boot),
        }
    return out


def proof_share(rows: list[dict], boot: dict) -> dict:
    """How often each protocol's transcript shows the whole true walk, and debate accuracy with and
    without it (plain shares; None where no debate fell in the group)."""
    shown = _per_protocol(rows, lambda r, proto: r.get(f"{proto}_proof", False))
    out = {p: bootstrap_ci(shown[p], **boot) for p in PROTOCOLS if p != "blind"}
    won = np.asarray([r["debate"] > 0.5 for r in rows], float)
    with_proof = shown["debate"].astype(bool)
    out["debate_accuracy_with_proof"] = float(won[with_proof].mean()) if with_proof.any() else None
    out["debate_accuracy_without_proof"] = float(won[~with_proof].mean()) if (~with_proof).any() else None
    return out


def evaluate_protocols(ctx, judge_dict: dict, d: DebateFactsConfig) -> dict:
    """Stage: debate, consultancy and the blind judge on the same test questions; the same protocols
    on the calibration questions, to fit and apply each protocol's calibration map."""
    judge, questions = make_judge(judge_dict, d), test_questions(ctx, d)
    rng = ctx.rng("facts", "protocols")
    turns: dict = {}
    factory = debater_factory(ctx, judge, d, rng, "protocols", turns)
    rows_ = play_protocols(questions, judge, lambda: factory(d.debater_strength), rng, d.rounds)
    cal_rng = ctx.rng("facts", "calibration")
    cal_factory = debater_factory(ctx, judge, d, cal_rng, "calibration", turns)
    cal_rows = play_protocols(
        calibration_questions(ctx.seed, d), judge, lambda: cal_factory(d.debater_strength), cal_rng, d.rounds
    )
    rows = [
        {
            "question": r["question"].prompt,
            "story": r["question"].text,
            "correct": r["question"].answers[r["question"].correct],
            "debate": [a.__dict__ for a in r["debate_args"]],
            "debate_p_correct": r["debate"],
            "debate_shows_proof": r["debate_proof"],
            "consultant_side_correct": r["consultant_honest"],
            "consultancy": [a.__dict__ for a in r["consultancy_args"]],
            "consultancy_p_correct": r["consultancy"],
        }
        for r in rows_
    ]
    write_jsonl(ctx.file(ctx.artifact("samples/debate_facts") + ".jsonl"), rows)
    boot = dict(ctx.boot, unit="questions")
    acc = _per_protocol(rows_, lambda r, proto: r[proto] > 0.5)
    out = {name: bootstrap_ci(v, **boot) for name, v in acc.items()}
    out["debate_minus_consultancy"] = bootstrap_ci(acc["debate"] - acc["consultancy"], **boot)
    out["consultancy_minus_blind"] = bootstrap_ci(acc["consultancy"] - acc["blind"], **boot)
    out["calibration"] = calibrate(rows_, cal_rows, boot)
    out["proof_shown"] = proof_share(rows_, boot)
    if turns:  # a model played the debaters: how often its quote was not a story line
        out["unverified_quotes"] = turns["unverified"] / max(1, turns["turns"])
        log(f"facts: {turns['unverified']} of {turns['turns']} model-debater quotes were not story lines")
    return out


def ablation_stage(ctx, judge_dict: dict, d: DebateFactsConfig) -> dict:
    """Stage: the judge refit without each hand-named feature, protocols replayed against it."""
    views, labels = judge_training_set(ctx, d)
    x = np.stack([judge_features(v) for v in views])
    questions = test_questions(ctx, d)[: d.ablation_questions]
    return {
        "ablation": run_ablations(
            x, labels, questions, d, lambda name: ctx.rng("facts", "ablation", name), dict(ctx.boot, unit="questions")
        )
    }


def planning_stage(ctx, judge_dict: dict, d: DebateFactsConfig) -> dict:
    """Stage: debate with debaters that look one reply ahead, against greedy best-of-N ones."""
    questions = test_questions(ctx, d)[: d.planning_questions]
    return {
        "planning": run_planning(
            questions, make_judge(judge_dict, d), d, ctx.rng("facts", "planning"), dict(ctx.boot, unit="questions")
        )
    }


def long_walk_stage(ctx, d: DebateFactsConfig) -> dict:
    """Stage (exploratory): stories whose walk has ``long_walk_hops`` links, a judge trained on
    them, and the three protocols on their test questions."""
    long = d.model_copy(
        update={"facts": d.facts.model_copy(update={"hops": d.long_walk_hops}), "test_questions": d.long_walk_questions}
    )
    judge = QuoteJudge.from_dict(train_judge(ctx, long))
    rng = ctx.rng("facts", "long-walk")
    rows = play_protocols(
        test_questions(ctx, long),
        judge,
        lambda: BestOfNDebater(judge, d.debater_strength, d.fabricate, rng),
        rng,
        d.rounds,
    )
    boot = dict(ctx.boot, unit="questions")
    acc = _per_protocol(rows, lambda r, proto: r[proto] > 0.5)
    p = _per_protocol(rows, lambda r, proto: r[proto])
    out = {
        "hops": d.long_walk_hops,
        "rounds": d.rounds,
        **{name: bootstrap_ci(v, **boot) for name, v in acc.items()},
        "mean_p_correct": {name: bootstrap_ci(v, **boot) for name, v in p.items()},
        "debate_minus_consultancy": bootstrap_ci(acc["debate"] - acc["consultancy"], **boot),
        "proof_shown": proof_share(rows, boot),
    }
    return {"long_walk": out}


def tournament(ctx, judge_dict: dict, d: DebateFactsConfig) -> dict:
    """Stage: every honest strength against every dishonest strength on every question."""
    judge, questions = make_judge(judge_dict, d), test_questions(ctx, d)[: d.tournament_questions]
    rng = ctx.rng("facts", "tournament")
    make = debater_factory(ctx, judge, d, rng, "tournament", {})
    strengths = d.tournament_strengths
    honest_idx, liar_idx, wins, question_idx = [], [], [], []
    for qi, q in enumerate(questions):
        for hi, hn in enumerate(strengths):
            for li, ln in enumerate(strengths):
                p, _ = debate(q, judge, make(hn), make(ln), d.rounds, honest_first=qi % 2 == 0)
                honest_idx.append(hi)
                liar_idx.append(li)
                wins.append(p > 0.5)
                question_idx.append(qi)
    elo = elo_ratings(
        honest_idx,
        liar_idx,
        wins,
        len(strengths),
        groups=question_idx,
        n_resamples=min(ctx.bootstrap_resamples, 200),
        seed=ctx.seed,
    )
    h, li_, w = map(np.asarray, (honest_idx, liar_idx, wins))
    boot = dict(ctx.boot, unit="questions")
    table = []
    for i, n in enumerate(strengths):
        self_play = w[(h == i) & (li_ == i)].astype(float)
        as_honest = w[h == i].astype(float)
        as_liar = 1 - w[li_ == i].astype(float)
        table.append(
            {
                "strength": n,
                "elo": elo["ratings"][i],
                "judge_accuracy_self_play": bootstrap_ci(self_play, **boot),
                "win_rate_honest": float(as_honest.mean()),
                "win_rate_dishonest": float(as_liar.mean()),
            }
        )
    return {"elo": table, "honest_advantage_elo": elo["side_advantage"], "games": len(w)}


class FactsResults(Section):
    """Judge accuracy per protocol (estimates over questions), differences, and the tournament."""

    facts: dict[str, Estimate | list | dict | int | float]


def summary(r: dict) -> list[str]:
    f = r["facts"]
    lines = [
        "facts: judge accuracy " + "; ".join(f"{p} {text_estimate(f[p])}" for p in ("debate", "consultancy", "blind"))
    ]
    if "calibration" in f:
        cal = f["calibration"]["calibrated"]
        lines.append(
            "facts: calibrated judge, mean p(correct) "
            + "; ".join(f"{p} {text_estimate(cal[p]['mean_p_correct'])}" for p in ("debate", "consultancy", "blind"))
        )
    return lines


def headline(r: dict) -> str:
    return f"debate {r['facts']['debate']['mean']:.1%}, blind {r['facts']['blind']['mean']:.1%}"


@protocol(
    "debate_facts",
    sections={"debate_facts": DebateFactsConfig},
    results=FactsResults,
    summary=summary,
    headline=headline,
    report=facts_section,
)
def run(ctx, cfg) -> dict:
    d = cfg.debate_facts
    judge = ctx.stage("debate_facts.train_judge", train_judge, d)
    result = ctx.stage("debate_facts.protocols", evaluate_protocols, judge, d)
    log(
        "facts: judge accuracy " + ", ".join(f"{k} {result[k]['mean']:.1%}" for k in ("debate", "consultancy", "blind"))
    )
    if d.ablation_questions and "model" not in judge:
        result = {**result, **ctx.stage("debate_facts.ablations", ablation_stage, judge, d)}
    if d.planning_questions and d.judge_model is None and d.debater_model is None:
        result = {**result, **ctx.stage("debate_facts.planning", planning_stage, judge, d)}
    if d.long_walk_hops and d.judge_model is None and d.debater_model is None:
        result = {**result, **ctx.stage("debate_facts.long_walk", long_walk_stage, d)}
    if d.tournament_strengths:
        result = {**result, **ctx.stage("debate_facts.tournament", tournament, judge, d)}
    return {"facts": result}
