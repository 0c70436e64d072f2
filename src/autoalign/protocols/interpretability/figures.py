"""The interpretability run's pictures: score distributions against the random baseline, and the
best-explained units with their top excerpts coloured by activation.

The second picture is what Bills et al. show for a neuron: its explanation, its held-out score, and
the texts where it fires most, each token shaded by the unit's true activation (not the simulation),
so a reader can judge an explanation against the evidence. It reads the explain stages' files
(``best_records_path``, ``explanations_path``) from one seed's folder; a run pooled over seeds draws
it from its first seed's.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ...report.figures import plt, save_figure

SITES = (("mlp", "MLP neurons"), ("residual", "residual dims"), ("sae", "SAE features"))
COLORS = {"mlp": "#4C72B0", "residual": "#55A868", "sae": "#C44E52", "random": "#8C8C8C"}
SHOWN = {"mlp": 3, "sae": 2}  # units per site in the excerpt picture, best first
EXCERPTS = 3  # top excerpts per unit
STAGES = {"mlp": "interpretability.explain", "sae": "interpretability.sae"}


def score_histogram(r: dict, path: Path) -> Path:
    """Held-out explanation scores of every unit per site, against the neurons' random-explanation baseline."""
    fig, ax = plt.subplots(figsize=(7, 3.8))
    bins = np.linspace(-0.5, 1.0, 61)
    for key, name in SITES:
        if key in r:
            scores = r[key]["scores_descending"]
            ax.hist(scores, bins=bins, histtype="step", density=True, lw=1.6, color=COLORS[key], label=name)
    ax.hist(
        r["mlp"]["random_descending"],
        bins=bins,
        density=True,
        color=COLORS["random"],
        alpha=0.35,
        label="MLP neurons, random explanation",
    )
    ax.axvline(0.8, color="black", ls=":", lw=1)
    ax.set_xlabel("held-out explanation score (correlation of simulated with true activations)")
    ax.set_ylabel("density")
    ax.set_title("Explain, simulate, score: every unit of the generator")
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def _stage_results(folder: Path) -> dict:
    """Stage results by name from a run folder's ``stages/`` (the latest of a name)."""
    out: dict = {}
    for f in sorted((folder / "stages").glob("*.json"), key=lambda p: p.stat().st_mtime):
        record = json.loads(f.read_text())
        out[record["name"]] = record.get("result")
    return out


def best_units(run: Path, stages: dict) -> list[dict]:
    """The best-explained units (per ``SHOWN``) with explanation, score and top excerpts; [] when the
    stages' files are not there (a pooled folder with no seed folders, a run cut short)."""
    results = {name: (s or {}).get("result") for name, s in stages.items()}
    folder = run
    if STAGES["mlp"] not in results:
        seeds = sorted(run.glob("seed-*"), key=lambda p: int(p.name.split("-")[1]))
        if not seeds:
            return []
        folder, results = seeds[0], _stage_results(seeds[0])
    units = []
    for site, n in SHOWN.items():
        r = results.get(STAGES[site])
        if not r or not (folder / r["best_records_path"]).exists():
            continue
        explained = {}
        with open(folder / r["explanations_path"]) as f:
            for line in f:
                e = json.loads(line)
                explained[(e["site"], e["layer"], e["neuron"])] = e
        records = [x for x in json.loads((folder / r["best_records_path"]).read_text()) if x["site"] == site]
        for rec in records[:n]:
            e = explained[(site, rec["layer"], rec["neuron"])]
            units.append({**rec, "explanation": e["explanation"], "score": e["score"], "seed_folder": folder.name})
    return units


def _excerpt_row(ax, y: float, excerpt: dict, peak: float) -> None:
    """One excerpt as a row of tokens, each on a background shaded by its activation / ``peak``."""
    text, offsets, acts = excerpt["text"], excerpt["offsets"], excerpt["activations"]
    cmap = plt.get_cmap("Oranges")
    x = 0.0
    for (a, b), v in zip(offsets, acts):
        token = text[a:b].replace("\n", "⏎")
        w = 0.62 * max(1, len(token))
        shade = float(np.clip(v / peak, 0, 1)) if peak > 0 else 0.0
        ax.add_patch(plt.Rectangle((x, y - 0.42), w, 0.84, color=cmap(shade), lw=0))
        ax.text(x + w / 2, y, token, ha="center", va="center", family="monospace", fontsize=7)
        x += w
    ax.set_xlim(0, max(ax.get_xlim()[1], x))


def best_excerpts_plot(units: list[dict], path: Path) -> Path:
    """Each unit's explanation and held-out score above its top excerpts, tokens shaded by activation."""
    rows = sum(1 + min(EXCERPTS, len(u["top"])) for u in units)
    fig, ax = plt.subplots(figsize=(11, 0.32 * rows + 0.6))
    y = 0.0
    for u in units:
        name = "neuron" if u["site"] == "mlp" else "SAE feature"
        ax.text(
            0,
            y,
            f"{name} L{u['layer']}/{u['neuron']}: {u['explanation']!r} (held-out score {u['score']:.2f})",
            fontsize=8,
            weight="bold",
            va="center",
        )
        peak = max((max(e["activations"]) for e in u["top"] if e["activations"]), default=0.0)
        for excerpt in u["top"][:EXCERPTS]:
            y -= 1
            _excerpt_row(ax, y, excerpt, peak)
        y -= 1.3
    ax.set_ylim(y + 0.6, 0.8)
    ax.axis("off")
    seed = f" ({units[0]['seed_folder']})" if units and units[0]["seed_folder"].startswith("seed-") else ""
    ax.set_title(
        f"Best-explained units and their top excerpts (test-split texts), shaded by activation{seed}", fontsize=9
    )
    return save_figure(fig, path)
