"""What ``autoalign serve TARGET`` serves, and under which model ids.

TARGET may be a model address (``hf/<folder>``, ``lab/<folder>``, or a plugin provider's
``<provider>/<name>`` whose model is local: weights and tokenizer in this process), a model folder
(it holds ``config.json``), or a run folder whose ``models/`` holds saved models (one subfolder
each, such as ``runs/x/models/generator_arithmetic``). A model is served under its folder's name
(a plugin's model under its name), the id clients put in ``model``. For a run folder
``--model-name`` picks one of its models; for a single model it renames it. Anything else is a
one-line :class:`UserError`, raised before any model loads where the path alone shows it.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from ..models.handle import LocalModel
from ..models.providers import open_model, parse_address
from ..registry import providers


def saved_models(run_dir: Path) -> dict[str, Path]:
    """The model folders of a run, by name (empty when ``run_dir`` has none)."""
    root = run_dir / "models"
    if not root.is_dir():
        return {}
    return {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and (p / "config.json").is_file()}


def plan(target: str, model_name: str | None = None) -> dict[str, str]:
    """Model id -> address to open, for ``target``; checks paths without loading anything."""
    if not isinstance(target, str) or not target.strip():
        raise UserError("serve: give a model address (hf/<folder>, lab/<folder>), a model folder or a run folder")
    head, sep, _ = target.partition("/")
    if sep and head in providers and not Path(target).is_dir():
        address = parse_address(target, "serve")
        if address.provider == "openai":
            raise UserError(f"serve: {target} is not a local model; serve hf/<folder> or lab/<folder> addresses")
        if address.provider not in ("hf", "lab"):  # a plugin's provider: it says what the name means
            return {model_name or Path(address.name).name or address.name: str(address)}
        if address.lab_size:
            raise UserError(
                f"serve: {target} is a size that a protocol trains from scratch, not a saved model; "
                "give the folder a run saved it in (runs/<run> or runs/<run>/models/<name>)"
            )
        folder, provider = Path(address.name).expanduser(), address.provider
    else:
        folder, provider = Path(target).expanduser(), "hf"
    if not folder.is_dir():
        raise UserError(f"serve: {target}: no such folder (give a model folder, a run folder or hf/<folder>)")
    if (folder / "config.json").is_file():
        return {model_name or folder.resolve().name: f"{provider}/{folder}"}
    found = saved_models(folder)
    if not found:
        raise UserError(
            f"serve: {folder} is neither a model folder (no config.json) nor a run folder "
            "with saved models (models/<name>/config.json)"
        )
    if model_name is not None:
        if model_name not in found:
            raise UserError(f"serve: {folder} has no model {model_name!r}; it has: {', '.join(found)}")
        found = {model_name: found[model_name]}
    return {name: f"lab/{path}" for name, path in found.items()}


def resolve_models(target: str, model_name: str | None = None) -> dict[str, LocalModel]:
    """The models to serve, loaded on the current device (``models.device.use``), by model id."""
    out: dict[str, LocalModel] = {}
    for model_id, address in plan(target, model_name).items():
        try:
            model = open_model(address, "serve")
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001 - a broken checkpoint: one line, not a traceback
            detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise UserError(f"serve: cannot load {address}: {detail}") from None
        if not isinstance(model, LocalModel):
            raise UserError(f"serve: {address} is not a local model (its provider gives no weights to serve)")
        out[model_id] = model
    return out
