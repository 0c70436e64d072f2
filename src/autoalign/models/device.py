"""Where models run: ``device: auto|cpu|cuda|mps`` and ``dtype``, resolved once per run.

``auto`` picks a CUDA GPU when torch sees one, then Apple's MPS, else the CPU. Every function that
takes a model puts its inputs on the model's own device (``model_device``), so only the places
that build or load a model need to know the run's choice.
"""

from __future__ import annotations

import torch

from ..errors import UserError
from ..runtime.placement import placement, set_placement

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(spec: str = "auto") -> str:
    """The concrete device for ``spec``; asking for one this machine lacks is a one-line error."""
    base = spec.split(":", 1)[0]
    if base not in DEVICES:
        raise UserError(f"device: unknown device {spec!r}; use one of {', '.join(DEVICES)}")
    cuda, mps = (
        torch.cuda.is_available(),
        bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available(),
    )
    if base == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if base == "cuda" and not cuda:
        raise UserError("device: cuda was asked for but torch sees no CUDA GPU (a CPU build of torch, or no GPU)")
    if base == "mps" and not mps:
        raise UserError("device: mps was asked for but torch has no MPS backend here")
    return spec


def resolve_dtype(name: str) -> torch.dtype:
    if name not in DTYPES:
        raise UserError(f"dtype: unknown dtype {name!r}; use one of {', '.join(DTYPES)}")
    return DTYPES[name]


def use(device: str, dtype: str = "float32") -> None:
    """Set the device and dtype that models built or loaded from now on (in this process) go to."""
    resolve_dtype(dtype)
    set_placement(resolve_device(device), dtype)


def current() -> tuple[str, str]:
    """The device and dtype of this process (``runtime/placement.py``: a run sets them in each worker)."""
    return placement()


def place(model):
    """Move a freshly built or loaded model to the current device and dtype (training keeps float32
    master weights unless the run asks otherwise)."""
    device, dtype = current()
    return model.to(device=device, dtype=resolve_dtype(dtype))


def model_device(model) -> torch.device:
    dev = getattr(model, "device", None)
    if isinstance(dev, torch.device):
        return dev
    try:
        return next(model.parameters()).device
    except (StopIteration, AttributeError):
        return torch.device("cpu")
