"""The evaluation server: the one process that holds the labels of the items students are scored on.

Run as ``python -m autoalign.research.boundary.server SPEC`` (``client.py`` starts it): it reads a
per-run random token from its stdin, binds 127.0.0.1 on a free port, prints ``{"port": N}`` and
serves until its stdin closes (its parent ended). It answers one question, ``POST /score``
``{"split", "seed", "method", "student"}``: the accuracy of the student in folder ``student`` (under
the spec's students folder) on that split's items of that seed, read as ``student.py`` says, and its
flags: ``degenerate`` when its verdicts carry no more information about the label than a constant
(``student.degenerate``; a flagged student is never kept nor reported). Never a label, a text or a
per-item verdict: one number, the item count and the flags.

* ``validation``: the search seeds' items, as often as the loop likes (the loop holds these labels
  too; it is the split it searches on);
* ``test``: the fresh seeds' sealed items, once per (method, seed) and ``test_budget`` queries in
  all (the loop declares it: each accepted method once on each test seed). Past it every test query
  is refused, and the refusal is recorded: a proposer that asks again and again to hill-climb the
  sealed score gets one answer.

Every request, answered or refused, well-formed or not, is a line of ``audit.jsonl`` in the spec's
folder: when, who (the client's ``X-Client`` and its address), whether its token was right, what it
asked and the answer's size. Labels come from the spec's ``source`` (``sources.py``), read in this
process only, on the first query that needs them.
"""

from __future__ import annotations

import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SPLITS = ("validation", "test")
MAX_BODY = 64 * 1024


class ServerSpec(BaseModel):
    """What the server is started with (no label in it: the source says where labels come from)."""

    model_config = ConfigDict(extra="forbid")

    root: str = Field(description="The server's folder: its spec and audit.jsonl.")
    students: str = Field(description="The folder returned students lie under; no other folder is loaded.")
    splits: dict[Literal["validation", "test"], list[int]] = Field(description="Split -> the seeds it holds.")
    test_budget: int = Field(ge=0, description="Test queries allowed in all (accepted methods x test seeds).")
    strong: dict[int, str] = Field(description="Seed -> the strong model's folder (architecture, tokenizer).")
    source: dict = Field(description="Where the labels come from (sources.py): files or weak_to_strong.")
    threads: int = Field(1, ge=1, description="Torch threads for scoring.")


class Refusal(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


class Boundary:
    """The server's state: labels, the test budget and the audit log."""

    def __init__(self, spec: ServerSpec, token: str):
        from .sources import make_source

        self.spec, self.token = spec, token
        self.source = make_source(spec.source)
        self.items: dict[tuple[str, int], tuple[list[str], list[int]]] = {}
        self.test_used, self.test_seen = 0, set()
        self.lock = threading.Lock()
        self.audit_path = Path(spec.root) / "audit.jsonl"

    def audit(self, row: dict) -> None:
        with self.lock, open(self.audit_path, "a") as f:
            f.write(json.dumps(row) + "\n")

    def check_token(self, header: str | None) -> str:
        given = (header or "").removeprefix("Bearer").strip()
        if not given:
            return "missing"
        return "ok" if hmac.compare_digest(given.encode(), self.token.encode()) else "wrong"

    def score(self, ask: dict) -> dict:
        split, seed, method, student = ask.get("split"), ask.get("seed"), ask.get("method"), ask.get("student")
        if split not in SPLITS:
            raise Refusal(400, f"split must be one of {', '.join(SPLITS)}")
        if not isinstance(seed, int) or seed not in self.spec.splits.get(split, []):
            raise Refusal(403, f"seed {seed!r} is not a {split} seed")
        if not isinstance(method, str) or not method or len(method) > 200:
            raise Refusal(400, "method must name the method scored (1 to 200 characters)")
        folder = Path(str(student)).resolve()
        if not folder.is_relative_to(Path(self.spec.students).resolve()):
            raise Refusal(403, "the student is not under the students folder")
        with self.lock:
            if split == "test":
                if (method, seed) in self.test_seen:
                    raise Refusal(429, f"{method} was scored on the test split at seed {seed} already")
                if self.test_used >= self.spec.test_budget:
                    raise Refusal(429, f"test budget spent ({self.test_used} of {self.spec.test_budget} queries)")
                self.test_used += 1
                self.test_seen.add((method, seed))
            texts, labels = self._items(split, seed)
        from . import student as known

        try:
            model, tokenizer = known.load_student(self.spec.strong[seed], folder)
        except known.StudentError as e:
            raise Refusal(422, str(e)) from None
        with self.lock:
            p = known.predict(model, tokenizer, texts)
        why = known.degenerate(p, labels)  # the degeneracy guard: here, where the labels are
        return {"accuracy": known.accuracy(p, labels), "n": len(labels), "flags": [why] if why else []}

    def _items(self, split: str, seed: int) -> tuple[list[str], list[int]]:
        if (split, seed) not in self.items:
            self.items[(split, seed)] = self.source.items(split, seed)
        return self.items[(split, seed)]


def handler(boundary: Boundary):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self._answer()

        def do_GET(self):
            self._answer()

        def _answer(self):
            token = boundary.check_token(self.headers.get("Authorization"))
            row = {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z",
                "who": (self.headers.get("X-Client") or "-")[:100],
                "peer": f"{self.client_address[0]}:{self.client_address[1]}",
                "token": token,
                "what": {"path": self.path[:200], "method": self.command},
            }
            try:
                if token != "ok":
                    raise Refusal(401, f"{token} token")
                if self.command != "POST" or self.path != "/score":
                    raise Refusal(404, "the server answers POST /score only")
                size = int(self.headers.get("Content-Length") or 0)
                if not 0 < size <= MAX_BODY:
                    raise Refusal(400, f"a body of 1 to {MAX_BODY} bytes")
                try:
                    ask = json.loads(self.rfile.read(size))
                except ValueError:
                    raise Refusal(400, "the body is not JSON") from None
                if not isinstance(ask, dict):
                    raise Refusal(400, "the body is not a JSON object")
                row["what"] = {k: ask.get(k) for k in ("split", "seed", "method")}
                status, answer = 200, boundary.score(ask)
                row["outcome"] = "answered"
            except Refusal as e:
                status, answer = e.status, {"refused": e.reason}
                row["outcome"] = f"refused: {e.reason}"
            body = json.dumps(answer).encode()
            row.update(status=status, answer_bytes=len(body))
            boundary.audit(row)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # the audit log is the record
            pass

    return Handler


def serve(boundary: Boundary) -> ThreadingHTTPServer:
    """The boundary served on 127.0.0.1, a free port, from a background thread."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(boundary))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(argv: list[str]) -> None:
    import torch

    spec = ServerSpec.model_validate_json(Path(argv[0]).read_text())
    token = sys.stdin.readline().strip()
    if len(token) < 32:
        sys.exit("evaluation server: expected the run's token on stdin")
    torch.set_num_threads(spec.threads)
    server = serve(Boundary(spec, token))
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    sys.stdin.read()  # until the parent closes our stdin (or dies)
    server.shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
