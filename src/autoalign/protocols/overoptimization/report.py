"""What ``autoalign`` prints for an over-optimization run: one block per reward and optimizer."""

from __future__ import annotations


def _fmt(x, spec: str, scale: float = 1.0) -> str:
    """A number as ``spec``; pooled over seeds, a value that differed by seed (or was None on one)
    comes as ``{"per_seed": [...]}``: then each seed's, in order."""
    if isinstance(x, dict) and "per_seed" in x:
        return "per seed " + "/".join("-" if v is None else format(scale * v, spec) for v in x["per_seed"])
    return "-" if x is None else format(scale * x, spec)


def _pct(x) -> str:
    return _fmt(x, ".1f", 100) + "%"


def _est(e: dict) -> str:
    text = f"{100 * e['mean']:+.1f} [{100 * e['ci_low']:+.1f}, {100 * e['ci_high']:+.1f}]"
    if e.get("per_seed"):
        text += " (seeds " + ", ".join(f"{100 * v:+.1f}" for v in e["per_seed"]) + ")"
    return text


def _labels(by_method: dict) -> str:
    labels, threshold = by_method.get("labels", 0), by_method.get("accept_threshold")
    said = (
        "the checker on every sample"
        if labels is None
        else f"{_fmt(labels, 'g')} checker labels"
        if labels
        else "no labels"
    )
    accepts = "accepts nothing" if threshold is None else f"accepts at >= {_fmt(threshold, '.3g')}"
    return f"{said}; {accepts}"


def summary(r: dict) -> list[str]:
    lines = []
    for name, by_method in r.items():
        lines.append(f"reward {name} ({_labels(by_method)})")
        for method, c in by_method.items():
            if not isinstance(c, dict) or "curve" not in c:
                continue
            at = "step" if method == "rloo" else "round"
            lines.append(
                f"  {method}: gold {_pct(c['initial_gold'])} -> {_pct(c['final_gold'])}, gain {_est(c['gain'])} points"
            )
            lines.append(
                f"    peak {_pct(c['peak_gold'])} at {at} {_fmt(c['peak_at'], 'g')}; drop from the peak (cross-fitted) "
                f"{_est(c['drop_from_peak'])} points; sqrt KL {_fmt(c['final_sqrt_kl'], '.2f')}"
            )
            first, last = c["curve"][0], c["curve"][-1]
            lines.append(
                f"    proxy {_fmt(first['proxy'], '.3f')} -> {_fmt(last['proxy'], '.3f')}; wrong but accepted "
                f"{_pct(first['wrong_accepted'])} -> {_pct(last['wrong_accepted'])}"
            )
            if c["gain"].get("per_seed"):  # pooled: a mean of per-seed fits is not a fit; see the seeds' own
                continue
            for form, f in c["fits"].items():
                if f.get("alpha") is not None:
                    lines.append(
                        f"    fit {form}: alpha {_fmt(f['alpha'], '+.3f')}, beta {_fmt(f['beta'], '+.3f')}, "
                        f"R^2 {_fmt(f['r2'], '.2f')}, peak at d = {_fmt(f['peak_d'], '.2f')}"
                    )
    return lines


def headline(r: dict) -> str:
    parts = []
    for name, by_method in r.items():
        for method, c in by_method.items():
            if isinstance(c, dict):
                parts.append(f"{name}/{method} {_pct(c['initial_gold'])}->{_pct(c['final_gold'])}")
    return ", ".join(parts)


COLORS = {"prm": "#4C72B0", "orm": "#C44E52", "majority": "#8C8C8C"}
STYLES = {"rloo": "o-", "expert_iteration": "s--"}


def overoptimization_plot(r: dict, path):
    """Gold accuracy (left) and proxy reward (right) against sqrt KL from the initial policy."""
    from ...report.figures import plt, save_figure

    fig, (gold, proxy) = plt.subplots(1, 2, figsize=(10, 3.8))
    for name, by_method in r.items():
        for method, c in by_method.items():
            if not isinstance(c, dict):
                continue
            d = [p["sqrt_kl"] for p in c["curve"]]
            style = dict(color=COLORS.get(name, None), label=f"{name}, {method}")
            gold.plot(d, [100 * p["gold"] for p in c["curve"]], STYLES.get(method, "o-"), **style)
            proxy.plot(d, [p["proxy"] for p in c["curve"]], STYLES.get(method, "o-"), **style)
    gold.set_xlabel("sqrt KL(policy || initial policy), nats^0.5")
    gold.set_ylabel("gold accuracy on held-out problems (%)")
    gold.set_title("Gold: the checker, never seen by the policy")
    proxy.set_xlabel("sqrt KL(policy || initial policy), nats^0.5")
    proxy.set_ylabel("proxy reward (what was optimized)")
    proxy.set_title("Proxy")
    gold.legend(fontsize=7)
    return save_figure(fig, path)


def overoptimization_section(store, metrics: dict, stages: dict) -> str:
    import html

    from ...report.fmt import embed_image

    r = metrics.get("overoptimization")
    if not r:
        return ""
    lines = "<br>".join(html.escape(line) for line in summary(r))
    return "\n".join(
        [
            "<h2>Reward over-optimization</h2>",
            "<p>The generator optimized against each reward (RLOO with a KL penalty; expert iteration), measured "
            "at every checkpoint on held-out problems by the world's checker (gold), which no reward could "
            "reach. The drop from the peak is cross-fitted: the peak is chosen on half the problems and measured "
            "on the other half.</p>",
            f"<p><code>{lines}</code></p>",
            embed_image(overoptimization_plot(r, store.file("plots", "overoptimization.png"))),
        ]
    )
