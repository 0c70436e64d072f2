"""A server in a background thread of this process: ``with background(app) as url: ...``.

For notebooks, tests and scripts that want a model behind HTTP for a while (for example to play a
role through the ``openai/`` provider) without starting ``autoalign serve`` in another shell.
Binds a free port of 127.0.0.1 and stops the server on leaving the block.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time


@contextlib.contextmanager
def background(app, host: str = "127.0.0.1", start_timeout: float = 30.0):
    """Run ``app`` under uvicorn in a daemon thread; yields its base URL (``http://host:port``)."""
    import uvicorn

    sock = socket.socket()
    sock.bind((host, 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + start_timeout
    while not server.started and time.time() < deadline and thread.is_alive():
        time.sleep(0.02)
    if not server.started:
        server.should_exit = True
        sock.close()
        raise RuntimeError("the server did not start")
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
