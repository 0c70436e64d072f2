"""``autoalign serve``: any local model (``lab/``, ``hf/``, a run's saved models) behind an
OpenAI-compatible HTTP API, so that black-box tools, other labs' harnesses and autoalign's own
``openai/`` provider can use it like any hosted model.

* ``resolve.py``: what TARGET names and the model ids to serve it under;
* ``schemas.py``: the request bodies, strictly validated;
* ``engine.py``: the single worker thread that runs (and batches) all model work;
* ``work.py``: generation and teacher-forced log-probabilities on that thread;
* ``responses.py``: OpenAI's response shapes; ``errors.py``: its error shape;
* ``app.py``: the FastAPI app (``make_app``); ``cli.py``: the command.
"""

__all__ = ["Limits", "make_app", "resolve_models"]


def __getattr__(name: str):
    # Lazy, so that ``autoalign serve`` can check its arguments before importing FastAPI and torch.
    if name in ("Limits", "make_app"):
        from . import app

        return getattr(app, name)
    if name == "resolve_models":
        from .resolve import resolve_models

        return resolve_models
    raise AttributeError(name)
