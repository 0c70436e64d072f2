"""Typed experiment config: Pydantic models loaded from YAML and overridden with ``--set``.

Every key is declared here with its type, range and meaning; unknown keys, wrong types and
out-of-range values fail at load time with one line naming the file and the key's dotted path.
The fully resolved config (defaults filled in) is written into every run as ``config.yaml``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import UserError
from .config_io import apply_overrides, read_yaml_mapping  # noqa: F401  (re-exported)
from .worlds.arithmetic import ArithmeticConfig
from .worlds.countdown import CountdownConfig
from .worlds.digits import DigitsConfig
from .worlds.facts import FactsConfig


ProtocolName = Literal["generator", "best_of_n", "debate_digits", "debate_facts", "gdc_gaps"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class GeneratorConfig(_Section):
    """The policy that writes solutions: trained from scratch, or loaded from a local folder."""

    model: str | None = Field(
        None, description="Local Hugging Face checkpoint folder; if set, no training is done."
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


class SamplingConfig(_Section):
    """How the generator is evaluated: K samples per held-out problem at temperature T."""

    test_problems: int = Field(300, ge=1, description="Held-out problems.")
    samples_per_problem: int = Field(8, ge=1, description="K samples per problem.")
    temperature: float = Field(1.0, ge=0, description="0 means greedy.")
    batch_size: int = Field(512, ge=1, description="Sequences sampled together.")
    max_new_tokens: int = Field(64, ge=1, description="Longest solution, in tokens.")


class VerifierConfig(_Section):
    """ORM and PRM training: fine-tuned from the generator's weights, keeping its LM head."""

    steps: int = Field(150, ge=1, description="Optimizer steps per verifier.")
    batch_size: int = Field(64, ge=1)
    lr: float = Field(3e-4, gt=0, description="Backbone learning rate.")
    head_lr: float = Field(1e-2, gt=0, description="Learning rate of the head (scale and bias).")
    aggregate: Literal["product", "min"] = Field("product", description="PRM solution score.")
    weak_baseline: bool = Field(
        True, description="Also train fresh linear-head verifiers: weaker than the generator."
    )
    data: dict[Literal["arithmetic", "countdown"], str] = Field(
        default_factory=dict,
        description="Per world, a stepwise JSONL (TRL format) to train on instead of generator samples.",
    )


class ActiveLearningConfig(_Section):
    """Which samples to label: convincing wrong answers (high PRM score, wrong answer) vs uniform."""

    enabled: bool = True
    world: Literal["arithmetic", "countdown"] = "arithmetic"
    budgets: list[int] = Field([250, 500, 1000, 2000], min_length=2, description="Labels, ascending.")
    steps: int = Field(60, ge=1, description="Optimizer steps per PRM, the same at every budget.")
    convincing_fraction: float = Field(0.8, ge=0, le=1, description="Share chosen actively.")


class BestOfNConfig(_Section):
    """Best-of-N reranking with ORM, PRM, voting and likelihood on held-out problems."""

    worlds: list[Literal["arithmetic", "countdown"]] = Field(["arithmetic", "countdown"], min_length=1)
    countdown: CountdownConfig = Field(default_factory=CountdownConfig)
    train_problems: int = Field(1000, ge=1, description="Problems whose samples train verifiers.")
    train_samples_per_problem: int = Field(8, ge=1)
    test_problems: int = Field(150, ge=1)
    pool_size: int = Field(80, ge=1, description="Samples per test problem; subsets are drawn from it.")
    n_values: list[int] = Field([1, 2, 4, 8, 16, 32, 64], min_length=1)
    subsets: int = Field(200, ge=1, description="Random subsets per N and problem.")
    verifier: VerifierConfig = Field(default_factory=VerifierConfig)
    active_learning: ActiveLearningConfig = Field(default_factory=ActiveLearningConfig)

    @model_validator(mode="after")
    def _check(self) -> "BestOfNConfig":
        if max(self.n_values) > self.pool_size:
            raise ValueError("every N must be <= pool_size")
        return self


class DebateDigitsConfig(_Section):
    """Sparse-pixel debate: a judge that sees k pixels; debaters choose which."""

    ks: list[int] = Field([4, 6], min_length=1, description="Pixels revealed per game; one judge per k.")
    digits: DigitsConfig = Field(default_factory=DigitsConfig)
    judge_steps: int = Field(3000, ge=1, description="Judge training steps (fresh random masks each).")
    judge_batch_size: int = Field(512, ge=1)
    judge_lr: float = Field(3e-3, gt=0)
    judge_hidden: int = Field(256, ge=1, description="Width of the judge MLP's two hidden layers.")
    random_draws: int = Field(20, ge=1, description="Random pixel sets per image for the judge alone.")
    search: Literal["mcts", "greedy"] = Field("mcts", description="Debaters' search; greedy is always run too.")
    mcts_simulations: int = Field(48, ge=1, description="UCT simulations per move.")
    mcts_width: int = Field(12, ge=2, description="Pixels the tree search considers (half per debater).")
    mcts_c: float = Field(1.0, ge=0, description="UCT exploration constant.")
    test_images: int | None = Field(None, ge=1, description="Debate only the first N held-out images.")

    @model_validator(mode="after")
    def _check(self) -> "DebateDigitsConfig":
        if max(self.ks) > 16:
            raise ValueError("ks: at most 16 pixels (the sparsest digit has 16 non-zero pixels)")
        if self.mcts_width < max(self.ks):
            raise ValueError("mcts_width must be at least the largest k")
        return self


class DebateFactsConfig(_Section):
    """Information-asymmetry debate, consultancy and a blind judge on the facts world."""

    facts: FactsConfig = Field(default_factory=FactsConfig)
    rounds: int = Field(3, ge=1, le=10, description="Quotes per debater (and per consultant).")
    judge_train_questions: int = Field(4000, ge=10, description="Random-quote transcripts the judge learns from.")
    test_questions: int = Field(400, ge=10, description="Held-out stories for the protocols.")
    debater_strength: int = Field(8, ge=1, description="Best-of-N candidate quotes per turn in the protocol comparison.")
    fabricate: float = Field(0.3, ge=0, le=1, description="Chance that a debater's candidates include a fabricated quote.")
    tournament_strengths: list[int] = Field([1, 2, 4, 8, 16], description="Debater strengths (N) in the Elo tournament; [] skips it.")
    tournament_questions: int = Field(300, ge=1, description="Questions per pairing in the tournament.")


ModelSize = Literal["micro", "tiny", "small", "medium"]
FlawKind = Literal["carried", "slip", "operator", "operand"]


class TaskMix(_Section):
    """Relative weights of the three tasks in each training batch."""

    generation: float = Field(0.2, ge=0, description="Generation is learned early; it needs the least.")
    discrimination: float = Field(0.4, ge=0)
    critique: float = Field(0.4, ge=0)

    @model_validator(mode="after")
    def _check(self) -> "TaskMix":
        if self.generation + self.discrimination + self.critique <= 0:
            raise ValueError("at least one task needs a positive weight")
        return self


class GdcConfig(_Section):
    """Generator-discriminator-critique gaps across model sizes, critic catch rate and assistance."""

    world: ArithmeticConfig = Field(
        default_factory=lambda: ArithmeticConfig(min_steps=1, max_steps=3, operators="+-"),
        description="The experiment's own arithmetic world: short chains, where critiquing is learnable here.",
    )
    sizes: list[ModelSize] = Field(["micro", "tiny", "small"], min_length=1, description="One model per size.")
    arch: Literal["llama", "gpt2"] = "llama"
    train_steps: int = Field(1500, ge=1, description="Optimizer steps, the same for every size.")
    batch_size: int = Field(64, ge=1)
    lr: dict[ModelSize, float] = Field({"micro": 3e-3, "tiny": 3e-3, "small": 3e-3, "medium": 1e-3}, description="Peak lr per size.")
    mix: TaskMix = Field(default_factory=TaskMix)
    flaws: list[FlawKind] = Field(["carried", "slip", "operator", "operand"], min_length=1)
    test_problems: int = Field(300, ge=10)
    critic_size: ModelSize | None = Field(None, description="The critic for sweep/assistance (default: last size).")
    critique_samples: int = Field(8, ge=1, description="K critiques sampled per item for the bonus sweep.")
    bonuses: list[float] = Field([-8, -4, -2, -1, 0, 1, 2, 4, 8], min_length=1, description="Bonus per flagged step.")
    rater_budget: int = Field(1, ge=1, description="Steps the simulated rater can check per solution.")
    adversarial_tries: int = Field(6, ge=1, description="Flaws tried per problem to find one the critic misses.")
    checkpoint_every: int = Field(100, ge=1)

    @model_validator(mode="after")
    def _check(self) -> "GdcConfig":
        missing = [s for s in self.sizes if s not in self.lr]
        if missing:
            raise ValueError(f"lr: no learning rate for size {missing[0]}")
        if self.critic_size is not None and self.critic_size not in self.sizes:
            raise ValueError("critic_size must be one of sizes")
        return self


class RunConfig(_Section):
    """A whole experiment."""

    name: str = Field("generator", min_length=1, description="Run name (folder prefix).")
    protocol: ProtocolName | list[ProtocolName] = Field(
        "generator", description="Which experiment to run; a list runs several, in order, in one run folder."
    )
    seed: int = Field(0, description="Fixes data, initialisation and sampling.")
    threads: int = Field(2, ge=1, description="torch intra-op threads.")
    bootstrap_resamples: int = Field(2000, ge=100, description="Resamples for 95% CIs.")
    world: ArithmeticConfig = Field(default_factory=ArithmeticConfig)
    generator: GeneratorConfig = Field(default_factory=GeneratorConfig)
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    best_of_n: BestOfNConfig = Field(default_factory=BestOfNConfig)
    debate_digits: DebateDigitsConfig = Field(default_factory=DebateDigitsConfig)
    debate_facts: DebateFactsConfig = Field(default_factory=DebateFactsConfig)
    gdc: GdcConfig = Field(default_factory=GdcConfig)

    @property
    def protocols(self) -> list[str]:
        return list(self.protocol) if isinstance(self.protocol, list) else [self.protocol]

    def digest(self) -> str:
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def _format_error(source: str, err: ValidationError) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    more = err.error_count() - 1
    return f"{source}: {loc}: {msg}" + (f" (and {more} more problems)" if more else "")


def config_from_dict(data: dict, source: str = "config") -> RunConfig:
    try:
        return RunConfig.model_validate(data)
    except ValidationError as e:
        raise UserError(_format_error(source, e)) from None


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> RunConfig:
    data = read_yaml_mapping(path) if path is not None else {}
    source = str(path) if path is not None else "config"
    if overrides:
        data = apply_overrides(data, overrides)
        source += " (with --set)"
    return config_from_dict(data, source)
