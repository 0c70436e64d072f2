"""What ``autoalign`` prints for an over-optimization run: one block per reward and optimizer."""

from __future__ import annotations


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _est(e: dict) -> str:
    return f"{100 * e['mean']:+.1f} [{100 * e['ci_low']:+.1f}, {100 * e['ci_high']:+.1f}]"


def summary(r: dict) -> list[str]:
    lines = []
    for name, by_method in r.items():
        labels = by_method.get("labels", 0)
        threshold = by_method.get("accept_threshold")
        accepts = "accepts nothing" if threshold is None else f"accepts at >= {threshold:.3g}"
        said = (
            "the checker on every sample" if labels is None else f"{labels} checker labels" if labels else "no labels"
        )
        lines.append(f"reward {name} ({said}; {accepts})")
        for method, c in by_method.items():
            if not isinstance(c, dict):
                continue
            at = "step" if method == "rloo" else "round"
            lines.append(
                f"  {method}: gold {_pct(c['initial_gold'])} -> {_pct(c['final_gold'])} (gain {_est(c['gain'])} points), "
                f"peak {_pct(c['peak_gold'])} at {at} {c['peak_at']}, drop from peak {_est(c['drop_from_peak'])} "
                f"(cross-fitted), sqrt KL {c['final_sqrt_kl']:.2f}"
            )
            first, last = c["curve"][0], c["curve"][-1]
            lines.append(
                f"    proxy {first['proxy']:.3f} -> {last['proxy']:.3f}; wrong but accepted "
                f"{_pct(first['wrong_accepted'])} -> {_pct(last['wrong_accepted'])}"
            )
            for form, f in c["fits"].items():
                if f["alpha"] is not None:
                    peak = f"peak at d = {f['peak_d']:.2f}" if f["peak_d"] is not None else "no peak"
                    r2 = "n/a" if f["r2"] is None else f"{f['r2']:.2f}"
                    lines.append(f"    fit {form}: alpha {f['alpha']:+.3f}, beta {f['beta']:+.3f}, R^2 {r2}, {peak}")
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
