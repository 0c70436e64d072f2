"""``world: {name: <registered world>, ...its knobs}``: how every config section names a world.

A protocol never lists worlds: it takes a :class:`WorldRef`, and any world in the registry (a
built-in or a plugin's) can be named. The knobs are validated against that world's own ``Config``
when the config loads, so a misspelt knob fails at load time with its name, as protocol sections do.
A reference serialises back to the same flat mapping (``{name, **knobs}``, defaults filled in), so
the resolved config saved in a run reads exactly like what a user writes.

A protocol that needs a capability a world lacks (planted flaws, step spans written as text) states
it with :func:`require` in its config validator: the one-line error names the world and the
capability at load time instead of failing an hour into a run.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_serializer, model_validator

from ..errors import UserError
from .base import World


def _world_class(name: str) -> type[World]:
    from ..registry import worlds

    try:
        return worlds.get(name)
    except UserError as e:
        raise ValueError(str(e)) from None


class WorldRef(BaseModel):
    """A registered world and its knobs, written ``{name: arithmetic, max_steps: 4}`` (or just ``arithmetic``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    name: str
    config: Any = None  # the world's own Config instance, filled in by the validator

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, data: Any) -> Any:
        if isinstance(data, WorldRef):
            return {"name": data.name, "config": data.config}
        if isinstance(data, str):
            data = {"name": data}
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            raise ValueError("expected a world: {name: <registered world>, ...its knobs}")
        world = _world_class(data["name"])
        knobs = {k: v for k, v in data.items() if k != "name"}
        if set(knobs) == {"config"} and isinstance(knobs["config"], world.Config):
            return data
        try:
            config = world.Config.model_validate(knobs)
        except ValidationError as e:
            first = e.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            msg = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
            raise ValueError(f"world {data['name']!r}: {loc + ': ' if loc else ''}{msg}") from None
        return {"name": data["name"], "config": config}

    @model_serializer(mode="plain")
    def _dump(self) -> dict:
        return {"name": self.name, **self.config.model_dump(mode="json")}

    def make(self) -> World:
        """The world itself, with these knobs."""
        return _world_class(self.name)(self.config)

    def capabilities(self) -> set[str]:
        return _world_class(self.name).capabilities()

    def __str__(self) -> str:
        return self.name


def world_ref(name: str, **knobs: Any) -> WorldRef:
    """A reference in code: ``world_ref("arithmetic", max_steps=4)``."""
    return WorldRef.model_validate({"name": name, **knobs})


def require(ref: WorldRef, capability: str, why: str) -> None:
    """Raise (a ValueError, so Pydantic names the key) unless the world has ``capability``."""
    if capability not in ref.capabilities():
        raise ValueError(
            f"world {ref.name!r} has no {capability} ({why}); worlds that have it: "
            + ", ".join(sorted(worlds_with(capability)))
        )


def worlds_with(capability: str) -> list[str]:
    from ..registry import worlds

    out = []
    for name in worlds.names():
        try:
            if capability in worlds.get(name).capabilities():
                out.append(name)
        except Exception:  # a world that fails to import is not offered
            continue
    return out
