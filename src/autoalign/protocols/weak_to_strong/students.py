"""Running a weak-to-strong method: what it is handed, and its run as a stage.

A method (``autoalign.methods``) gets the texts without labels, its supervisor's soft labels and
model handles, never a world, a checker or a label (``methods/base.py``). Each run is a stage keyed
by the method's name and a hash of the file that defines it, so a plugin's method edited in place is
run again, and by its inputs: the pair, the supervisor's labels, the models and the config.
"""

from __future__ import annotations

import math

from ...methods.base import MethodInputs, method_class
from ...seeding import derive_seed
from .supervisors import budget, handle
from .tasks import items, steps_of, unlabelled


def run_method(
    ctx, name: str, digest: str, pair: tuple[str, str], models: dict, labels: list[float], w, replicate: int
) -> dict | None:
    """Stage: method ``name`` teaches the strong model of ``pair`` from ``labels`` (its supervisor's,
    one per transfer text); its predictions, or None where it does not apply to the pair."""
    cls = method_class(name)
    weak, strong = pair
    steps = steps_of(w)
    mids = w.sizes[w.sizes.index(weak) + 1 : w.sizes.index(strong)]
    inputs = MethodInputs(
        name=name,
        weak_size=weak,
        strong=handle(ctx, strong, models[strong]),
        transfer=unlabelled(items(ctx, w, "transfer"), steps),
        weak_labels=tuple(labels),
        supervisor=cls.supervisor,
        test=unlabelled(items(ctx, w, "test"), steps),
        seed=ctx.derive("w2s", "method", name, weak, strong, replicate),
        replicate=replicate,
        budget=budget(w),
        task=w.task,
        head=w.head,
        derive=_deriver(ctx.seed),
        options=dict(w.method_options.get(name, {})),
        weak=handle(ctx, weak, models[weak]) if cls.wants_weak_model else None,
        intermediates=tuple(handle(ctx, m, models[m]) for m in mids) if cls.wants_intermediate_models else (),
    )
    out = cls().run(inputs)
    if out is None:
        return None
    return {
        "test": _stored(out.test),
        "transfer": None if out.transfer is None else _stored(out.transfer),
        "history": [float(x) for x in out.history],
    }


def models_for(name: str, pair: tuple[str, str], w, lms: dict) -> dict:
    """The pretrained models a method's stage reads (so only those are in its key)."""
    cls = method_class(name)
    weak, strong = pair
    mids = w.sizes[w.sizes.index(weak) + 1 : w.sizes.index(strong)] if cls.wants_intermediate_models else []
    sizes = [strong, *mids] + ([weak] if cls.wants_weak_model else [])
    return {s: lms[s] for s in sizes}


def _deriver(seed: int):
    def derive(*tags) -> int:
        return derive_seed(seed, *tags)

    return derive


def _stored(values) -> list | None:
    """Predictions as stored: numbers rounded to 5 decimals; anything else kept as None (counted
    wrong when scored, as a missing prediction is)."""
    if values is None or isinstance(values, (str, bytes)):
        return None
    try:
        seq = list(values)
    except TypeError:
        return None
    return [_number(v) for v in seq]


def _number(v) -> float | None:
    if v is None or isinstance(v, (bool, str, bytes)):
        return None
    try:
        x = float(v)  # a Python, NumPy or 0-d torch number
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else round(x, 5)
