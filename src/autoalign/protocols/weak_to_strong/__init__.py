"""Weak-to-strong generalization (Burns et al. 2023): can a weak supervisor elicit what a stronger
model knows?

Method, for a task ("is this solution correct?" or "is this step correct?" on a world, or a user's
``{text, label}`` JSONL):
1. Every size is first pretrained as a language model on the world's unlabelled gold solutions
   (``pretrain_steps`` per size: the strong model's latent knowledge).
2. The weak supervisor (a small classifier on its own pretrained model, or, for method
   ``overseer``, one of our overseers: a PRM) trains on ground truth of the ``weak`` items and
   labels the disjoint ``transfer`` items with soft labels.
3. A strong student trains on those labels (cross-entropy ``ce``; the auxiliary confidence loss
   ``confidence``; ``bootstrap`` through an intermediate size); the ceiling, the same strong model,
   trains on the transfer items' ground truth.
4. The final scoring stage alone reads the sealed test labels (``sealed.py``): weak, student and
   ceiling accuracy on the same test items, PGR with a paired CI and its guard, student-supervisor
   agreement, a noise floor (PGR's spread over extra student seeds), and two canaries that must be
   caught: one predicts the majority class, one tries to read the test labels.
Primary endpoint (declared in ``config.py`` before any run): for the largest gap, PGR(ce) > 0 and
PGR(confidence) - PGR(ce) > 0.
"""

from __future__ import annotations

import re

import numpy as np

from ...measures import bootstrap_ci
from ...models import (
    TrainConfig,
    build_char_tokenizer,
    build_model,
    count_parameters,
    load_pretrained,
    train_lm,
)
from ...models.device import place
from ...models.providers import checkpoint_digest, open_model, size_or_address
from ...overseers.lm_classifier import Classifier, predict, train_classifier
from ...protocol import protocol
from ...records import LabelledSolution
from ...runtime.progress import log
from ...runtime.store import atomic_save_dir
from ...worlds import make_world
from .config import WeakToStrongConfig, WeakToStrongResults
from .gap import gap_guard, noise_floor, pgr_estimate
from .report import headline, summary, w2s_section
from .sealed import SealedLabels, SealedLabelsError, correct_vector
from .tasks import Item, file_items, world_items


def items(ctx, w: WeakToStrongConfig, role: str) -> list[Item]:
    if w.data is not None:
        return file_items(w.data, ctx.seed)[role]
    n = {"weak": w.weak_items, "transfer": w.transfer_items, "test": w.test_items}[role]
    return world_items(w, ctx.seed, role, n)


def test_texts(ctx, w) -> list[Item]:
    """What a method may see of the test set: the items without their labels."""
    return [Item(it.text, -1, it.prompt, it.body) for it in items(ctx, w, "test")]


def steps_of(w):
    """How an item's body splits into steps: the world's steps, or one step for a user's text."""
    if w.data is not None:
        return lambda text: [(0, len(text))]
    return make_world(w.world_name, w.world_config).steps


def sealed_test_labels(ctx, w) -> SealedLabels:
    return SealedLabels([it.label for it in items(ctx, w, "test")])


def pretrain(ctx, size: str, w: WeakToStrongConfig, digest: str = "") -> dict:
    """Stage: a model pretrained as a language model on unlabelled text: a lab size from scratch, or
    a local checkpoint (its own tokenizer) further, if ``pretrain_steps`` names it."""
    address = size_or_address(size, "weak_to_strong.sizes")
    if address.lab_size is not None:
        tokenizer = build_char_tokenizer(_alphabet(ctx, w))
        model = place(build_model("llama", address.lab_size, tokenizer, seed=ctx.derive("w2s", size)))
    else:
        local = open_model(address, "weak_to_strong.sizes").white_box("weak-to-strong (it fine-tunes every model)")
        model, tokenizer = local.module, local.tokenizer
    steps = w.pretrain_steps.get(size, 0)
    history = []
    if steps:
        if w.data is None:
            from ...pipeline.generator import bucketed_batches

            world = make_world(w.world_name, w.world_config)
            batch_at = bucketed_batches(world, ctx.seed, w.batch_size, tag="w2s-pretrain")
        else:
            texts = [it.text for role in ("weak", "transfer") for it in items(ctx, w, role)]
            rng = np.random.default_rng(ctx.derive("w2s", "pretrain"))
            batch_at = lambda step: [("", texts[i]) for i in rng.integers(0, len(texts), w.batch_size)]
        log(f"weak-to-strong: pretraining {size} ({count_parameters(model) / 1e6:.2f}M) for {steps} steps")
        history = train_lm(model, tokenizer, batch_at, TrainConfig(steps=steps, lr=w.pretrain_lr, warmup_steps=30,
                                                                   checkpoint_every=10**9))["history"]
    name = ctx.artifact("models/w2s_lm_" + re.sub(r"[^A-Za-z0-9_.-]+", "_", size))
    atomic_save_dir(ctx.file(name), lambda f: (model.save_pretrained(f), tokenizer.save_pretrained(f)))
    return {"path": name, "params": count_parameters(model), "history": history}


def _alphabet(ctx, w) -> str:
    from ...models.tokenizer import ALPHABET

    if w.data is None:
        return ALPHABET
    chars = {c for role in ("weak", "transfer", "test") for it in items(ctx, w, role) for c in it.text}
    return ALPHABET + "".join(sorted(chars - set(ALPHABET)))


def _classifier(ctx, lm_info: dict, w, tag) -> tuple[Classifier, object]:
    lm, tokenizer = load_pretrained(ctx.file(lm_info["path"]))
    return Classifier(place(lm), seed=ctx.derive("w2s", "head", *tag), head=w.head, task=w.task), tokenizer


def _round(x) -> list[float]:
    return [round(float(v), 5) for v in x]


def fit_and_predict(ctx, size: str, lm_info: dict, soft: list[float] | None, w: WeakToStrongConfig, role: str,
                    loss: str = "ce", seed_index: int = 0) -> dict:
    """Stage: a classifier of ``size`` trained on the ``role`` items (with ``soft`` labels, or their
    ground truth when ``soft`` is None); its predictions on the transfer and test texts."""
    train = items(ctx, w, role)
    labels = [float(it.label) for it in train] if soft is None else soft
    clf, tokenizer = _classifier(ctx, lm_info, w, (size, role, loss, seed_index))
    steps = steps_of(w)
    history = train_classifier(clf, tokenizer, train, labels, steps, w.train_steps, w.batch_size, w.lr, w.head_lr,
                               seed=ctx.derive("w2s", size, role, loss, seed_index), loss=loss,
                               weight=w.confidence_weight, warmup=w.confidence_warmup)
    transfer = items(ctx, w, "transfer")
    return {"transfer": _round(predict(clf, tokenizer, transfer, steps)),
            "test": _round(predict(clf, tokenizer, test_texts(ctx, w), steps)), "history": history}


def overseer_supervisor(ctx, size: str, lm_info: dict, w: WeakToStrongConfig) -> dict:
    """Stage: the supervisor is one of our overseers: a PRM (log-likelihood head) on the weak
    model, trained on the step labels of the weak items' solutions; its probability that the
    solution (or the last step) is correct labels the transfer items."""
    from ...overseers import StepVerifier, solution_score, step_probabilities, train_verifier

    world = make_world(w.world_name, w.world_config)
    by_prompt = {p.prompt: p for p in world.problems(ctx.seed, "train", w.weak_items, tag=("w2s", "weak"))}
    examples = []
    for it in items(ctx, w, "weak"):
        spans, labels = world.steps(it.body), _step_labels(world, by_prompt[it.prompt], it.body)
        if spans and labels:
            examples.append(LabelledSolution(it.prompt, it.body, tuple(spans[: len(labels)]), tuple(labels)))
    lm, tokenizer = load_pretrained(ctx.file(lm_info["path"]))
    prm = StepVerifier(place(lm), "prm", "loglik")
    train_verifier(prm, tokenizer, examples, w.overseer_steps, seed=ctx.derive("w2s", "overseer"),
                   description="weak-to-strong: PRM supervisor")

    def raw(role_items: list[Item]) -> np.ndarray:
        probs = step_probabilities(prm, tokenizer, [it.prompt for it in role_items], [it.body for it in role_items],
                                   [world.steps(it.body) for it in role_items])
        if w.task == "step":
            return np.array([_logit(p[-1]) if p else 0.0 for p in probs])
        return np.array([max(solution_score(p, "prm"), -30.0) for p in probs])

    # A PRM ranks; it does not say how likely a solution is right (a product of step probabilities is
    # below 0.5 for most correct solutions). Platt scaling on the weak items, whose labels the
    # supervisor already trained on, turns its score into the soft label a weak supervisor gives.
    from sklearn.linear_model import LogisticRegression

    weak = items(ctx, w, "weak")
    y = [int(it.label) for it in weak]
    platt = LogisticRegression().fit(raw(weak)[:, None], y) if len(set(y)) == 2 else None

    def score(role_items: list[Item]) -> list[float]:
        if platt is None:  # one class only among the weak items: its rate is all the supervisor knows
            return [float(np.mean(y))] * len(role_items)
        return platt.predict_proba(raw(role_items)[:, None])[:, 1].tolist()

    return {"transfer": _round(score(items(ctx, w, "transfer"))), "test": _round(score(test_texts(ctx, w)))}


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


def _step_labels(world, problem, body: str) -> list[bool]:
    """The checker's label of every step of a solution (its answer step: final correctness)."""
    v = world.check(problem, body)
    labels = list(v.step_labels)
    spans = world.steps(body)
    if len(spans) > len(labels):
        labels += [bool(v.correct)] * (len(spans) - len(labels))
    return labels[: len(spans)]


def canary(ctx, kind: str, supervisor: dict, w: WeakToStrongConfig) -> dict:
    """Stage: a method a careless optimizer would love. ``majority`` predicts the supervisor's
    majority class for every item; ``peek`` tries to read the test labels (and is stopped)."""
    n = len(test_texts(ctx, w))
    if kind == "majority":
        positive = float(np.mean(np.asarray(supervisor["transfer"]) > 0.5)) >= 0.5
        return {"test": [0.9 if positive else 0.1] * n, "flags": []}
    try:
        labels = sealed_test_labels(ctx, w).labels
        return {"test": [float(y) for y in labels], "flags": []}
    except SealedLabelsError as e:
        return {"test": None, "flags": [f"tried to read the sealed test labels ({e})"]}


def score(ctx, w: WeakToStrongConfig, preds: dict) -> dict:
    """Stage: the only reader of the sealed test labels. Every estimate is over the same items."""
    sealed = sealed_test_labels(ctx, w)
    boot = dict(ctx.boot, unit="test items")

    def correct(p):
        return correct_vector(p, sealed)

    out: dict = {}
    for pair, r in preds["pairs"].items():
        weak_c, _ = correct(r["weak"]["test"])
        ceil_c, _ = correct(r["ceiling"]["test"])
        guard = gap_guard(weak_c, ceil_c, w.min_gap)
        methods = {}
        for method, m in r["methods"].items():
            sup_c, _ = correct(m["supervisor_test"]) if "supervisor_test" in m else (weak_c, [])
            sup_ref = m.get("supervisor_test", r["weak"]["test"])
            s_c, flags = correct(m["test"])
            agree = (np.asarray(m["test"]) > 0.5) == (np.asarray(sup_ref) > 0.5)
            base = sup_c if method == "overseer" else weak_c
            methods[method] = {
                "student": bootstrap_ci(s_c, **boot),
                "pgr": None if guard else pgr_estimate(base, s_c, ceil_c, ctx.bootstrap_resamples, ctx.seed),
                "agreement": bootstrap_ci(agree.astype(float), **boot),
                "flags": flags,
            }
            if method == "overseer":
                methods[method]["supervisor"] = bootstrap_ci(sup_c, **boot)
        if "ce" in methods and not guard:  # the same weak labels, another loss or route: PGR minus naive PGR
            ce_c, _ = correct(r["methods"]["ce"]["test"])
            for method in ("confidence", "bootstrap"):
                if method in methods:
                    methods[method]["pgr_minus_ce"] = pgr_estimate(
                        weak_c, correct(r["methods"][method]["test"])[0], ceil_c, ctx.bootstrap_resamples, ctx.seed,
                        baseline=ce_c)
        floor_pgrs = [] if guard else [pgr_estimate(weak_c, correct(t)[0], ceil_c, 200, ctx.seed)["mean"]
                                       for t in r.get("noise", [])]
        out[pair] = {"weak": bootstrap_ci(weak_c, **boot), "ceiling": bootstrap_ci(ceil_c, **boot), "guard": guard,
                     "methods": methods, "noise_floor": noise_floor(floor_pgrs), "noise_pgrs": floor_pgrs}
    canaries = {}
    for kind, c in preds.get("canaries", {}).items():
        acc, flags = correct(c["test"])
        flags = c["flags"] + flags
        canaries[kind] = {"accuracy": bootstrap_ci(acc, **boot), "flags": flags, "caught": bool(flags)}
    return {"pairs": out, "canaries": canaries}


def run_task(ctx, w: WeakToStrongConfig) -> dict:
    digest = ""
    if w.data is not None:  # a file edited in place is a new input
        from ...runtime.context import content_digest

        digest = content_digest(w.data)
    lms = dict(zip(w.sizes, ctx.side_by_side([(f"w2s.{s}.pretrain", pretrain,
                                                (s, w, digest + checkpoint_digest(s, "weak_to_strong.sizes")))
                                               for s in w.sizes])))
    pairs = w.pair_list()
    weak_sizes = list(dict.fromkeys(a for a, _ in pairs))
    strong_sizes = list(dict.fromkeys(b for _, b in pairs))
    sup = {s: ctx.stage(f"w2s.{s}.weak", fit_and_predict, s, lms[s], None, w, "weak") for s in weak_sizes}
    ceil = {s: ctx.stage(f"w2s.{s}.ceiling", fit_and_predict, s, lms[s], None, w, "transfer") for s in strong_sizes}
    students: dict = {}

    def student(weak_size, strong, loss="ce", seed_index=0, labels=None):
        key = (weak_size, strong, loss, seed_index)
        if key not in students:
            soft = labels if labels is not None else sup[weak_size]["transfer"]
            students[key] = ctx.stage(f"w2s.{weak_size}-{strong}.{loss}.{seed_index}", fit_and_predict, strong,
                                      lms[strong], soft, w, "transfer", loss, seed_index)
        return students[key]

    preds: dict = {"pairs": {}}
    overseer = None
    for a, b in pairs:
        methods = {}
        if "ce" in w.methods:
            methods["ce"] = {"test": student(a, b)["test"]}
        if "confidence" in w.methods:
            methods["confidence"] = {"test": student(a, b, "confidence")["test"]}
        mids = w.sizes[w.sizes.index(a) + 1: w.sizes.index(b)]
        if "bootstrap" in w.methods and mids:  # weak -> mid -> ... -> strong, each on the previous one's labels
            name, labels = a, sup[a]["transfer"]
            for m in mids:
                labels = student(name, m, labels=labels)["transfer"]
                name = f"{name}-{m}"
            methods["bootstrap"] = {"test": student(name, b, labels=labels)["test"]}
        if "overseer" in w.methods and w.data is None:
            if overseer is None or overseer[0] != a:
                overseer = (a, ctx.stage(f"w2s.{a}.overseer", overseer_supervisor, a, lms[a], w))
            o = overseer[1]
            methods["overseer"] = {"test": student(f"prm_{a}", b, labels=o["transfer"])["test"],
                                   "supervisor_test": o["test"]}
        noise = [student(a, b, "ce", k)["test"] for k in range(1, w.noise_seeds + 1)] if "ce" in w.methods else []
        preds["pairs"][f"{a}->{b}"] = {"weak": sup[a], "ceiling": ceil[b], "methods": methods, "noise": noise}
    if w.canaries:
        first = sup[pairs[0][0]]
        preds["canaries"] = {k: ctx.stage(f"w2s.canary.{k}", canary, k, first, w) for k in ("majority", "peek")}
    result = ctx.stage("w2s.score", score, w, preds)
    result["sizes"] = {s: lms[s]["params"] for s in w.sizes}
    result["task"] = w.task if w.data is None else "file"
    return result


@protocol("weak_to_strong", sections={"weak_to_strong": WeakToStrongConfig}, results=WeakToStrongResults,
          summary=summary, headline=headline, report=w2s_section)
def run(ctx, cfg) -> dict:
    return {"weak_to_strong": run_task(ctx, cfg.weak_to_strong)}
