"""Automated interpretability of the generator (Bills et al. 2023; EleutherAI's delphi), offline, with
planted ground truth and a causal check.

Question: how much of what a tiny arithmetic model's units do can a grammar of the world's text
features explain, is that more than chance, does the pipeline recover a feature we wired in, and do
the explanations pick out neurons that matter to the model's outputs?

Method, per seed (``autoalign.interpretability`` holds every piece; this file composes them):
1. Train the generator on gold solutions (the shared ``train_generator`` stage). Draw held-out texts
   (test-split problems with their gold solutions), split into record texts and ablation texts.
2. Record every MLP neuron (and every residual-stream dimension after each block) on the record
   texts: top and random excerpts. Explain each unit on half its top excerpts by searching the grammar,
   simulate the explanation on the other half and the random excerpts, score by correlation. Beside
   each score: a random grammar feature (random baseline) and the explainer run on shuffled
   activations (shuffled baseline), on the same held-out excerpts.
3. Planted feature: on a copy of the generator, fine-tune one MLP neuron to track a grammar feature
   (``planted.feature``; its index drawn per seed) on training-split texts with a KL term that keeps
   the outputs; record it on the record texts and ask where the planted explanation ranks among the
   grammar's on the fit half and how it scores held out. Then ablate it where the feature fires
   against random neurons of its layer at the same tokens.
4. Causal check: mean-ablate the k best-explained MLP neurons at the tokens where their explanations
   fire, on the ablation texts, against k random neurons of the same layers at the same tokens (and
   against the best neurons at as many other tokens); the effect is KL(clean || ablated) per text.
5. A sparse autoencoder of one layer's residual stream, trained on training-split texts; its features
   are explained and scored like neurons, and compared with the neurons and that layer's dimensions.

Splits: the generator, the planting and the SAE see training-split text only; records, explanations,
scores and ablations are on test-split texts, records and ablations on disjoint problems.
"""

from __future__ import annotations

import numpy as np

from ...errors import UserError
from ...interpretability import (
    build_grammar,
    collect_activations,
    explain_neuron,
    mlp_neuron_modules,
    neuron_feature_correlation,
    neuron_records,
    plant_feature,
    recovery,
)
from ...interpretability.ablation import ablation_effect, neuron_means, next_token_logprobs
from ...interpretability.sae import feature_activations, layer_vectors, sae_stats, train_sae
from ...pipeline.generator import (
    GeneratorConfig,
    GeneratorWorld,
    SamplingConfig,
    load_generator,
    train_generator,
    validation_sampling,
)
from ...protocol import protocol
from ...runtime.progress import log
from ...runtime.store import atomic_write_json, write_jsonl
from ...worlds.reference import WorldRef
from .config import InterpretabilityConfig
from .evaluate import evaluate
from .report import headline, interpretability_section, summary

BEST_RECORDS = 4  # top units per site whose excerpts are kept for pictures


def held_out_texts(ctx, world, i: InterpretabilityConfig) -> tuple[list[str], list[str]]:
    """(record texts, ablation texts): test-split problems with their gold solutions, disjoint."""
    problems = world.problems(ctx.seed, "test", i.texts + i.ablation.texts, tag="interpretability")
    texts = [p.prompt + p.solution for p in problems]
    return texts[: i.texts], texts[i.texts :]


def training_texts(ctx, world, n: int, what: str) -> list[str]:
    return [p.prompt + p.solution for p in world.problems(ctx.seed, "train", n, tag=("interpretability", what))]


def explain_units(ctx, acts, grammar, i: InterpretabilityConfig, site: str) -> tuple[dict, list[dict], list[dict]]:
    """Explain every unit of ``acts``: (compact per-unit results, full explanations, best units' records)."""
    records = neuron_records(acts, None, i.n_top, i.n_random, i.window, seed=ctx.derive("records", site))
    found = [explain_neuron(r, grammar, seed=ctx.derive("explain", site), fit_random=i.fit_random) for r in records]
    compact = {
        "units": [[e.layer, e.neuron] for e in found],
        "explanations": [e.explanation for e in found],
        "scores": [e.score for e in found],
        "random": [e.random_baseline for e in found],
        "shuffled": [e.shuffled_baseline for e in found],
        "constant": [e.score_reason.startswith("constant activations") for e in found],
        "detection": [None if np.isnan(e.detection_auroc) else e.detection_auroc for e in found],
        "fuzzing": [None if np.isnan(e.fuzzing_auroc) else e.fuzzing_auroc for e in found],
    }
    best = np.argsort(-np.asarray(compact["scores"]), kind="stable")[:BEST_RECORDS]
    return (
        compact,
        [{"site": site, **e.to_dict()} for e in found],
        [{"site": site, **records[j].to_dict()} for j in best],
    )


def explain_model(ctx, world_ref: WorldRef, gen: dict, i: InterpretabilityConfig) -> dict:
    """Stage: every MLP neuron (and residual dimension) of the generator, explained and scored."""
    world = world_ref.make()
    texts, _ = held_out_texts(ctx, world, i)
    model, tokenizer = load_generator(ctx, gen, "the model to explain")
    grammar = build_grammar(world, texts)
    out: dict = {"grammar": len(grammar), "texts": len(texts)}
    rows, best = [], []
    for site in ["mlp"] + (["residual"] if i.residual else []):
        acts = collect_activations(model, tokenizer, texts, site=site)
        log(f"explaining {len(acts.neurons)} {site} units over {len(texts)} held-out texts ({len(grammar)} features)")
        out[site], site_rows, site_best = explain_units(ctx, acts, grammar, i, site)
        rows += site_rows
        best += site_best
    out["explanations_path"] = ctx.artifact("interpretability/explanations") + ".jsonl"
    out["best_records_path"] = ctx.artifact("interpretability/best_records") + ".json"
    write_jsonl(ctx.file(out["explanations_path"]), rows)
    atomic_write_json(ctx.file(out["best_records_path"]), best)
    return out


def sae_features(ctx, world_ref: WorldRef, gen: dict, i: InterpretabilityConfig) -> dict:
    """Stage: a sparse autoencoder of one layer's residual stream; its features explained like neurons."""
    import torch

    s = i.sae
    world = world_ref.make()
    texts, _ = held_out_texts(ctx, world, i)
    model, tokenizer = load_generator(ctx, gen, "the model to explain")
    n_layers = len(mlp_neuron_modules(model))
    layer = n_layers // 2 if s.layer is None else s.layer
    if layer >= n_layers:
        raise UserError(f"interpretability.sae.layer: {layer} is past the model's last block ({n_layers - 1})")
    train = collect_activations(model, tokenizer, training_texts(ctx, world, s.texts, "sae"), site="residual")
    x = layer_vectors(train, layer)
    log(f"training a sparse autoencoder on {len(x)} residual vectors of block {layer}")
    sae, history = train_sae(
        x,
        s.expansion * x.shape[1],
        s.l1,
        s.steps,
        s.batch_size,
        s.lr,
        ctx.derive("sae"),
        log_every=max(1, s.steps // 4),
    )
    held = collect_activations(model, tokenizer, texts, site="residual")
    features = feature_activations(sae, held, layer)
    path = ctx.artifact("interpretability/sae") + ".pt"
    ctx.file(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save(sae.state_dict(), ctx.file(path))
    compact, rows, best = explain_units(ctx, features, build_grammar(world, texts), i, "sae")
    stats = sae_stats(sae, layer_vectors(held, layer))
    out = {"layer": layer, "features": features.activations.shape[2], "path": path, "history": history}
    out["held_out"] = {"fvu": stats.fvu, "l0": stats.l0, "dead_share": stats.dead_share}
    out["explanations_path"] = ctx.artifact("interpretability/sae_explanations") + ".jsonl"
    out["best_records_path"] = ctx.artifact("interpretability/sae_best_records") + ".json"
    write_jsonl(ctx.file(out["explanations_path"]), rows)
    atomic_write_json(ctx.file(out["best_records_path"]), best)
    return {**out, "sae": compact}


def firing(grammar, description: str, texts, offsets) -> list[np.ndarray]:
    """Per text, the tokens where the explanation's signal is above half its scale (where it 'fires')."""
    column = grammar.index(description)
    return [grammar.token_matrix(t, o)[:, column] > 0.5 for t, o in zip(texts, offsets)]


def random_partners(draw, best: list[tuple[int, int]], width: int, exclude: set) -> list[tuple[int, int]]:
    """One random neuron per neuron of ``best``, in the same layer, none of ``exclude`` and no repeats."""
    chosen: list[tuple[int, int]] = []
    for layer, _ in best:
        pool = [j for j in range(width) if (layer, j) not in exclude and (layer, j) not in chosen]
        chosen.append((layer, int(draw.choice(pool))))
    return chosen


def elsewhere(draw, masks: list[np.ndarray]) -> list[np.ndarray]:
    """Per text, as many tokens as ``masks`` marks (at most all the others), drawn among those it does not."""
    out = []
    for m in masks:
        others = np.flatnonzero(~m)
        pick = draw.choice(others, size=min(int(m.sum()), len(others)), replace=False)
        new = np.zeros_like(m)
        new[pick] = True
        out.append(new)
    return out


def planted_neuron(ctx, world_ref: WorldRef, gen: dict, i: InterpretabilityConfig) -> dict:
    """Stage: a feature planted into one neuron of a copy of the generator; recovered? does it matter?"""
    p = i.planted
    world = world_ref.make()
    texts, ablation_texts = held_out_texts(ctx, world, i)
    grammar = build_grammar(world, texts)
    try:
        feature = grammar.features[grammar.index(p.feature)]
    except KeyError:
        raise UserError(
            f"interpretability.planted.feature: {p.feature!r} is not a feature of this world's grammar; "
            f"e.g. {', '.join(repr(d) for d in grammar.descriptions[-6:])}"
        ) from None
    model, tokenizer = load_generator(ctx, gen, "the model a feature is planted in")
    modules = mlp_neuron_modules(model)
    if p.layer >= len(modules):
        raise UserError(
            f"interpretability.planted.layer: {p.layer} is past the model's last layer ({len(modules) - 1})"
        )
    width = modules[p.layer].in_features
    neuron = int(ctx.rng("planted neuron").integers(width))
    log(f"planting {p.feature!r} into neuron {neuron} of layer {p.layer}")
    planted = plant_feature(
        model,
        tokenizer,
        training_texts(ctx, world, p.texts, "planted"),
        feature,
        p.layer,
        neuron,
        p.steps,
        p.lr,
        p.amplitude,
        seed=ctx.derive("plant"),
    )
    acts = collect_activations(model, tokenizer, texts)
    record = neuron_records(
        acts, [acts.neurons.index((p.layer, neuron))], i.n_top, i.n_random, i.window, ctx.derive("records", "planted")
    )[0]
    found = recovery(record, grammar, p.feature, seed=ctx.derive("explain", "planted"), fit_random=i.fit_random)
    # does the model use it? ablate it where the feature fires, against random neurons of its layer there
    held = collect_activations(model, tokenizer, ablation_texts)
    means, clean = neuron_means(held), next_token_logprobs(model, tokenizer, ablation_texts)
    masks = firing(grammar, p.feature, ablation_texts, held.offsets)
    draw = ctx.rng("planted ablation")
    target = ablation_effect(model, tokenizer, ablation_texts, {(p.layer, neuron): masks}, means, clean)
    others = []
    for _ in range(i.ablation.random_draws):
        (other,) = random_partners(draw, [(p.layer, neuron)], width, {(p.layer, neuron)})
        others.append(ablation_effect(model, tokenizer, ablation_texts, {other: masks}, means, clean).kl)
    return {
        "feature": p.feature,
        "layer": p.layer,
        "neuron": neuron,
        "rank": found.rank,
        "score": found.planted_score,
        "found": found.found.explanation,
        "found_score": found.found.score,
        "random_baseline": found.found.random_baseline,
        "correlation_before": planted.correlation_before,
        "correlation_after": planted.correlation_after,
        "held_out_correlation": neuron_feature_correlation(model, tokenizer, texts, feature, p.layer, neuron),
        "kl_after_planting": planted.kl,
        "firing_share": float(np.concatenate(masks).mean()),
        "ablation_kl": target.kl,
        "random_ablation_kl": np.mean(others, axis=0).tolist(),
    }


def ablate_best(ctx, world_ref: WorldRef, gen: dict, explained: dict, i: InterpretabilityConfig) -> dict:
    """Stage: the k best-explained MLP neurons mean-ablated where their explanations fire, against k
    random neurons of the same layers at the same tokens, and against themselves at other tokens."""
    a = i.ablation
    world = world_ref.make()
    texts, ablation_texts = held_out_texts(ctx, world, i)
    grammar = build_grammar(world, texts)
    model, tokenizer = load_generator(ctx, gen, "the model to ablate")
    mlp = explained["mlp"]
    order = np.argsort(-np.asarray(mlp["scores"]), kind="stable")[: a.k]
    best = [tuple(mlp["units"][j]) for j in order]
    acts = collect_activations(model, tokenizer, ablation_texts)
    means, clean = neuron_means(acts), next_token_logprobs(model, tokenizer, ablation_texts)
    masks = {n: firing(grammar, mlp["explanations"][j], ablation_texts, acts.offsets) for n, j in zip(best, order)}
    log(f"ablating the {len(best)} best-explained neurons where their explanations fire, and random ones")
    effect = ablation_effect(model, tokenizer, ablation_texts, masks, means, clean)
    draw = ctx.rng("ablation")
    width = mlp_neuron_modules(model)[0].in_features
    random_kl, random_loss = [], []
    for _ in range(a.random_draws):
        partners = random_partners(draw, best, width, set(best))
        e = ablation_effect(model, tokenizer, ablation_texts, dict(zip(partners, masks.values())), means, clean)
        random_kl.append(e.kl)
        random_loss.append(e.loss_change)
    other = ablation_effect(
        model, tokenizer, ablation_texts, {n: elsewhere(draw, m) for n, m in masks.items()}, means, clean
    )
    return {
        "neurons": [
            {"layer": n[0], "neuron": n[1], "explanation": mlp["explanations"][j], "score": mlp["scores"][j]}
            for n, j in zip(best, order)
        ],
        "firing_share": float(np.mean([np.concatenate(m).mean() for m in masks.values()])),
        "best_kl": effect.kl,
        "best_loss": effect.loss_change,
        "random_kl": np.mean(random_kl, axis=0).tolist(),
        "random_loss": np.mean(random_loss, axis=0).tolist(),
        "elsewhere_kl": other.kl,
        "elsewhere_loss": other.loss_change,
    }


@protocol(
    "interpretability",
    sections={
        "world": GeneratorWorld,
        "generator": GeneratorConfig,
        "sampling": SamplingConfig,
        "interpretability": InterpretabilityConfig,
    },
    summary=summary,
    headline=headline,
    report=interpretability_section,
)
def run(ctx, cfg) -> dict:
    i = cfg.interpretability
    gen = ctx.stage("train_generator", train_generator, cfg.world, cfg.generator, validation_sampling(cfg.sampling))
    explained = ctx.stage("interpretability.explain", explain_model, cfg.world, gen, i)
    sae = ctx.stage("interpretability.sae", sae_features, cfg.world, gen, i)
    planted = ctx.stage("interpretability.planted", planted_neuron, cfg.world, gen, i)
    ablation = ctx.stage("interpretability.ablation", ablate_best, cfg.world, gen, explained, i)
    return ctx.stage("interpretability.evaluate", evaluate, gen, explained, sae, planted, ablation)
