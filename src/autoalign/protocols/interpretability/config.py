"""The ``interpretability`` config section: which texts, how many excerpts, the planted feature, the
ablation and the sparse autoencoder."""

from __future__ import annotations

from pydantic import Field

from ...protocol import Section


class PlantedSection(Section):
    """A grammar feature wired into one MLP neuron of a copy of the generator (``plant_feature``)."""

    feature: str = Field(
        "the running value so far exceeds 50",
        description="A grammar explanation, word for word (the grammar of the world's held-out texts).",
    )
    layer: int = Field(1, ge=0, description="The MLP layer of the neuron (its index is drawn per seed).")
    texts: int = Field(400, ge=8, description="Training-split texts it is planted on (none is ever recorded).")
    steps: int = Field(300, ge=1)
    lr: float = Field(1e-3, gt=0)
    amplitude: float = Field(2.0, gt=0, description="The neuron is pulled towards this times the feature.")


class AblationSection(Section):
    """Mean-ablate the best-explained MLP neurons where their explanations say they fire, against random ones."""

    k: int = Field(10, ge=1, description="Best-explained neurons ablated together.")
    random_draws: int = Field(5, ge=1, description="Sets of k random neurons (same layers, same tokens), averaged.")
    texts: int = Field(200, ge=2, description="Held-out texts, disjoint from the recorded ones.")


class SAESection(Section):
    """A sparse autoencoder of one layer's residual stream (``interpretability/sae.py``)."""

    layer: int | None = Field(
        None, ge=0, description="Block whose output is encoded; none: the middle one (n_layers // 2)."
    )
    expansion: int = Field(4, ge=1, description="Features per residual dimension.")
    l1: float = Field(3.0, ge=0, description="Weight of the sparsity penalty.")
    texts: int = Field(2000, ge=8, description="Training-split texts whose tokens it is trained on.")
    steps: int = Field(2000, ge=1)
    batch_size: int = Field(1024, ge=1)
    lr: float = Field(1e-3, gt=0)


class InterpretabilityConfig(Section):
    """Explain every neuron and feature of the generator, test the explanations on planted ground truth
    and by ablation, and compare neurons, residual dimensions and SAE features."""

    texts: int = Field(400, ge=4, description="Held-out (test-split) texts the records are collected over.")
    n_top: int = Field(20, ge=2, description="Top-activating excerpts per unit (half to fit, half to score).")
    n_random: int = Field(
        20, ge=2, description="Random excerpts, shared by all units (half to fit with fit_random, else scored only)."
    )
    fit_random: bool = Field(
        True,
        description=(
            "The explainer fits on half the random excerpts as well as half the top ones (declared 2026-12-04 "
            "after seed 5 of the first run chose 'exceeds 25' for a planted 'exceeds 50'; false: top only)."
        ),
    )
    window: int = Field(64, ge=2, description="Most tokens in an excerpt.")
    residual: bool = Field(True, description="Also explain the residual stream's dimensions after each block.")
    planted: PlantedSection = Field(default_factory=PlantedSection)
    ablation: AblationSection = Field(default_factory=AblationSection)
    sae: SAESection = Field(default_factory=SAESection)
