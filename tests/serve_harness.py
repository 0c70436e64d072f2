"""The micro model that the ``autoalign serve`` tests serve, and how they talk to it: the official
OpenAI client, a raw POST (for bodies no client would send) and the check that an answer is an
OpenAI-style 4xx error. ``test_serve.py`` (answers equal in-process generation) and
``test_serve_robustness.py`` (bad requests, bad targets, failures and load) share them."""

import json
import urllib.error
import urllib.request

from openai import OpenAI

from autoalign.models import build_char_tokenizer, build_model
from autoalign.serve import make_app, resolve_models
from autoalign.serve.background import background

LIMITS = {"max_batch": 8, "max_tokens": 16, "max_prompts": 64, "max_body_bytes": 64 * 1024}


def save_micro(folder, seed=0):
    tok = build_char_tokenizer()
    model = build_model("llama", "micro", tok, seed=seed)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def serve_micro(tmp_path_factory):
    """A saved micro model served in the background: yields (url, the in-process model, the app)."""
    folder = save_micro(tmp_path_factory.mktemp("models") / "micro")
    models = resolve_models(str(folder))
    app = make_app(models, **LIMITS)
    with background(app) as url:
        yield url, models["micro"], app


def client(url, key="x"):
    return OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=60)


def post(url, body: bytes, path="/v1/completions", headers=None):
    """(status, parsed JSON or None) of a raw POST."""
    req = urllib.request.Request(
        url + path, data=body, method="POST", headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


def is_error(status, body, code=None):
    ok = 400 <= status < 500 and isinstance(body, dict) and isinstance(body["error"]["message"], str)
    return ok and (code is None or status == code)
