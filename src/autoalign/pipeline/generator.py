"""The policy: train a generator on a world's gold solutions, sample from it, check every sample.

Training draws fresh problems of the world's ``train`` split at every step, so no validation,
overseer-training or test problem is ever trained on (splits are disjoint by construction).
``bucketed_batches`` can length-bucket batches (each block of ``buckets`` steps draws that many
batches' worth of problems, sorted by length), which cuts padding by about a third, but it changed
what a generator learns (better at short chains, worse at long ones), so generators and GDC train on
mixed-length batches (``buckets=1``), as before the platform.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from ..measures import cluster_accuracy
from ..models import TrainConfig, build_char_tokenizer, build_model, count_parameters, load_pretrained, train_lm
from ..models.device import place
from ..models.handle import LanguageModel, LocalModel
from ..models.providers import Address, open_model, parse_address
from ..protocol import Section
from ..records import Sample
from ..results import Estimate
from ..runtime.progress import log
from ..runtime.store import atomic_save_dir, read_jsonl, write_jsonl
from ..seeding import py_rng
from ..worlds.base import World
from ..worlds.reference import WorldRef, require

BUCKET_STEPS = 4
DEFAULT_WORLD = "arithmetic"


class GeneratorWorld(WorldRef):
    """The run-level ``world:`` section: the world the generator learns, ``{name: <registered world>, ...knobs}``.

    Left out, it is arithmetic chains with their default knobs. The name is required: knobs alone (the
    form before worlds were named) fail with a line saying to add it. The world must have text solutions."""

    @model_validator(mode="before")
    @classmethod
    def _named(cls, data):
        if data is None or data == {}:
            return {"name": DEFAULT_WORLD}
        if isinstance(data, dict) and "name" not in data:
            raise ValueError(
                f"name the world: add `name: {DEFAULT_WORLD}` (or another registered world) beside its "
                f"knobs ({', '.join(map(str, data))})"
            )
        return data

    @model_validator(mode="after")
    def _writes_solutions(self):
        require(self, "solutions", "a generator learns to write its gold solutions")
        return self


class GeneratorConfig(Section):
    """The policy that writes solutions: trained from scratch, or loaded from a local folder."""

    model: str | None = Field(
        None,
        description="Model address: lab/<size> trains one here (as does leaving this out); hf/<folder> (or a "
        "bare folder) loads a local checkpoint and openai/<model> uses a server, with no training.",
    )
    arch: Literal["llama", "gpt2"] = Field("llama", description="Architecture when training.")
    size: Literal["micro", "tiny", "small", "medium"] = Field("small", description="Named model size.")
    train_steps: int = Field(1200, ge=1, description="Most optimizer steps.")
    batch_size: int = Field(64, ge=1, description="Sequences per optimizer step.")
    lr: float = Field(3e-3, gt=0, description="Peak learning rate (AdamW).")
    warmup_steps: int = Field(50, ge=0, description="Linear warm-up steps.")
    weight_decay: float = Field(0.0, ge=0)
    eval_every: int = Field(100, ge=1, description="Steps between greedy validation checks.")
    eval_problems: int = Field(128, ge=1, description="Validation problems for early stopping.")
    target_accuracy: float | None = Field(
        None, gt=0, le=1, description="Stop early once greedy validation accuracy reaches this."
    )
    checkpoint_every: int = Field(100, ge=1, description="Steps between resumable checkpoints.")


class SamplingConfig(Section):
    """How the generator is evaluated: K samples per held-out problem at temperature T."""

    test_problems: int = Field(300, ge=1, description="Held-out problems.")
    samples_per_problem: int = Field(8, ge=1, description="K samples per problem.")
    temperature: float = Field(1.0, ge=0, description="0 means greedy.")
    batch_size: int = Field(512, ge=1, description="Sequences sampled together.")
    max_new_tokens: int = Field(64, ge=1, description="Longest solution, in tokens.")


def gold_pair(problem, rng) -> tuple[str, str]:
    return problem.prompt, problem.solution


def bucketed_batches(world: World, seed: int, size: int, make=gold_pair, tag: str = "gen", buckets: int = 1):
    """``batch_at(step)``: ``size`` training pairs ``make(problem, rng)``, length-bucketed over
    blocks of steps; a pure function of the step, so a resumed run sees the same batches."""
    cache: dict = {}

    def batch_at(step: int) -> list:
        block = step // buckets
        if block not in cache:
            cache.clear()
            pool = world.problems(seed, "train", size * buckets, tag=(tag, block), distinct=False)
            block_rng = py_rng(seed, tag, "make", block)
            examples = [make(p, block_rng) for p in pool]
            order = sorted(range(len(examples)), key=lambda i: len(examples[i][0]) + len(examples[i][1]))
            batches = [[examples[i] for i in order[k * size : (k + 1) * size]] for k in range(buckets)]
            rot = block % buckets  # which length comes first varies from block to block
            cache[block] = batches[rot:] + batches[:rot]
        return cache[block][step % buckets]

    return batch_at


def validation_sampling(s: SamplingConfig) -> SamplingConfig:
    """The part of the sampling section that generator training reads (early-stopping checks), so
    that runs differing only in how they sample later still share one trained generator."""
    return SamplingConfig(batch_size=s.batch_size, max_new_tokens=s.max_new_tokens)


def greedy_accuracy(model, problems: list, world: World, sampling: SamplingConfig) -> float:
    """Share of ``problems`` whose greedy solution is right; ``model`` is any LanguageModel."""
    texts = model.generate(
        [p.prompt for p in problems],
        temperature=0.0,
        max_new_tokens=sampling.max_new_tokens,
        batch_size=sampling.batch_size,
        description="validating",
    )
    return sum(world.check(p, t).correct for p, t in zip(problems, texts)) / len(problems)


def given_generator(address: Address) -> dict:
    """A generator the user gave: nothing trained. A local checkpoint's content digest is in the
    result, so every later stage's key changes when the checkpoint does."""
    from ..runtime.context import content_digest

    model = open_model(address, "generator.model")
    if not model.is_white_box:
        return {"address": str(address), "params": None, "trained": False, "remote": True}
    folder = Path(address.name).expanduser()
    return {
        "address": str(address),
        "params": count_parameters(model.module),
        "trained": False,
        "digest": content_digest(folder) if folder.is_dir() else "",
    }


def train_generator(ctx, world_ref: WorldRef, g: GeneratorConfig, sampling: SamplingConfig) -> dict:
    """Stage: a trained generator saved under ``models/`` (or the user's model, untouched)."""
    address = parse_address(g.model, "generator.model") if g.model is not None else Address("lab", g.size)
    if address.lab_size is None:
        return given_generator(address)
    world = world_ref.make()
    tokenizer = build_char_tokenizer()
    model = place(build_model(g.arch, address.lab_size, tokenizer, seed=ctx.derive("init")))
    val = world.problems(ctx.seed, "val", g.eval_problems)
    log(f"training a {g.arch}-{g.size} {world.name} generator ({count_parameters(model) / 1e6:.2f}M parameters)")
    name = ctx.artifact(f"models/generator_{world.name}")
    state = train_lm(
        model,
        tokenizer,
        bucketed_batches(world, ctx.seed, g.batch_size),
        TrainConfig(
            steps=g.train_steps,
            lr=g.lr,
            warmup_steps=g.warmup_steps,
            weight_decay=g.weight_decay,
            eval_every=g.eval_every,
            target_accuracy=g.target_accuracy,
            checkpoint_every=g.checkpoint_every,
        ),
        checkpoint=ctx.file(f"{name}.ckpt.pt"),
        evaluate=lambda: greedy_accuracy(LocalModel(model, tokenizer), val, world, sampling),
        on_event=lambda kind, **fields: _log_event(ctx, kind, **fields),
    )

    def save(folder):
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)

    atomic_save_dir(ctx.file(name), save)
    ctx.file(f"{name}.ckpt.pt").unlink(missing_ok=True)
    return {
        "path": name,
        "params": count_parameters(model),
        "trained": True,
        "steps": state["step"],
        "stopped_early": state["stopped_early"],
        "train_seconds": round(state["seconds"], 2),
        "tokens_per_second": round(state["tokens"] / max(state["seconds"], 1e-9), 1),  # positions, padding included
        # the tokens the loss reads: the same with packed or padded batches, so comparable across both
        "labelled_tokens_per_second": round(state.get("labelled_tokens", 0) / max(state["seconds"], 1e-9), 1),
        "history": state["history"],
    }


def _log_event(ctx, kind: str, **fields) -> None:
    ctx.event(kind, **fields)
    if kind == "validation":
        log(f"step {fields['step']}: greedy validation accuracy {fields['accuracy']:.1%}")
    elif kind == "resumed_from_checkpoint":
        log(f"resumed training from the checkpoint at step {fields['step']}")


def generator_model(ctx, trained: dict) -> LanguageModel:
    """The generator a ``train_generator`` stage gave, on the run's device or behind its server."""
    if trained["trained"]:
        module, tokenizer = load_pretrained(ctx.file(trained["path"]))
        return LocalModel(place(module), tokenizer, "lab/" + str(ctx.file(trained["path"])))
    return open_model(trained["address"], "generator.model")


def load_generator(ctx, trained: dict, role: str = "a verifier backbone"):
    """(module, tokenizer) of the generator, for white-box roles; one line if it is black-box."""
    model = generator_model(ctx, trained).white_box(role)
    return model.module, model.tokenizer


def policy_and_reference(ctx, trained: dict):
    """(policy, reference, tokenizer): two copies of the generator, for optimizing a policy; the
    reference (pi_0, what KL is measured from) is frozen."""
    policy, tokenizer = load_generator(ctx, trained, "the policy")
    reference, _ = load_generator(ctx, trained, "the reference policy")
    for p in reference.parameters():
        p.requires_grad_(False)
    return policy, reference, tokenizer


def sample_and_check(
    ctx, world_ref: WorldRef, trained: dict, split: str, n_problems: int, k: int, sampling: SamplingConfig
) -> str:
    """Stage: ``k`` samples for each of ``n_problems`` problems of ``split``, each labelled by the
    world's checker, written to ``samples/`` (JSONL of :class:`Sample`); returns the path. The
    problems are ``world.problems(ctx.seed, split, n_problems)``: a later stage finds them again."""
    from dataclasses import asdict

    world, world_name = world_ref.make(), world_ref.name
    problems = world.problems(ctx.seed, split, n_problems)
    tokens: list = []
    texts = generator_model(ctx, trained).generate(
        [p.prompt for p in problems for _ in range(k)],
        temperature=sampling.temperature,
        max_new_tokens=sampling.max_new_tokens,
        batch_size=sampling.batch_size,
        seed=ctx.derive("sample", world_name, split),
        description=f"sampling {world_name} {split}",
        tokens_out=tokens,
    )
    rows = [
        asdict(Sample.from_verdict(i // k, problems[i // k], t, world.check(problems[i // k], t), tokens[i]))
        for i, t in enumerate(texts)
    ]
    path = ctx.artifact(f"samples/{world_name}_{split}") + ".jsonl"
    write_jsonl(ctx.file(path), rows)
    return path


def read_samples(ctx, path: str) -> list[dict]:
    return read_jsonl(ctx.file(path))


def evaluate_samples(rows: list[dict], greedy: float, temperature: float, boot: dict) -> dict:
    """Sample accuracy overall and by number of steps, each with a CI over problems."""
    ids = [r["problem"] for r in rows]
    by_steps: dict[int, tuple[list, list]] = defaultdict(lambda: ([], []))
    for r in rows:
        by_steps[r["n_steps"]][0].append(r["problem"])
        by_steps[r["n_steps"]][1].append(r["correct"])
    return {
        "accuracy": cluster_accuracy(ids, [r["correct"] for r in rows], **boot),
        "accuracy_by_steps": {str(n): cluster_accuracy(pid, c, **boot) for n, (pid, c) in sorted(by_steps.items())},
        "well_formed": cluster_accuracy(ids, [r["well_formed"] for r in rows], **boot),
        "greedy_accuracy": greedy,
        "samples_per_problem": len(ids) // max(1, len(set(ids))),
        "temperature": temperature,
        "test_problems": len(set(ids)),
    }


class GeneratorResults(Section):
    """Measured on the generator's samples of held-out problems."""

    accuracy: Estimate = Field(description="Share of samples whose final answer is right (CI over problems).")
    accuracy_by_steps: dict[str, Estimate] = Field(description="The same, by number of steps.")
    well_formed: Estimate
    greedy_accuracy: float
    samples_per_problem: int
    temperature: float
    test_problems: int
    params: int | None
    train_steps: int | None = None
