"""``autoalign serve``: load the models, bind the port, print the URL, run uvicorn until Ctrl-C.

The port is bound here, before uvicorn starts, so a port already in use is a one-line error (and
``--port 0`` serves on a free port that the printed URL names). Without ``--api-key`` (or
``AUTOALIGN_API_KEY``) anyone who can reach the port can use the models, so the default host is
127.0.0.1 and binding elsewhere without a key prints a warning.
"""

from __future__ import annotations

import os
import socket
import sys

from ..errors import UserError


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on ``host:port``, or a one-line error saying why not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, OverflowError, UnicodeError) as exc:
        raise UserError(f"serve: cannot use host {host!r}: {exc}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise UserError(f"serve: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def serve(
    target: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    api_key: str | None = None,
    model_name: str | None = None,
    device: str = "auto",
    dtype: str = "float32",
) -> None:
    """Serve the model(s) at ``target`` over an OpenAI-compatible API until interrupted."""
    from ..models.device import use
    from .resolve import plan, resolve_models

    if not 0 <= port <= 65535:
        raise UserError(f"serve: --port must be between 0 and 65535, not {port}")
    api_key = api_key or os.environ.get("AUTOALIGN_API_KEY") or None
    plan(target, model_name)  # bad paths fail before the device is touched or anything loads
    use(device, dtype)
    models = resolve_models(target, model_name)
    sock = bind(host, port)
    try:
        try:
            import uvicorn

            from .app import make_app
        except ImportError as exc:
            raise UserError(f"serve needs its extra ({exc.name} is missing): pip install 'autoalign[serve]'") from None
        app = make_app(models, api_key)
        bound = sock.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        print(f"serving {', '.join(models)} at http://{shown}:{bound}/v1", flush=True)
        if api_key is None and host not in ("127.0.0.1", "localhost", "::1"):
            print(f"warning: {host} is reachable from other machines and no --api-key is set", file=sys.stderr)
        config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=10)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
