"""Method code from the ``lm`` proposer runs behind the evaluation boundary (``research.boundary:
true``): a scripted OpenAI-compatible server replies with method files; each runs in the sandbox on
every search seed and its student is scored by the evaluation server (its own process, the only one
holding the labels); the gate decides as for any proposal and a kept method's sealed test runs once
per fresh test seed on the server's test split. A student that is a pickle running code when loaded
is refused; without the boundary code is rejected unread; a reply's code is checked for form; the
jail's inputs are the very stages an evaluation of the seed runs. Hostile method files (the jail) are
in ``test_research_code_hostile.py``; the synthetic lab both use is in ``research_code_lab.py``.

The helpful method fits only the head (a linear probe of the strong model's pooled states) to the
weak labels, in seconds; a constant student would be flagged degenerate by the server and never
kept."""

from __future__ import annotations

import json
import pickle
from types import SimpleNamespace

import pytest
from jail_marks import needs_bwrap
from research_code_lab import SEARCH, TEST, build_lab, hostile_codes, run, unjailed
from test_research_lm import reply

from autoalign.research import code_runs
from autoalign.research.lm_proposer import NO_CODE, read_reply
from autoalign.research.space import Knob

PROBE = """\
import json

import torch
import transformers
from safetensors.torch import save_file


def train(strong_model_dir, transfer_path, out_dir, seed):
    torch.manual_seed(seed)
    with open(transfer_path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    tokenizer = transformers.AutoTokenizer.from_pretrained(strong_model_dir)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        strong_model_dir, num_labels=1, pad_token_id=tokenizer.pad_token_id
    )
    head, model.score = model.score, torch.nn.Identity()
    with torch.no_grad():
        states = model(**tokenizer([r["text"] for r in rows], padding=True, return_tensors="pt")).logits
    model.score = head
    targets = torch.tensor([r["weak_label"] for r in rows])
    w = torch.zeros(states.shape[1], requires_grad=True)
    opt = torch.optim.Adam([w], lr=0.1)
    for _ in range(300):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(states @ w, targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        model.score.weight.copy_(w[None, :])
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, f"{out_dir}/model.safetensors")
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    return build_lab(tmp_path_factory.mktemp("code-lab"))


def audit(tmp_path) -> list[dict]:
    path = tmp_path / "run" / "boundary" / "server" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# -- a helpful method, and a pickle for a student: the evaluation server ------------------------------


@needs_bwrap
@pytest.mark.science
def test_method_code_runs_in_the_jail_is_scored_by_the_server_kept_and_sealed_tested(tmp_path, monkeypatch, lab):
    """A helpful file runs, is scored by the server, kept, and sealed-tested once per fresh seed; a file
    whose student is a pickle that runs code when loaded is refused by the server, a failed row, and
    its payload never runs (it does when unpickled: the negative control)."""
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    payload = hostile_codes(sentinel, lab.labels, 0)["pickle"]
    script = [reply(None, "a linear probe", code=PROBE), reply(None, "hostile pickle", code=payload)]
    result, (helpful, pickled), requests = run(tmp_path, monkeypatch, lab, script)
    assert helpful["code"] == PROBE and helpful["params"] is None and helpful["seeds"] == SEARCH
    assert all(p > 1 for p in helpful["validation_pgr"]), helpful["validation_pgr"]  # accuracy above 0.8
    assert [j["reason"] for j in helpful["jail"]] == ["", ""]
    assert helpful["decision"]["kept"]  # it beats a baseline of PGR -1 on both seeds
    for seed in SEARCH + TEST:  # the server read each student as the seed's architecture: no weights copied
        architecture = tmp_path / "run" / "boundary" / "strong" / f"seed-{seed}"
        assert (architecture / "config.json").exists() and not (architecture / "model.safetensors").exists()
    lm = result["proposers"]["lm"]
    assert lm["final_code"] == "accepted-lm.py" and (tmp_path / "run" / "accepted-lm.py").read_text() == PROBE
    assert all(p > 1 for p in result["sealed_test_pgr"]["lm"]["per_seed"])
    system = requests[0]["messages"][0]["content"]
    assert "train(strong_model_dir, transfer_path, out_dir, seed)" in system and "model.safetensors" in system
    assert "code (run in the sandbox)" in (tmp_path / "run" / "research.html").read_text()
    d = pickled["decision"]
    assert d["failed"] and not d["kept"] and [j["reason"] for j in pickled["jail"]] == ["", ""]
    refused = "the evaluation server refused its student: model.safetensors is not the strong model's"
    assert d["reason"].startswith(f"failed: seed 11: {refused}"), d["reason"]
    assert (lm["failed"], lm["kept"]) == (1, 1)
    asked = [(a["what"]["split"], a["what"]["seed"], a["status"]) for a in audit(tmp_path)]
    assert asked == [
        *(("validation", s, 200) for s in SEARCH),
        *(("validation", s, 422) for s in SEARCH),  # the pickle, refused
        *(("test", s, 200) for s in TEST),  # the sealed test: once per fresh seed
    ]
    assert list(sentinel.iterdir()) == []
    method = tmp_path / "pickle.py"
    method.write_text(payload)
    unjailed(method, lab, tmp_path / "unjailed-pickle")
    pickle.loads((tmp_path / "unjailed-pickle" / "model.safetensors").read_bytes())  # a careless loader
    assert (sentinel / "pickle").exists()


# -- without the boundary, and replies ---------------------------------------------------------------


def test_without_the_boundary_code_is_rejected_unread_and_no_server_starts(tmp_path, monkeypatch):
    marker = tmp_path / "EXECUTED"
    code = f"open({str(marker)!r}, 'w')\ndef train(**kw):\n    pass\n"
    nothing = SimpleNamespace(strong="", labels="", texts=[], weak=[])  # no jail, no server: never read
    _, (row,), requests = run(tmp_path, monkeypatch, nothing, [reply(None, "x", code=code)], boundary=False)
    assert row["decision"]["reason"] == f"rejected: {NO_CODE}" and row["code"] == code
    assert not marker.exists() and not (tmp_path / "run" / "boundary").exists()
    assert "this search runs no method code" in requests[0]["messages"][0]["content"]


SPACE = {"lr_scale": Knob(low=0.25, high=4, log=True)}


@pytest.mark.parametrize(
    "obj, rejected",
    [
        ({"code": "def train(**kw): pass", "rationale": "r"}, None),
        ({"code": "def train(**kw): pass", "params": None}, None),
        ({"code": "def train(**kw): pass", "params": {"lr_scale": 2}}, "a reply holds params or code, not both"),
        ({"code": ["def train"]}, "code is a JSON list, not the text of a Python file"),
        ({"code": "  \n"}, "code is empty"),
        ({"code": "x = 1", "tool": "shell"}, "unknown keys ['tool'] (a reply holds code and rationale)"),
        ({"code": "#" * 20_001}, "code is longer than 20000 characters"),
    ],
)
def test_with_the_boundary_a_reply_s_code_is_a_proposal_if_well_formed(obj, rejected):
    read = read_reply(json.dumps(obj), SPACE, boundary=True)
    assert read["rejected"] == rejected
    if rejected is None:
        assert read["params"] is None and read["code"] == obj["code"]
    assert read_reply(json.dumps(obj), SPACE)["rejected"] == NO_CODE  # the boundary off: never run


# -- the jail's inputs are the weak-to-strong run's own stages ---------------------------------------


class Halt(Exception):
    pass


@pytest.mark.science
def test_the_jail_inputs_are_the_stages_every_evaluation_of_the_seed_reuses(tmp_path, monkeypatch):
    """``jail_inputs`` builds (or finds) the seed's pretrained strong model and weak labels as the very
    stages an evaluation of that seed runs: an evaluation after it starts none of them again; the
    evaluation server's source builds that seed's validation items."""
    from autoalign.protocols.weak_to_strong import run_task
    from autoalign.research.boundary.sources import WeakToStrongSource
    from autoalign.research.boundary.student import strong_parts
    from autoalign.research.config import target_config
    from autoalign.research.evaluate import seed_config, seed_context, target_section
    from autoalign.runtime.context import RunContext

    section = {"sizes": ["micro", "tiny"], "pretrain_steps": {"micro": 0, "tiny": 0}, "train_steps": 1}
    section |= {"batch_size": 4, "weak_items": 20, "transfer_items": 20, "test_items": 20}
    base = target_config({"name": "t", "threads": 1, "weak_to_strong": section}, 0, "test").model_dump(mode="json")
    root, pair = tmp_path / "search", ["micro", "tiny"]
    inputs = code_runs.jail_inputs(str(root), base, 5, pair, 1)
    assert len(inputs["texts"]) == len(inputs["weak_labels"]) == 20
    assert all(0 <= p <= 1 for p in inputs["weak_labels"])
    assert strong_parts(inputs["strong"])[1].num_labels == 1  # a transformers folder with its tokenizer
    assert len(WeakToStrongSource(str(root), base).items("validation", 5)[1]) == 20  # the server's labels

    stage = RunContext.stage

    def until_the_ceiling(self, name, fn, *args):
        if name.endswith(".ceiling"):
            raise Halt
        return stage(self, name, fn, *args)

    monkeypatch.setattr(RunContext, "stage", until_the_ceiling)
    cfg = seed_config(target_config({**base, "weak_to_strong": section}, 0, "test"), 5)
    with pytest.raises(Halt):  # an evaluation of the seed, up to the stages the jail's inputs are
        run_task(seed_context(root, cfg), target_section(cfg, pair, {"tunable": {}}))
    events = [json.loads(line) for line in (root / "seed-5" / "events.jsonl").read_text().splitlines()]
    kinds = {
        name: [e["event"] for e in events if e.get("stage") == name] for name in ("w2s.micro.weak", "w2s.tiny.pretrain")
    }
    assert kinds["w2s.micro.weak"][0] == "stage_started" and "stage_started" not in kinds["w2s.micro.weak"][1:]
    assert kinds["w2s.micro.weak"][-1] == "stage_skipped"
    assert kinds["w2s.tiny.pretrain"].count("stage_started") == 1
