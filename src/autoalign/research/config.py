"""What a research run declares before it starts: the target experiment, the search space, the
proposers and their budgets, the seeds the search may look at, and the fresh seeds of the sealed test.

A research config is a YAML file::

    name: research_w2s
    seed: 0                       # the proposers' seed
    research: {...}               # ResearchConfig below
    weak_to_strong: {...}         # the target: a weak_to_strong section, as in any run config

The weak_to_strong section is validated exactly as ``autoalign run`` validates it. Naming the ``lm``
proposer needs ``research.lm`` (``LMSettings``: the model that proposes, see ``lm_proposer.py``).
How the search spends the machine: ``research.workers`` evaluations at once on ``research.executor``
(``process`` or ``ray``, see ``executor.py``), and ``research.parallel`` proposals per batch of each
proposer (see ``loop.py``)::

    research: {workers: 4, executor: ray, parallel: 2}   # 2 proposals x 2 seeds at once, on Ray

With ``research.boundary: true`` a language model's method code is run in the sandbox on every
search seed and scored by the evaluation server (``code_runs.py``); without it, code is rejected.
A boundary run on the ``secret_arithmetic`` world needs a private ``weak_to_strong.world.key`` (an
empty key makes the secret a function of the seed, which a jailed method is handed).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..config import RunConfig, _format_error, config_from_dict
from ..config_io import apply_overrides, read_yaml_mapping
from ..errors import UserError
from .space import Knob

TARGETS = ("weak_to_strong",)


class LMSettings(BaseModel):
    """``research.lm``: the language model of the ``lm`` proposer and how to reach it."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="A model address: openai/<name> (a server) or hf/<folder> (a local checkpoint).")
    temperature: float = Field(0.7, ge=0, description="Sampling temperature of each reply.")
    max_new_tokens: int = Field(600, ge=1, description="The longest reply, in tokens.")
    base_url: str | None = Field(
        None, min_length=1, description="The server of an openai/ address (else OPENAI_BASE_URL)."
    )
    timeout: float = Field(60.0, gt=0, description="Seconds to wait for one reply (openai/).")
    max_failures: int = Field(
        3, ge=1, description="Rejected replies in a row after which the lm proposer stops (the loop goes on)."
    )


class ResearchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: str = Field("weak_to_strong", description="The experiment searched: weak_to_strong (PGR).")
    method: str = Field("tunable", description="The registered method whose options are searched.")
    baseline: dict = Field(
        {}, description="The hand-written method to beat, as options of ``method`` ({} is ``confidence``)."
    )
    pair: tuple[str, str] | None = Field(None, description="(weak, strong) sizes; default the first pair.")
    space: dict[str, Knob] = Field(min_length=1, description="The declared search space: option -> range or choices.")
    proposers: dict[str, int] = Field(
        {"random": 8, "tpe": 8}, description="Proposer name -> number of proposals (its budget)."
    )
    search_seeds: list[int] = Field(min_length=2, description="Seeds whose test items are the validation split.")
    test_seeds: list[int] = Field(min_length=2, description="Fresh seeds for the sealed test, never searched.")
    alpha: float = Field(0.05, gt=0, lt=1, description="Familywise alpha of the keep-or-discard looks.")
    workers: int = Field(
        1, ge=1, description="Evaluations (one proposal on one seed) at once, processes or Ray tasks; threads divided."
    )
    executor: Literal["process", "ray"] = Field(
        "process", description="Where evaluations run: a local process pool, or Ray tasks (autoalign[ray])."
    )
    ray_address: str | None = Field(
        None, min_length=1, description="With executor ray: a Ray cluster's address (default: a local Ray)."
    )
    parallel: int = Field(
        1, ge=1, description="Proposals each proposer makes at once (a batch), evaluated together, decided in order."
    )
    lm: LMSettings | None = Field(None, description="The model of the lm proposer (needed when proposers name lm).")
    boundary: bool = Field(
        False,
        description="Run the lm proposer's method code behind the evaluation boundary (sandboxed, scored by the "
        "evaluation server); off, code is recorded and rejected unread.",
    )

    @model_validator(mode="after")
    def _check(self) -> "ResearchConfig":
        if self.target not in TARGETS:
            raise ValueError(f"target: expected one of {', '.join(TARGETS)}, got {self.target!r}")
        shared = sorted(set(self.search_seeds) & set(self.test_seeds))
        if shared:
            raise ValueError(f"test_seeds: {shared} are search seeds too; the sealed test needs fresh seeds")
        for seeds, key in ((self.search_seeds, "search_seeds"), (self.test_seeds, "test_seeds")):
            if len(set(seeds)) != len(seeds):
                raise ValueError(f"{key}: seeds must be distinct")
        if not self.proposers or any(n < 1 for n in self.proposers.values()):
            raise ValueError("proposers: name at least one proposer with at least one proposal")
        from ..registry import proposers

        for name in self.proposers:
            if name not in proposers:
                raise ValueError(f"proposers: unknown proposer {name!r} (known: {', '.join(proposers.names())})")
        if self.ray_address is not None and self.executor != "ray":
            raise ValueError("ray_address: only with executor: ray")
        if "lm" in self.proposers and self.lm is None:
            raise ValueError("proposers: the lm proposer needs research.lm (its model: openai/<name> or hf/<folder>)")
        return self


class ResearchFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "research"
    seed: int = 0
    threads: int | None = Field(None, ge=1)
    research: ResearchConfig
    weak_to_strong: dict = Field(description="The target experiment's section (see `autoalign run`).")


def target_config(data: dict, seed: int, source: str) -> RunConfig:
    """The weak-to-strong run config of one seed, validated as ``autoalign run`` would."""
    mapping = {
        "name": data["name"],
        "protocol": "weak_to_strong",
        "seed": seed,
        "weak_to_strong": data["weak_to_strong"],
    }
    if data.get("threads") is not None:
        mapping["threads"] = data["threads"]
    return config_from_dict(mapping, source)


def load_research(path: str | Path, overrides: list[str] | None = None) -> tuple[ResearchFile, RunConfig]:
    """The research config and its target's config (at the proposers' seed), or one-line UserError."""
    data = read_yaml_mapping(path)
    source = str(path)
    if overrides:
        data, source = apply_overrides(data, overrides), f"{path} (with --set)"
    try:
        research = ResearchFile.model_validate(data)
    except ValidationError as e:
        raise UserError(_format_error(source, e)) from None
    base = target_config(research.model_dump(mode="json"), research.seed, source)
    w = base.weak_to_strong
    pairs = w.pair_list()
    pair = tuple(research.research.pair) if research.research.pair else pairs[0]
    if pair not in pairs:
        raise UserError(f"{source}: research.pair: {list(pair)} is not a pair of weak_to_strong (sizes, pairs)")
    from ..methods.tunable import options_error

    if research.research.method != "tunable":
        raise UserError(f"{source}: research.method: only 'tunable' has a declared option space so far")
    for key, knob in research.research.space.items():
        probe = knob.choices[0] if knob.choices is not None else knob.low
        error = options_error({key: probe})
        if error:
            raise UserError(f"{source}: research.space.{key}: not an option of tunable ({error})")
    error = options_error(research.research.baseline)
    if error:
        raise UserError(f"{source}: research.baseline.{error}")
    if research.research.lm is not None:
        _check_lm(research.research.lm, source)
    if research.research.boundary:
        _check_secret(w, source)
    return research, base


def _check_secret(w, source: str) -> None:
    """Behind the boundary the secret world needs a private key: with an empty ``key`` its secret is a
    public function of the seed, and a jailed method is handed its seed, so it could draw the secret
    itself and compute every label by code (``worlds/secret_arithmetic.py``)."""
    config = getattr(w.world, "config", None)
    if w.data is None and w.world.name == "secret_arithmetic" and not getattr(config, "key", ""):
        raise UserError(
            f"{source}: research.boundary: true with weak_to_strong.world.key empty: the secret would be a "
            "function of the seed a jailed method is handed; set a private weak_to_strong.world.key"
        )


def _check_lm(lm: LMSettings, source: str) -> None:
    """The lm proposer's address parses and an openai/ one has a server (the model opens only when the
    proposer starts, after the baseline ran: what a config can get wrong fails here, first)."""
    from ..models.providers import parse_address

    address = parse_address(lm.model, f"{source}: research.lm.model")
    if address.provider == "openai" and not (lm.base_url or os.environ.get("OPENAI_BASE_URL")):
        raise UserError(
            f"{source}: research.lm.base_url: an openai/ model needs its server's URL here or in OPENAI_BASE_URL "
            "(for example http://127.0.0.1:8000/v1)"
        )
