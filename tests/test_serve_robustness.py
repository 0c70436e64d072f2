"""`autoalign serve` when things go wrong: a missing or wrong API key, malformed and fuzzed requests
must get an OpenAI-style 4xx (never a 5xx or a dead server), oversized bodies a 413, a failing model
a 500 after which the server still answers; many clients at once all get answers (the engine batches
queued jobs with one key and isolates a failing one); bad targets, a busy port and a bad host are one
line. What the server answers is checked against in-process generation in ``test_serve.py``."""

import contextlib
import http.client
import json
import re
import socket
import subprocess
import sys
import threading
import time

import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serve_harness import LIMITS, client, is_error, post, save_micro, serve_micro

from autoalign.errors import UserError
from autoalign.serve import make_app, resolve_models
from autoalign.serve.background import background
from autoalign.serve.engine import Engine


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    yield from serve_micro(tmp_path_factory)


def test_api_key_is_enforced(served):
    _, lm, _ = served
    with background(make_app({"micro": lm}, api_key="sesame", **LIMITS)) as url:
        body = json.dumps({"model": "micro", "prompt": "1+2=", "max_tokens": 2}).encode()
        assert is_error(*post(url, body), code=401)
        assert is_error(*post(url, body, headers={"Authorization": "Bearer wrong"}), code=401)
        assert post(url, body, headers={"Authorization": "Bearer sesame"})[0] == 200
        with pytest.raises(openai.AuthenticationError):
            client(url, "wrong").models.list()
        assert client(url, "sesame").models.list().data[0].id == "micro"


BAD = [
    (b"{", 400),
    (b"", 400),
    (b"[]", 400),
    (b'"x"', 400),
    (b"\xff\xfe", 400),
    (b"[" * 50000, 400),
    (b'{"prompt": "a"}', 400),
    (b'{"model": "micro"}', 400),
    (b'{"model": 3, "prompt": "a"}', 400),
    (b'{"model": "nope", "prompt": "a"}', 404),
    (b'{"model": "micro", "prompt": "a", "max_tokens": 10000}', 400),
    (b'{"model": "micro", "prompt": "a", "max_tokens": -1}', 400),
    (b'{"model": "micro", "prompt": "a", "max_tokens": "5"}', 400),
    (b'{"model": "micro", "prompt": "a", "temperature": NaN}', 400),
    (b'{"model": "micro", "prompt": "a", "n": true}', 400),
    (b'{"model": "micro", "prompt": [1, 2]}', 400),
    (b'{"model": "micro", "prompt": []}', 400),
    (b'{"model": "micro", "prompt": "", "max_tokens": 2}', 400),
    (b'{"model": "micro", "prompt": ["a"], "n": 100}', 400),
    (b'{"model": "micro", "prompt": "\\ud800"}', 400),
    (b'{"model": "micro", "prompt": "a", "stream": true}', 400),
    (b'{"model": "micro", "prompt": "a", "seed": 1e400}', 400),
    (b'{"model": "micro", "prompt": "' + b"a" * 300 + b'", "max_tokens": 1}', 400),
]


@pytest.mark.parametrize("body,status", BAD)
def test_malformed_completions_get_openai_errors(served, body, status):
    assert is_error(*post(served[0], body), code=status)


def test_malformed_chat_and_routes_get_openai_errors(served):
    url = served[0]
    for body in [
        b'{"model": "micro"}',
        b'{"model": "micro", "messages": []}',
        b'{"model": "micro", "messages": "hi"}',
        b'{"model": "micro", "messages": [{"content": "hi"}]}',
        b'{"model": "micro", "messages": [{"role": "user", "content": [{"type": "image"}]}]}',
        b'{"model": "micro", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 17}',
    ]:
        assert is_error(*post(url, body, "/v1/chat/completions"), code=400), body
    assert is_error(*post(url, b"{}", "/v1/nowhere"), code=404)
    assert is_error(*post(url, b"{}", "/v1/models"), code=405)


def test_oversized_bodies_get_413(served):
    url = served[0]
    big = json.dumps({"model": "micro", "prompt": "a" * (LIMITS["max_body_bytes"] + 10)}).encode()
    assert is_error(*post(url, big), code=413)
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.putrequest("POST", "/v1/completions")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Transfer-Encoding", "chunked")  # no Content-Length: the limit counts what arrives
    conn.endheaders()
    with contextlib.suppress(OSError):
        for start in range(0, len(big), 8192):
            chunk = big[start : start + 8192]
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        conn.send(b"0\r\n\r\n")
    resp = conn.getresponse()
    assert resp.status == 413 and "error" in json.loads(resp.read())
    conn.close()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
VALID = {
    "/v1/completions": {
        "model": "micro",
        "prompt": ["1+2=", "ab"],
        "max_tokens": 3,
        "temperature": 0,
        "n": 2,
        "seed": 1,
        "echo": False,
        "logprobs": 1,
        "stop": ";",
    },
    "/v1/chat/completions": {
        "model": "micro",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 3,
        "temperature": 0.5,
        "n": 1,
        "logprobs": True,
        "top_logprobs": 1,
    },
}


@st.composite
def requests(draw):
    path = draw(st.sampled_from(list(VALID) + ["/v1/models", "/v1/none"]))
    kind = draw(st.sampled_from(["junk", "json", "mutated"]))
    if kind == "junk":
        return path, draw(st.binary(max_size=300))
    if kind == "json":
        return path, json.dumps(draw(JSON)).encode()
    body = dict(VALID.get(path, VALID["/v1/completions"]))
    for key in draw(st.lists(st.sampled_from(sorted(body) + ["extra"]), min_size=1, max_size=3)):
        if draw(st.booleans()):
            body.pop(key, None)
        else:
            body[key] = draw(JSON | st.integers(min_value=-(2**70), max_value=2**70))
    return path, json.dumps(body).encode()


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(requests())
def test_fuzzed_requests_never_get_a_5xx(served, request_):
    url = served[0]
    path, body = request_
    status, parsed = post(url, body, path)
    assert status < 500, (path, body, parsed)
    assert (200 <= status < 300 and isinstance(parsed, dict)) or is_error(status, parsed), (path, body, parsed)


def test_server_still_answers_after_errors_and_a_failing_model(served, monkeypatch):
    url, lm, _ = served
    for body, _ in BAD[:8]:
        post(url, body)

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(lm, "generate", broken)
    status, parsed = post(url, json.dumps({"model": "micro", "prompt": "1+2=", "max_tokens": 2}).encode())
    assert status == 500 and parsed["error"]["type"] == "server_error"
    monkeypatch.undo()
    r = client(url).completions.create(model="micro", prompt="1+2=", max_tokens=3, temperature=0)
    assert r.choices[0].text == lm.generate(["1+2="], temperature=0, max_new_tokens=3)[0]


def test_concurrent_requests_all_get_answers(served):
    url, lm, _ = served
    prompts = [f"{i}+{i}=" for i in range(20)]
    expected = lm.generate(prompts, temperature=0, max_new_tokens=6)
    answers = [None] * 20

    def ask(i):
        r = client(url).completions.create(model="micro", prompt=prompts[i], max_tokens=6, temperature=0)
        answers[i] = r.choices[0].text

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert answers == expected


def test_engine_batches_queued_jobs_with_one_key_and_isolates_failures():
    engine, calls, gate = Engine(max_batch=5), [], threading.Event()

    def run(items):
        gate.wait(10)
        calls.append(list(items))
        if "bad" in items:
            raise ValueError("bad item")
        return [x.upper() if x != "err" else ValueError("one row") for x in items]

    first = engine.submit(("a",), ["x"], run)  # holds the worker until the gate opens
    time.sleep(0.1)
    futures = [
        engine.submit(("a",), ["p", "q"], run),
        engine.submit(("b",), ["r"], run),
        engine.submit(("a",), ["s", "bad"], run),
        engine.submit(None, ["t"], run),
        engine.submit(("a",), ["err"], run),
    ]
    gate.set()
    assert first.result(10) == ["X"]
    assert futures[0].result(10) == ["P", "Q"] and futures[1].result(10) == ["R"] and futures[3].result(10) == ["T"]
    with pytest.raises(ValueError, match="bad item"):
        futures[2].result(10)
    with pytest.raises(ValueError, match="one row"):
        futures[4].result(10)
    assert ["p", "q", "s", "bad", "err"] in calls  # queued jobs with one key ran as one batch, oldest first
    engine.stop()


def test_resolving_targets(tmp_path):
    run = tmp_path / "run"
    save_micro(run / "models" / "generator_a")
    save_micro(run / "models" / "verifier_b", seed=1)
    (run / "models" / "not_a_model").mkdir()
    assert sorted(resolve_models(str(run))) == ["generator_a", "verifier_b"]
    assert list(resolve_models(str(run), "verifier_b")) == ["verifier_b"]
    assert list(resolve_models(f"hf/{run}/models/generator_a", "gen")) == ["gen"]
    assert list(resolve_models(f"lab/{run}/models/generator_a")) == ["generator_a"]
    (tmp_path / "empty").mkdir()
    for target, name in [
        (str(tmp_path / "missing"), None),
        (str(tmp_path / "empty"), None),
        (str(run), "nope"),
        ("lab/small", None),
        ("openai/gpt", None),
        ("hf/" + str(tmp_path / "missing"), None),
        ("", None),
    ]:
        with pytest.raises(UserError) as e:
            resolve_models(target, name)
        assert "\n" not in str(e.value)


def test_cli_serves_and_reports_bad_targets_in_one_line(tmp_path):
    folder = save_micro(tmp_path / "micro")
    bad = subprocess.run(
        [sys.executable, "-m", "autoalign", "serve", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "autoalign", "serve", str(folder), "--port", "0", "--device", "cpu", "--api-key", "k"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        m = re.match(r"serving micro at (http://127\.0\.0\.1:\d+)/v1", line)
        assert m, line + proc.stderr.read() if proc.poll() is not None else line
        assert client(m.group(1), "k").models.list().data[0].id == "micro"
    finally:
        proc.terminate()
        proc.wait(30)


def test_a_busy_port_or_bad_host_is_one_line():
    from autoalign.serve.cli import bind

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        with pytest.raises(UserError, match="cannot listen"):
            bind("127.0.0.1", busy.getsockname()[1])
        with pytest.raises(UserError, match="cannot use host"):
            bind("no such host.invalid", 0)
    finally:
        busy.close()
