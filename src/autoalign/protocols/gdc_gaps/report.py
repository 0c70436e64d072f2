"""The report's section on generator, discriminator and critique abilities, critics and assistance."""

from __future__ import annotations

from pathlib import Path

from ...report.figures import plt, save_figure
from ...report.fmt import ci_bars, embed_image, fmt_estimate, fmt_signed
from ...runtime.store import RunStore

ABILITIES = [
    ("generator", "G: generates a correct solution", "#55A868"),
    ("discriminator", "D: tells flawed from sound", "#4C72B0"),
    ("critique", "C: critique is right", "#C44E52"),
]


def abilities_plot(gdc: dict, path: Path) -> Path:
    sizes = sorted(gdc, key=lambda s: gdc[s]["params"])
    x = [gdc[s]["params"] / 1e6 for s in sizes]
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for key, label, color in ABILITIES:
        mean = [gdc[s][key]["mean"] * 100 for s in sizes]
        lo, hi = zip(*(ci_bars(gdc[s][key]) for s in sizes))
        ax.errorbar(x, mean, yerr=[lo, hi], fmt="o-", capsize=3, color=color, label=label)
    ax.axhline(50, color="k", lw=0.6, ls=":")
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xticks(x, [f"{s}\n{v:.2f}M" for s, v in zip(sizes, x)])
    ax.set_xlabel("model size (parameters)")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Abilities against model size (95% CI)")
    ax.legend(fontsize=8, loc="lower right")
    return save_figure(fig, path)


def sweep_plot(sweep: list[dict], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    xs = [r["hallucination_rate"] * 100 for r in sweep]
    ys = [r["catch_rate"] * 100 for r in sweep]
    ax.plot(xs, ys, "o-", color="#C44E52")
    labelled: list[tuple[float, float]] = []
    for r, x, y in zip(sweep, xs, ys):
        if all(abs(x - a) + abs(y - b) > 3 for a, b in labelled):  # one label per visible point
            ax.annotate(f"bonus {r['bonus']:+g}", (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
            labelled.append((x, y))
    ax.set_xlabel("hallucination rate (% of critiques flagging a sound step)")
    ax.set_ylabel("catch rate (% of planted flaws named)")
    ax.set_title("Critic: best-of-K with a bonus per flagged step")
    return save_figure(fig, path)


def curves_plot(gdc: dict, path: Path) -> Path:
    """Validation G, D and C against training steps, one line style per size."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    styles = ["-", "--", ":", "-."]
    for i, size in enumerate(sorted(gdc, key=lambda s: gdc[s]["params"])):
        curve = gdc[size].get("curve") or []
        for key, (_, label, color) in zip(("G", "D", "C"), ABILITIES):
            ax.plot(
                [c["step"] for c in curve],
                [100 * c[key] for c in curve],
                styles[i % 4],
                color=color,
                label=f"{key} {size}",
            )
    starts = [gdc[s]["own_training"]["from_step"] for s in gdc if (gdc[s].get("own_training") or {}).get("from_step")]
    if starts:  # where phase 2 (D and C also on own samples) begins
        ax.axvline(min(starts), color="grey", lw=0.8, ls=":")
    ax.set_xlabel("training step (dotted line: phase 2 starts)" if starts else "training step")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Learning curves (G greedy; D and C on balanced items)")
    ax.legend(fontsize=7, ncol=3, loc="lower right")
    return save_figure(fig, path)


EVALUATOR_NAMES = [
    ("discriminator", "D"),
    ("critique", "C"),
    ("critique_likelihood", "C likelihood"),
    ("compare", "generate-and-compare"),
    ("surprise", "likelihood surprise"),
    ("oracle", "oracle (pass@K)"),
]


def own_samples_table(gdc: dict) -> str:
    sizes = [s for s in sorted(gdc, key=lambda s: gdc[s]["params"]) if gdc[s].get("own_samples")]
    if not sizes:
        return ""
    head = "".join(f"<th>{name} picks</th>" for _, name in EVALUATOR_NAMES)
    rows = ""
    for s in sizes:
        o = gdc[s]["own_samples"]
        rows += (
            f"<tr><td>{s}</td><td>{fmt_estimate(o['generator_greedy'])}</td><td>{fmt_estimate(o['generator_samples'])}</td>"
            + "".join(f"<td>{fmt_estimate(o['selection'][e])}</td>" for e, _ in EVALUATOR_NAMES)
            + f"<td>{fmt_signed(o['gd_selection'])}</td><td>{fmt_signed(o['dc_selection'])}</td>"
            + (
                f"<td>{fmt_estimate(o['selection_discriminator_verdict'])}</td><td>{fmt_signed(o['dc_selection_verdicts'])}</td>"
                if o.get("dc_selection_verdicts")
                else "<td>-</td><td>-</td>"
            )
            + f"<td>{fmt_signed(o['d_minus_compare'])}</td></tr>"
        )
    auc_rows = ""
    for s in sizes:
        o = gdc[s]["own_samples"]
        w = o["within_auroc"]
        auc_rows += (
            f"<tr><td>{s}</td><td>{o['problems_with_both']}</td>"
            + "".join(f"<td>{fmt_estimate(w[e]) if w.get(e) else '-'}</td>" for e, _ in EVALUATOR_NAMES[:5])
            + "".join(
                f"<td>{100 * o['balanced_accuracy'][e]:.1f}%</td>" if e in o["balanced_accuracy"] else "<td>-</td>"
                for e in ("discriminator", "critique", "compare")
            )
            + "</tr>"
        )
    k = gdc[sizes[0]]["own_samples"]["samples_per_problem"]
    return (
        "<h3>On common items: the model's own samples</h3>"
        f"<p>Each size samples {k} solutions per test problem (temperature 1); the checker labels each sound or flawed. "
        "Every evaluator picks the sample it rates most sound (ties: a random pick among them), so all abilities are in "
        "one unit, the picked sample's soundness. G (samples) is a random pick; the oracle is pass@K (the ceiling). "
        "Two reference discriminators: generate-and-compare (same answer as the model's greedy solution) and "
        "likelihood surprise (mean token log-probability, no discrimination training). D - G &gt; 0: the model can "
        "pick its better solutions (evaluation easier than generation); D - C &gt; 0: its critiques say less than its "
        "discriminator knows.</p>"
        f"<table><tr><th>size</th><th>G greedy</th><th>G samples</th>{head}<th>D - G</th><th>D - C</th>"
        f"<th>D verdict picks</th><th>D verdict - C</th><th>D - compare</th></tr>{rows}</table>"
        "<p>D's margin ranks inside the ties of C's yes/no verdict, which favours D even when D knows no more than "
        "C says; the like-for-like DC gap is verdict against verdict (D verdict - C).</p>"
        "<p>Within-problem AUROC (problems holding both sound and flawed samples; ranking only, not problem "
        "difficulty) and balanced accuracy on the same samples:</p>"
        "<table><tr><th>size</th><th>problems</th><th>D</th><th>C</th><th>C likelihood</th><th>compare</th><th>surprise</th>"
        f"<th>D balanced</th><th>C balanced</th><th>compare balanced</th></tr>{auc_rows}</table>"
    )


CONTROL_ROWS = [
    ("discriminator", "D, planted flaws"),
    ("critique", "C, planted flaws"),
    ("dc_gap", "DC gap, planted"),
    ("generator", "G greedy"),
    ("own_discriminator_verdict_pick", "own samples: D verdict picks"),
    ("own_dc_selection_verdicts", "own samples: D verdict - C"),
    ("own_within_auroc_discriminator", "own samples: D within-problem AUROC"),
]


def control_table(gdc: dict) -> str:
    """Phase 2 against its control arm and against phase 1, paired per problem on the same items."""
    sizes = [s for s in gdc if gdc[s].get("control")]
    if not sizes:
        return ""
    cols = ("phase2_minus_control", "phase2_minus_phase1", "control_minus_phase1")
    rows = ""
    for s in sizes:
        c = gdc[s]["control"]
        for k, name in CONTROL_ROWS:
            if c[cols[0]].get(k):
                rows += (
                    f"<tr><td>{s}</td><td>{name}</td>"
                    + "".join(f"<td>{fmt_signed(c[col][k])}</td>" for col in cols)
                    + "</tr>"
                )
    return (
        "<h3>Phase 2 against its control arm</h3><p>The control continues the same phase-1 model for the same "
        "steps, lr and item stream, with a planted item wherever phase 2 shows one of its own samples. Phase 1, "
        "phase 2 and the control are measured on the same test items (on own samples: phase 2's, scored by each "
        "model), so each difference is paired per problem; phase 2 - control is what training on its own "
        "labelled samples did.</p>"
        "<table><tr><th>size</th><th>measure</th><th>phase 2 - control</th><th>phase 2 - phase 1</th>"
        f"<th>control - phase 1</th></tr>{rows}</table>"
    )


def gdc_section(store: RunStore, metrics: dict, stages: dict) -> str:
    gdc = metrics.get("gdc")
    if not gdc:
        return ""
    sizes = sorted(gdc, key=lambda s: gdc[s]["params"])
    rows = "".join(
        f"<tr><td>{s}</td><td>{gdc[s]['params'] / 1e6:.2f}M</td>"
        + "".join(f"<td>{fmt_estimate(gdc[s][k])}</td>" for k in ("generator", "discriminator", "critique"))
        + "".join(f"<td>{fmt_signed(gdc[s][k])}</td>" for k in ("gd_gap", "gc_gap", "dc_gap"))
        + f"<td>{fmt_estimate(gdc[s]['d_on_missed_flaws']) if gdc[s].get('d_on_missed_flaws') else '-'}</td></tr>"
        for s in sizes
    )
    parts = [
        "<h2>Generator, discriminator and critique gaps</h2>",
        "<p>One model per size is trained to generate solutions, to say whether a solution is flawed, and to "
        "critique it (name the first wrong step and its value). D and C are measured on the same balanced items: "
        "each held-out problem's gold solution and a copy with a planted flaw. DC &gt; 0 means the model can tell "
        "that something is wrong more often than its critique says what (Saunders et al. 2022). The last column: "
        "of the flaws the critique missed, the share the discriminator flagged.</p>",
        "<table><tr><th>size</th><th>params</th><th>G</th><th>D</th><th>C</th><th>GD gap</th><th>GC gap</th>"
        f"<th>DC gap</th><th>D on missed flaws</th></tr>{rows}</table>",
        embed_image(abilities_plot(gdc, store.file("plots", "gdc_abilities.png"))),
        own_samples_table(gdc),
    ]
    trained_on_own = {s: gdc[s]["own_training"] for s in sizes if gdc[s].get("own_training")}
    if trained_on_own:
        parts.append(
            "<p>Phase 2: after the planted-flaw training, each model sampled its own solutions to training "
            "problems; the checker labelled them, and training went on with part of the discrimination and "
            "critique items drawn from them (sound and flawed equally often). Own training samples: "
            + "; ".join(f"{s} {o['samples']} ({100 * o['share_sound']:.0f}% sound)" for s, o in trained_on_own.items())
            + ".</p>"
        )
    parts.append(control_table(gdc))
    if any(gdc[s].get("curve") for s in gdc):
        parts.append(embed_image(curves_plot(gdc, store.file("plots", "gdc_curves.png"))))
    critic = metrics.get("critic")
    if critic:
        adv = critic["adversarial"]
        d_ev = adv.get("discriminator_on_evading_flaws")
        parts += [
            f"<h3>The critic ({critic['size']})</h3>",
            f"<p>Greedy critiques: catch rate {100 * critic['catch_rate']:.1f}% of planted flaws; "
            f"hallucination rate {100 * critic['hallucination_rate']:.1f}% of items. With {adv['tries']} tries per problem "
            f"a flaw that evades the critique was found for {fmt_estimate(adv['evasion_rate'])} of problems"
            + (f"; the same model's discriminator flags {fmt_estimate(d_ev)} of those evading flaws" if d_ev else "")
            + ".</p>",
            embed_image(sweep_plot(critic["sweep"], store.file("plots", "critic_sweep.png"))),
        ]
    a = metrics.get("assistance")
    if a:
        f, fa = a["flaws_found"], a.get("false_alarms")
        cf = a.get("closed_form_perfect_rater")
        parts.append(
            f"<h3>Assisting a weak rater (measured)</h3><p>A weaker model checks {a['budget']} step(s) per solution: it "
            "reads the solution up to a step's value and writes the value itself; a difference flags the solution. "
            f"It finds {fmt_estimate(f['without'])} of planted flaws unassisted and {fmt_estimate(f['with'])} when it "
            f"checks the step the critique names first: {fmt_signed(f['difference'])} points"
            + (
                f"; false alarms on sound solutions {fmt_estimate(fa['without'])} and {fmt_estimate(fa['with'])}"
                if fa
                else ""
            )
            + "."
            + (
                f" For comparison, a formula for a perfect rater (an expectation, not a measurement): "
                f"{100 * cf['without']:.1f}% and {100 * cf['with']:.1f}%."
                if cf
                else ""
            )
            + "</p>"
        )
    return "\n".join(parts)
