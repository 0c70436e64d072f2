"""The research loop's side of the evaluation server: start it, ask it for scores, stop it.

The loop never holds the sealed labels: it starts the server as its own process (``server.py``)
with a spec that says where labels come from, hands it a fresh random token on its stdin (never on
a command line, which other processes can read), and asks over loopback HTTP. A refused query is a
:class:`Refused` with the server's reason, which the caller records; the server has recorded it too.
"""

from __future__ import annotations

import json
import secrets
import selectors
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from ...errors import UserError
from ...runtime.store import atomic_write_text
from .server import ServerSpec


class Refused(Exception):
    """The server refused a query (``status``, ``reason``)."""

    def __init__(self, status: int, reason: str):
        super().__init__(f"refused ({status}): {reason}")
        self.status, self.reason = status, reason


class BoundaryClient:
    """Asks a running evaluation server (at ``port``, with the run's ``token``) for scores."""

    def __init__(self, port: int, token: str, who: str = "research loop"):
        self.port, self.token, self.who = port, token, who

    def score(self, split: str, seed: int, method: str, student: str | Path, timeout: float = 600.0) -> dict:
        """``{"accuracy", "n"}`` of the student in folder ``student``; Refused if the server refuses."""
        body = json.dumps({"split": split, "seed": seed, "method": method, "student": str(student)}).encode()
        headers = {"Authorization": f"Bearer {self.token}", "X-Client": self.who, "Content-Type": "application/json"}
        url = f"http://127.0.0.1:{self.port}/score"
        request = urllib.request.Request(url, body, headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            try:
                reason = json.loads(e.read()).get("refused", "")
            except ValueError:
                reason = ""
            raise Refused(e.code, reason or e.reason) from None


class EvaluationServer(BoundaryClient):
    """The evaluation server as a process of its own, and a client of it; stops it on exit."""

    def __init__(self, spec: ServerSpec, who: str = "research loop", start_seconds: float = 120.0):
        self.spec = spec
        root = Path(spec.root)
        root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(root / "spec.json", spec.model_dump_json(indent=1))
        token = secrets.token_hex(32)
        with open(root / "server.log", "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "autoalign.research.boundary.server", str(root / "spec.json")],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
            )
        self.proc.stdin.write((token + "\n").encode())
        self.proc.stdin.flush()
        super().__init__(self._port(start_seconds), token, who)

    def _port(self, seconds: float) -> int:
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            ready = sel.select(seconds)
        line = self.proc.stdout.readline() if ready else b""
        try:
            return int(json.loads(line)["port"])
        except (ValueError, KeyError, TypeError):
            self.close()
            log = Path(self.spec.root) / "server.log"
            raise UserError(f"the evaluation server did not start within {seconds:.0f} s: see {log}") from None

    def audit(self) -> list[dict]:
        path = Path(self.spec.root) / "audit.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()  # the server's cue to stop
                self.proc.wait(timeout=10)
            except (subprocess.TimeoutExpired, BrokenPipeError):
                self.proc.kill()
                self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe and not pipe.closed:
                pipe.close()

    def __enter__(self) -> "EvaluationServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
