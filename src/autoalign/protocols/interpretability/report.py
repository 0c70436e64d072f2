"""What ``autoalign`` prints and draws for an interpretability run: score distributions against their
baselines, the planted feature's recovery, and the ablation effects (the pictures are ``figures.py``'s)."""

from __future__ import annotations

SITES = (("mlp", "MLP neurons"), ("residual", "residual dims"), ("sae", "SAE features"))


def _v(x, spec: str) -> str:
    """A number as ``spec``; pooled over seeds, a value that differed by seed comes as
    ``{"per_seed": [...]}``: then each seed's, in order."""
    if isinstance(x, dict) and "per_seed" in x:
        return "per seed " + "/".join("-" if v is None else _v(v, spec) for v in x["per_seed"])
    if isinstance(x, str):
        return x
    return "-" if x is None else format(x, spec)


def _est(e: dict, spec: str = "+.3f") -> str:
    text = f"{_v(e['mean'], spec)} [{_v(e['ci_low'], spec)}, {_v(e['ci_high'], spec)}]"
    if e.get("per_seed"):
        text += " (seeds " + ", ".join(format(v, spec) for v in e["per_seed"]) + ")"
    return text


def _site(name: str, s: dict) -> list[str]:
    q = s["quantiles"]
    return [
        f"  {name} ({_v(s['units'], 'g')}, {_v(s['constant'], 'g')} constant): score mean {_v(s['mean_score'], '.3f')}, "
        f"median {_v(q['q50'], '.3f')}, q90 {_v(q['q90'], '.3f')}; {_v(100 * s['share_above_0_8'], '.1f')}% above 0.8",
        f"    baselines: random explanation {_v(s['random_baseline'], '+.3f')}, shuffled activations "
        f"{_v(s['shuffled_baseline'], '+.3f')}; score - random {_est(s['score_minus_random'])}",
        f"    delphi's scorers (AUROC, 0.5 = chance): detection {_v(s['detection_auroc'], '.3f')}, "
        f"fuzzing {_v(s['fuzzing_auroc'], '.3f')}",
    ]


def summary(r: dict) -> list[str]:
    lines = [
        f"interpretability: units of the generator ({_v(r['params'], 'g')} parameters) explained over "
        f"{_v(r['texts'], 'g')} held-out texts with a grammar of {_v(r['grammar_features'], 'g')} features"
    ]
    for key, name in SITES:
        if key in r:
            lines += _site(name, r[key])
    sae, c = r["sae"], r["comparison"]
    h = sae["held_out"]
    lines.append(
        f"  SAE on block {_v(sae['layer'], 'g')}: FVU {_v(h['fvu'], '.3f')}, L0 {_v(h['l0'], '.1f')}, dead "
        f"{_v(100 * h['dead_share'], '.1f')}%; SAE - MLP mean score {_v(c['sae_minus_mlp'], '+.3f')}"
        + (
            f", SAE - same-layer residual {_v(c['sae_minus_residual_same_layer'], '+.3f')}"
            if "sae_minus_residual_same_layer" in c
            else ""
        )
    )
    pooled = bool(r["mlp"]["score_minus_random"].get("per_seed"))  # units differ by seed: no unit is named
    if not pooled:
        best = "; ".join(
            f"L{b['layer']}/{b['unit']} {b['explanation']!r} {b['score']:.2f}" for b in r["mlp"]["best"][:3]
        )
        lines.append(f"  best neurons: {best}")
    p = r["planted"]
    where = "" if pooled else f" in L{p['layer']}/{p['neuron']}"
    lines.append(
        f"  planted {_v(p['feature'], '')!r}{where}: {'mean rank' if pooled else 'rank'} {_v(p['rank'], 'g')}, "
        f"held-out score {_v(p['score'], '.3f')} (explainer chose {_v(p['found'], '')!r}); neuron-feature correlation "
        f"{_v(p['correlation_before'], '.2f')} -> {_v(p['held_out_correlation'], '.2f')} held out"
    )
    pa = p["ablation"]
    lines.append(
        f"    ablated where it fires: KL planted {_est(pa['planted_kl'], '.2e')} vs random same-layer "
        f"{_est(pa['random_kl'], '.2e')} nats/token"
    )
    a = r["ablation"]
    lines.append(
        f"  ablation of the {_v(a['k'], 'g')} best-explained neurons where their explanations fire "
        f"({_v(100 * a['firing_share'], '.1f')}% of tokens each): KL {_est(a['best_kl'], '.2e')} nats/token"
    )
    lines.append(
        f"    random neurons (same layers, same tokens) {_est(a['random_kl'], '.2e')}; best - random "
        f"{_est(a['best_minus_random'], '+.2e')}; best at other tokens {_est(a['elsewhere_kl'], '.2e')}"
    )
    return lines


def headline(r: dict) -> str:
    m, p = r["mlp"], r["planted"]
    return (
        f"neurons {_v(m['mean_score'], '.2f')} vs random {_v(m['random_baseline'], '+.2f')}, "
        f"planted rank {_v(p['rank'], 'g')}"
    )


def interpretability_section(store, r: dict, stages: dict) -> str:
    import html

    from ...report.fmt import embed_image
    from .figures import best_excerpts_plot, best_units, score_histogram

    units = best_units(store.path, stages)
    excerpts = (
        [embed_image(best_excerpts_plot(units, store.file("plots", "interpretability_best_excerpts.png")))]
        if units
        else []
    )
    lines = "<br>".join(html.escape(line) for line in summary(r))
    return "\n".join(
        [
            "<h2>Automated interpretability</h2>",
            "<p>Every MLP neuron, residual dimension and SAE feature of the generator explained by a grammar of "
            "the world's text features on half its top excerpts, simulated from the explanation alone and scored "
            "on the other half and random excerpts; a feature planted into one neuron; the best-explained neurons "
            "ablated where their explanations fire.</p>",
            f"<p><code>{lines}</code></p>",
            embed_image(score_histogram(r, store.file("plots", "interpretability.png"))),
        ]
        + excerpts
    )
