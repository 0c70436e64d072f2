"""The validation table's columns: a registry of overseers, so that a user's overseer gets a column.

A table overseer is ``score(ctx, cfg, behaviour, foundations) -> list[float] | str``: a suspicion
score per item of an organism's behaviour (higher: more suspicious), or, when it cannot judge that
kind of behaviour, one line saying why (the cell reads n/a). Built-ins (``judge.py``): the PRM, ORM,
critic and defection probe, which judge arithmetic solutions; the consistency check and the action
monitor, whose scores the organism's own world computes (``behaviour["scores"]``). A plugin adds
one with::

    from autoalign.protocols.organisms import table_overseer

    @table_overseer("my_monitor")
    def score(ctx, cfg, behaviour, foundations) -> list[float] | str: ...

and names it in the config's ``organisms.overseers``.
"""

from __future__ import annotations

from typing import Callable

from ...registry import Registry

BUILTIN = ("prm", "orm", "critic", "probe", "consistency", "action_monitor")
overseers: Registry[Callable] = Registry(
    "organisms overseer", {name: "autoalign.protocols.organisms.judge" for name in BUILTIN})


def table_overseer(name: str) -> Callable:
    """Decorator: register ``score(ctx, cfg, behaviour, foundations)`` as a column of the table."""

    def decorator(score: Callable) -> Callable:
        overseers.register(name, score)
        return score

    return decorator
