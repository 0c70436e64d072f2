"""Hostile method files from the ``lm`` proposer, behind the evaluation boundary: files that read the
label files, import the checker, open a socket, fork without end, fill the disk or write outside their
folder are each stopped or find nothing, recorded as failed rows with their reason, and the loop
finishes; sentinels on the host (marker files, a loopback listener, digests of the inputs) show nothing
escaped, and the same files run unjailed do leave their marks (the jail, not luck, stopped them). The
synthetic lab is ``research_code_lab.py``'s; a helpful method and a pickled student are in
``test_research_code.py``."""

from __future__ import annotations

import hashlib
import socket
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from jail_marks import needs_bwrap
from research_code_lab import build_lab, hostile_codes, run, unjailed
from test_research_lm import reply

from autoalign.research.boundary.jail import packages
from autoalign.runtime.sandbox import MiB

REASONS = {
    "labels": ("the method exited with 1", "read 0 labelled rows"),
    "checker": ("the method exited with 1", "hostile checker: ModuleNotFoundError"),
    "socket": ("the method exited with 1", "ConnectionRefusedError"),
    "fork": ("process limit", ""),
    "disk": ("disk limit", ""),
    "write": ("the method exited with 1", "hostile write: wrote []"),
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    return build_lab(tmp_path_factory.mktemp("code-lab"))


@pytest.fixture
def listener():
    """A loopback TCP server on the host: whatever connects to it is recorded (a sentinel)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    sock.settimeout(0.2)
    got, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            with conn:
                got.append(conn.recv(100))

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield SimpleNamespace(port=sock.getsockname()[1], got=got)
    stop.set()
    thread.join()
    sock.close()


def digest_of(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


@needs_bwrap
def test_hostile_methods_are_stopped_recorded_and_nothing_escapes(tmp_path, monkeypatch, lab, listener):
    """Each hostile file is stopped or finds nothing, is a failed row with its reason, and the loop
    finishes; host sentinels show nothing escaped, and the same files run unjailed leave their marks."""
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    codes = {name: code for name, code in hostile_codes(sentinel, lab.labels, listener.port).items() if name in REASONS}
    before = {folder: digest_of(folder) for folder in (lab.labels, lab.strong)}
    script = [reply(None, f"hostile {name}", code=code) for name, code in codes.items()]
    result, rows, _ = run(tmp_path, monkeypatch, lab, script, baseline_pgr=0.2)
    assert len(rows) == len(codes)  # every proposal handled and recorded; the loop finished
    assert (tmp_path / "run" / "research.json").exists() and (tmp_path / "run" / "research.html").exists()
    for row, (name, (reason, said)) in zip(rows, REASONS.items()):
        d = row["decision"]
        assert d["failed"] and not d["kept"] and d["reason"].startswith("failed: seed 11: "), (name, d)
        assert [j["reason"] for j in row["jail"]] == [reason, reason], (name, row["jail"])
        assert said in d["reason"], (name, d["reason"])
        assert row["validation_pgr"] == [None, None] and row["code"] == codes[name]
    lm = result["proposers"]["lm"]
    assert (lm["failed"], lm["kept"]) == (len(codes), 0)
    assert not (tmp_path / "run" / "boundary" / "server").exists()  # no student: the server never started
    # nothing escaped: no mark on the host, no connection, inputs and packages untouched
    assert list(sentinel.iterdir()) == [] and listener.got == []
    assert {folder: digest_of(folder) for folder in before} == before
    assert not (packages() / "hostile.pth").exists()
    assert sum(p.stat().st_size for p in (tmp_path / "run").rglob("*") if p.is_file()) < 16 * MiB
    # the negative control: the same files run unjailed leave their marks (the jail stopped them)
    for name in ("labels", "checker", "socket", "write"):
        method = tmp_path / f"{name}.py"
        method.write_text(codes[name])
        unjailed(method, lab, tmp_path / f"unjailed-{name}")
    assert sorted(p.name for p in sentinel.iterdir()) == ["checker", "labels", "socket", "write"]
    assert listener.got == [b"the labels, please"]
