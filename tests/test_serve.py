"""`autoalign serve`: an OpenAI-compatible server for local models, checked with the official client,
with autoalign's own `openai/` provider (RemoteModel), and with malformed requests that must get a
4xx (never a 5xx or a dead server)."""

import contextlib
import http.client
import json
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai import OpenAI

from autoalign.errors import UserError
from autoalign.models import build_char_tokenizer, build_model
from autoalign.models.remote import RemoteModel
from autoalign.models.scoring import completion_logprobs
from autoalign.serve import make_app, resolve_models
from autoalign.serve.background import background
from autoalign.serve.engine import Engine

LIMITS = {"max_batch": 8, "max_tokens": 16, "max_prompts": 64, "max_body_bytes": 64 * 1024}
PROMPTS = ["1+2=", "12*3=", "7-5=4;", "hello"]


def save_micro(folder, seed=0):
    tok = build_char_tokenizer()
    model = build_model("llama", "micro", tok, seed=seed)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def served(tmp_path_factory):
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


def test_models_are_listed(served):
    url = served[0]
    assert [m.id for m in client(url).models.list().data] == ["micro"]
    assert client(url).models.retrieve("micro").id == "micro"
    with pytest.raises(openai.NotFoundError):
        client(url).models.retrieve("nope")


def test_greedy_completions_equal_in_process_generation(served):
    url, lm, _ = served
    r = client(url).completions.create(model="micro", prompt=PROMPTS, max_tokens=12, temperature=0, n=2)
    assert [c.index for c in r.choices] == list(range(2 * len(PROMPTS)))
    texts = [c.text for c in r.choices]
    expected = lm.generate(PROMPTS, temperature=0, max_new_tokens=12)
    assert texts == [t for t in expected for _ in range(2)]  # choice i*n+j is sample j of prompt i
    assert all(c.finish_reason in ("stop", "length") for c in r.choices)
    assert r.usage.prompt_tokens == sum(len(p) for p in PROMPTS)
    one = client(url).completions.create(model="micro", prompt=PROMPTS[0], max_tokens=12, temperature=0)
    assert one.choices[0].text == expected[0] and one.object == "text_completion"


def test_seeded_sampling_is_reproducible_and_equals_in_process(served):
    url, lm, _ = served
    rows = [p for p in PROMPTS for _ in range(3)]
    kw = {"model": "micro", "prompt": PROMPTS, "max_tokens": 10, "temperature": 1.0, "n": 3, "seed": 5}
    a = [c.text for c in client(url).completions.create(**kw).choices]
    b = [c.text for c in client(url).completions.create(**kw).choices]
    assert a == b == lm.generate(rows, temperature=1.0, max_new_tokens=10, seed=5, batch_size=LIMITS["max_batch"])


def test_echo_logprobs_equal_completion_logprobs(served):
    url, lm, _ = served
    prompt, completion = "12*3=", "36;#36"
    r = client(url).completions.create(
        model="micro", prompt=prompt + completion, max_tokens=0, echo=True, logprobs=0, temperature=0
    )
    lp = r.choices[0].logprobs
    assert r.choices[0].text == prompt + completion
    assert lp.token_logprobs[0] is None and lp.tokens == list(prompt + completion)
    assert lp.text_offset == list(range(len(prompt + completion)))
    total = sum(x for off, x in zip(lp.text_offset, lp.token_logprobs) if off >= len(prompt))
    assert abs(total - lm.completion_logprobs([prompt], [completion], with_eos=False)[0]) < 1e-4
    top = client(url).completions.create(model="micro", prompt="1+2=3", max_tokens=0, echo=True, logprobs=3)
    tops = top.choices[0].logprobs.top_logprobs
    assert tops[0] is None and all(len(t) == 3 and max(t.values()) <= 0 for t in tops[1:])


def test_generated_token_logprobs_score_the_completion(served):
    url, lm, _ = served
    r = client(url).completions.create(model="micro", prompt=PROMPTS, max_tokens=8, temperature=1.0, seed=1, logprobs=2)
    tokens = []  # the same seeded sample in-process, with the token ids the model wrote
    texts = lm.generate(
        PROMPTS, temperature=1.0, max_new_tokens=8, seed=1, batch_size=LIMITS["max_batch"], tokens_out=tokens
    )
    want = completion_logprobs(lm.module, lm.tokenizer, PROMPTS, texts, with_eos=False, tokens=tokens)
    for c, text, toks, expected in zip(r.choices, texts, tokens, want):
        lp = c.logprobs
        assert c.text == text and len(lp.tokens) == len(toks) == len(lp.text_offset) and len(lp.top_logprobs[0]) == 2
        assert abs(sum(lp.token_logprobs) - expected) < 1e-4
    echoed = client(url).completions.create(
        model="micro", prompt="1+2=", max_tokens=4, temperature=0, echo=True, logprobs=0
    )
    c = echoed.choices[0]
    assert c.text.startswith("1+2=") and len(c.logprobs.tokens) == len(c.text)


def test_remote_model_against_the_server(served):
    url, lm, _ = served
    remote = RemoteModel("micro", url=f"{url}/v1", api_key="x")
    assert remote.generate(PROMPTS, temperature=0, max_new_tokens=10, batch_size=3) == lm.generate(
        PROMPTS, temperature=0, max_new_tokens=10
    )
    prompts, completions = ["1+2=", "12*3=", "hello"], ["3;#3", "36", " world"]
    got = remote.completion_logprobs(prompts, completions)
    want = lm.completion_logprobs(prompts, completions, with_eos=False)
    assert all(abs(a - b) < 1e-4 for a, b in zip(got, want))
    conversations = [
        [{"role": "user", "content": "what is 1+2?"}],
        [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
    ]
    assert remote.chat(conversations, max_new_tokens=8) == lm.chat(conversations, max_new_tokens=8)


def test_chat_completions(served):
    url, lm, _ = served
    messages = [{"role": "user", "content": "hi"}]
    r = client(url).chat.completions.create(
        model="micro", messages=messages, max_tokens=6, temperature=0, n=2, logprobs=True, top_logprobs=2
    )
    expected = lm.generate([lm.chat_prompt(messages)], temperature=0, max_new_tokens=6)[0]
    assert [c.message.content for c in r.choices] == [expected, expected] and r.object == "chat.completion"
    assert r.choices[0].message.role == "assistant" and r.usage.prompt_tokens == len(lm.chat_prompt(messages))
    content = r.choices[0].logprobs.content
    assert len(content) == r.usage.completion_tokens // 2 and all(len(t.top_logprobs) == 2 for t in content)
    # no max_tokens: as many as the context leaves (capped by the server's limit)
    free = client(url).chat.completions.create(model="micro", messages=messages, temperature=0)
    assert len(free.choices[0].message.content) <= LIMITS["max_tokens"]
    text = lm.generate(["hello"], temperature=0, max_new_tokens=12)[0]
    if len(text) >= 4:
        stop = text[2:4]
        stopped = client(url).completions.create(
            model="micro", prompt="hello", max_tokens=12, temperature=0, stop=["\t", stop]
        )
        assert stopped.choices[0].text == text[: text.find(stop)] and stopped.choices[0].finish_reason == "stop"


def bos_char_tokenizer():
    """The character tokenizer, plus a BOS that it puts before every text (as Llama's tokenizers do)."""
    from tokenizers import Tokenizer, decoders, models, processors
    from transformers import PreTrainedTokenizerFast

    from autoalign.models.tokenizer import ALPHABET

    specials = ["<pad>", "<eos>", "<unk>", "<bos>"]
    core = Tokenizer(
        models.BPE(
            vocab={t: i for i, t in enumerate(specials + list(dict.fromkeys(ALPHABET)))}, merges=[], unk_token="<unk>"
        )
    )
    core.add_special_tokens(specials)
    core.decoder = decoders.Fuse()
    core.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 3)])
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="<pad>",
        eos_token="<eos>",
        unk_token="<unk>",
        bos_token="<bos>",
        padding_side="left",
    )


def test_a_bos_model_scores_every_token_after_bos(tmp_path):
    tok = bos_char_tokenizer()
    build_model("llama", "micro", tok, seed=0).save_pretrained(tmp_path / "bos")
    tok.save_pretrained(tmp_path / "bos")
    models = resolve_models(str(tmp_path / "bos"))
    lm = models["bos"]
    with background(make_app(models, **LIMITS)) as url:
        r = client(url).completions.create(model="bos", prompt="1+2=3", max_tokens=0, echo=True, logprobs=0)
        lp = r.choices[0].logprobs
        assert lp.tokens[0] == "<bos>" and lp.token_logprobs[0] is None and lp.text_offset[:2] == [0, 0]
        assert None not in lp.token_logprobs[1:] and r.usage.prompt_tokens == 6
        remote = RemoteModel("bos", url=f"{url}/v1", api_key="x")
        prompts, completions = ["", "1+2="], ["12", "3"]  # an empty prompt: the first token is scored after BOS
        want = lm.completion_logprobs(prompts, completions, with_eos=False)
        assert all(abs(a - b) < 1e-4 for a, b in zip(remote.completion_logprobs(prompts, completions), want))
        assert remote.generate(["", "1+2="], temperature=0, max_new_tokens=5) == lm.generate(
            ["", "1+2="], temperature=0, max_new_tokens=5
        )


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
