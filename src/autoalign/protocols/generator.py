"""The generator experiment: train a policy on arithmetic chains, then measure it.

Method. Draw held-out test and validation problems from the seed; train a tiny causal LM from
scratch on fresh problems every step (never a held-out one), stopping early once its greedy
validation accuracy reaches the target; sample K solutions per test problem at temperature T;
label every sample with the world's checker; report accuracy overall and by number of steps, each
with a 95% bootstrap CI over problems. Later protocols reuse ``train_generator`` and
``sample_and_check`` to get a policy with mistakes to oversee.
"""

from __future__ import annotations

from collections import defaultdict


from ..config import RunConfig
from ..measures import cluster_accuracy
from ..models import (
    TrainConfig,
    build_char_tokenizer,
    build_model,
    count_parameters,
    load_pretrained,
    sample_solutions,
    train_lm,
)
from ..models.sampling import hash_seed
from ..runtime.progress import log
from ..runtime.store import RunStore, atomic_save_dir, read_jsonl, write_jsonl
from ..worlds.registry import World, make_world


def arithmetic_world(cfg: RunConfig) -> World:
    return make_world("arithmetic", cfg.world)


def heldout_problems(cfg: RunConfig, split: str, n: int, world: World | None = None) -> list:
    world = world or arithmetic_world(cfg)
    return world.generate(hash_seed(cfg.seed, world.name, split), n)


def training_batches(cfg: RunConfig, exclude: set[str], world: World):
    """``batch_at(step)``: a fresh batch of (prompt, gold solution), never a held-out prompt."""
    size = cfg.generator.batch_size

    def batch_at(step: int) -> list[tuple[str, str]]:
        pool = world.generate(hash_seed(cfg.seed, world.name, "train", step), 2 * size)
        fresh = [p for p in pool if p.prompt not in exclude] or pool
        fresh = (fresh * (size // len(fresh) + 1))[:size]
        return [(p.prompt, p.solution) for p in fresh]

    return batch_at


def greedy_accuracy(model, tokenizer, problems: list, cfg: RunConfig, world: World) -> float:
    texts = sample_solutions(
        model,
        tokenizer,
        [p.prompt for p in problems],
        temperature=0.0,
        max_new_tokens=cfg.sampling.max_new_tokens,
        batch_size=cfg.sampling.batch_size,
        description="validating",
    )
    return sum(world.check(p, t).correct for p, t in zip(problems, texts)) / len(problems)


def train_generator(store: RunStore, cfg: RunConfig, world: World | None = None, name: str = "generator") -> dict:
    """Stage: a trained generator saved under ``models/<name>`` (or the user's checkpoint)."""
    world = world or arithmetic_world(cfg)
    g = cfg.generator
    if g.model is not None:
        model, _ = load_pretrained(g.model)
        return {"path": g.model, "params": count_parameters(model), "trained": False}
    tokenizer = build_char_tokenizer()
    model = build_model(g.arch, g.size, tokenizer, seed=hash_seed(cfg.seed, "init"))
    test = heldout_problems(cfg, "test", cfg.sampling.test_problems, world)
    val = heldout_problems(cfg, "val", g.eval_problems, world)
    exclude = {p.prompt for p in test + val}
    log(f"training a {g.arch}-{g.size} {world.name} generator ({count_parameters(model) / 1e6:.2f}M parameters)")
    state = train_lm(
        model,
        tokenizer,
        training_batches(cfg, exclude, world),
        TrainConfig(
            steps=g.train_steps,
            lr=g.lr,
            warmup_steps=g.warmup_steps,
            weight_decay=g.weight_decay,
            eval_every=g.eval_every,
            target_accuracy=g.target_accuracy,
            checkpoint_every=g.checkpoint_every,
        ),
        checkpoint=store.file("models", f"{name}.ckpt.pt"),
        evaluate=lambda: greedy_accuracy(model, tokenizer, val, cfg, world),
        on_event=lambda kind, **fields: _log_event(store, kind, **fields),
    )

    def save(folder):
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)

    atomic_save_dir(store.file("models", name), save)
    store.file("models", f"{name}.ckpt.pt").unlink(missing_ok=True)
    return {
        "path": f"models/{name}",
        "params": count_parameters(model),
        "trained": True,
        "steps": state["step"],
        "stopped_early": state["stopped_early"],
        "train_seconds": round(state["seconds"], 2),
        "tokens_per_second": round(state["tokens"] / max(state["seconds"], 1e-9), 1),
        "history": state["history"],
    }


def _log_event(store: RunStore, kind: str, **fields) -> None:
    store.event(kind, **fields)
    if kind == "validation":
        log(f"step {fields['step']}: greedy validation accuracy {fields['accuracy']:.1%}")
    elif kind == "resumed_from_checkpoint":
        log(f"resumed training from the checkpoint at step {fields['step']}")


def load_generator(store: RunStore, trained: dict):
    path = trained["path"]
    return load_pretrained(store.file(path) if trained["trained"] else path)


def sample_and_check(
    store: RunStore, cfg: RunConfig, trained: dict, problems: list, name: str, k: int, seed_tag: str,
    world: World | None = None,
) -> str:
    """Sample ``k`` solutions per problem, label each with the checker, write ``samples/<name>.jsonl``."""
    world = world or arithmetic_world(cfg)
    model, tokenizer = load_generator(store, trained)
    s = cfg.sampling
    prompts = [p.prompt for p in problems for _ in range(k)]
    texts = sample_solutions(
        model,
        tokenizer,
        prompts,
        temperature=s.temperature,
        max_new_tokens=s.max_new_tokens,
        batch_size=s.batch_size,
        seed=hash_seed(cfg.seed, seed_tag),
        description=f"sampling {name}",
    )
    rows = []
    for i, text in enumerate(texts):
        p = problems[i // k]
        v = world.check(p, text)
        rows.append(
            {
                "problem": i // k,
                "prompt": p.prompt,
                "n_steps": p.n_steps,
                "text": text,
                "correct": v.correct,
                "well_formed": v.well_formed,
                "step_labels": v.step_labels,
                "answer": v.answer,
            }
        )
    path = f"samples/{name}.jsonl"
    write_jsonl(store.file(path), rows)
    return path


def evaluate_samples(cfg: RunConfig, rows: list[dict], greedy: float) -> dict:
    b = cfg.bootstrap_resamples
    ids = [r["problem"] for r in rows]
    by_steps: dict[int, tuple[list, list]] = defaultdict(lambda: ([], []))
    for r in rows:
        by_steps[r["n_steps"]][0].append(r["problem"])
        by_steps[r["n_steps"]][1].append(r["correct"])
    return {
        "accuracy": cluster_accuracy(ids, [r["correct"] for r in rows], b, seed=cfg.seed),
        "accuracy_by_steps": {
            str(n): cluster_accuracy(pid, c, b, seed=cfg.seed) for n, (pid, c) in sorted(by_steps.items())
        },
        "well_formed": cluster_accuracy(ids, [r["well_formed"] for r in rows], b, seed=cfg.seed),
        "greedy_accuracy": greedy,
        "samples_per_problem": len(ids) // max(1, len(set(ids))),
        "temperature": cfg.sampling.temperature,
        "test_problems": len(set(ids)),
    }


def run(store: RunStore, cfg: RunConfig) -> dict:
    trained = store.stage("train_generator", lambda: train_generator(store, cfg))
    test = heldout_problems(cfg, "test", cfg.sampling.test_problems)
    k = cfg.sampling.samples_per_problem
    path = store.stage("sample_test", lambda: sample_and_check(store, cfg, trained, test, "test", k, "test"))

    def evaluate() -> dict:
        model, tokenizer = load_generator(store, trained)
        greedy = greedy_accuracy(model, tokenizer, test, cfg, arithmetic_world(cfg))
        metrics = evaluate_samples(cfg, read_jsonl(store.file(path)), greedy)
        metrics["params"] = trained["params"]
        if trained["trained"]:
            metrics["train_steps"] = trained["steps"]
        return metrics

    generator = store.stage("evaluate", evaluate)
    return store.update_metrics({"generator": generator})
