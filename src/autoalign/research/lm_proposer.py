"""The ``lm`` proposer: a language model reads the task, the declared space and the lab notebook so far,
and proposes the next point as one JSON object ``{"params": {...}, "rationale": "..."}``.

A file of its own because the model is untrusted and this is where its words stop. A reply is parsed,
never run: anything but one JSON object of declared knobs inside their ranges is rejected with its
reason (a notebook row that costs no evaluation). A reply that carries method ``code`` instead
(``{"code", "rationale"}``) is a proposal only with ``research.boundary: true``: the loop then runs
the code behind the evaluation boundary (``code_runs.py``: in the sandbox, scored by the evaluation
server), never here; with the boundary off, code is recorded and rejected unread. A failed model
call (an unreachable server, an HTTP error, a malformed body, a timeout) is a rejection too. After
``max_failures`` rejections in a row the proposer stops and the loop goes on with the next proposer.
With ``research.parallel`` above 1 the model is asked that many times in a row before the batch
runs, each time shown the batch's earlier proposals as pending (not scored yet), so that it proposes
something else. The model opens when the proposer starts. A
stopped search resumes with fresh replies: a model is not a seeded sampler, so its proposals are not
replayed.

Configured as ``research.lm``::

    research:
      proposers: {random: 10, tpe: 10, lm: 6}
      lm:
        model: openai/qwen2.5-7b-instruct    # or hf/<folder>, a local checkpoint
        base_url: http://127.0.0.1:8000/v1   # openai/ only (else OPENAI_BASE_URL)
        temperature: 0.7
        max_new_tokens: 600
        timeout: 60                          # seconds per reply
        max_failures: 3
"""

from __future__ import annotations

import json
import re

from ..errors import UserError
from ..registry import proposers
from ..seeding import derive_seed
from .proposers import Proposal
from .space import Knob, rounded

KEYS = ("params", "rationale", "code")
REPLY_CHARS = 20_000  # of a raw reply and of method code, kept in the notebook
RATIONALE_CHARS = 1_000
REASON_CHARS = 300
NOTEBOOK_ROWS = 40  # the latest rows shown to the model
NO_CODE = "method code runs only behind the evaluation boundary (research.boundary: true): not executed"

SYSTEM = """\
You are an alignment researcher improving a weak-to-strong training method. A strong student model is \
fine-tuned on labels from a weaker supervisor; PGR (performance gap recovered) is (student - weak) / \
(ceiling - weak), where the ceiling is the student trained on true labels. Your goal: raise the \
validation PGR of the method `tunable` by choosing its options.

How proposals are judged:
- Every score you see is a validation score on the search seeds. A sealed test on fresh seeds, which \
no one sees during the search, scores what is kept once at the end: fitting the validation split's \
noise does not carry over.
- A proposal replaces the incumbent only if a one-sided seed-level t-test of its per-seed validation \
PGRs against the incumbent's passes at that look's level: alpha is spent over looks (the k-th at \
alpha * 6 / (pi^2 k^2)), so small or noisy gains are discarded and noise does not pay. Propose \
changes you expect to help clearly.
- Options you leave out keep the baseline's values. Every value must lie inside the declared space.

Reply with ONE JSON object and nothing else:
{"params": {"<option>": <value>, ...}, "rationale": "<why you expect it to help, in a sentence or two>"}
A "code" key (a new method as Python) is recorded but not run: this search runs no method code \
(its evaluation boundary is off)."""

CODE = """\
You may instead propose a new method as a Python file: reply with ONE JSON object
{"code": "<the file>", "rationale": "<why you expect it to help>"} (no "params"). The file defines \
train(strong_model_dir, transfer_path, out_dir, seed). It runs in a sandbox with torch, transformers and \
safetensors, without network, without autoalign, with only its inputs readable: strong_model_dir is the \
strong model (a transformers folder with its tokenizer); transfer_path is a JSONL file, one \
{"text": ..., "weak_label": P(label = 1) from the weak supervisor} per line. It must write \
out_dir/model.safetensors: the state dict of the strong model loaded as \
AutoModelForSequenceClassification with num_labels=1 (pad_token_id the tokenizer's, else its eos \
token); the sigmoid of its logit is P(label = 1) of a text, tokenized by the strong model's tokenizer \
with padding and truncation at max_position_embeddings. The student is scored on texts the method never \
sees, like any proposal. A method that stops on a limit (time, memory, processes, disk) or returns no \
readable student fails that proposal."""


def system(boundary: bool) -> str:
    """The rules the model is given; with the boundary on, the method-file contract instead of the
    note that code is not run."""
    if not boundary:
        return SYSTEM
    return SYSTEM.rsplit('\nA "code" key', 1)[0] + "\n" + CODE


def first_line(error: BaseException | str, limit: int = 200) -> str:
    lines = str(error).strip().splitlines()
    return (lines[0] if lines else "")[:limit] or type(error).__name__


def _error(e: Exception) -> str:
    """A one-line account of a failed call (a UserError's message says it all; else its type too)."""
    return first_line(e) if isinstance(e, UserError) else f"{type(e).__name__}: {first_line(e)}"


def describe(knob: Knob) -> str:
    if knob.choices is not None:
        return f"one of {json.dumps(knob.choices)}"
    return f"a number in [{knob.low:g}, {knob.high:g}]" + (" (log scale)" if knob.log else "")


def _kind(value) -> str:
    names = {bool: "boolean", int: "number", float: "number", str: "string", list: "list", dict: "object"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def json_object(reply: str) -> tuple[dict | None, str | None]:
    """The reply's JSON object (``` fences stripped; else the first object in the text), or why none."""
    text = (reply or "").strip()[: 5 * REPLY_CHARS]
    if not text:
        return None, "empty reply"
    fenced = re.search(r"```[\w-]*[ \t]*\n?(.*?)```", text, re.S)
    if fenced:
        text = fenced.group(1).strip()
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except ValueError as e:
        decoder = json.JSONDecoder(parse_constant=_no_constant)
        starts = [m.start() for m in re.finditer(r"\{", text)][:200]
        for start in starts:
            try:
                return decoder.raw_decode(text, start)[0], None
            except ValueError:
                continue
        return None, f"not JSON ({first_line(e, 100)})" if starts else "no JSON object in the reply"
    if not isinstance(value, dict):
        return None, f"the reply is a JSON {_kind(value)}, not an object"
    return value, None


def check_params(params, space: dict[str, Knob]) -> tuple[dict | None, str | None]:
    """Declared knobs with values inside them (ranges' numbers as floats, rounded as every proposer's
    are), or why not."""
    if not isinstance(params, dict):
        return None, f"params is a JSON {_kind(params)}, not an object of option: value"
    if not params:
        return None, "params names no option (that is the baseline)"
    out = {}
    for key, value in params.items():
        knob = space.get(key)
        if knob is None:
            shown = json.dumps(key)[1:-1][:100]  # a model's key, on one line
            return None, f"params.{shown}: not an option of the declared space ({', '.join(space)})"
        if knob.choices is None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return None, f"params.{key}: {json.dumps(value)} is not a number"
            value = float(value)
            if knob.contains(value):
                value = rounded({key: value})[key]  # what is recorded is what runs, and must be inside
        if not knob.contains(value):
            return None, f"params.{key}: {json.dumps(value)} is outside the space ({describe(knob)})"
        out[key] = value
    return out, None


def read_reply(reply: str, space: dict[str, Knob], boundary: bool = False) -> dict:
    """What a reply proposes: ``{"params", "rationale", "code", "rejected"}``; ``rejected`` is None or
    why the proposal must not run. Parsing only: nothing in a reply is executed or imported here;
    with ``boundary`` a reply's method code is a proposal (the loop runs it in the sandbox), without
    it code is rejected."""
    out = {"params": None, "rationale": "", "code": None, "rejected": None}
    obj, why = json_object(reply)
    if obj is None:
        out["rejected"] = why
        return out
    if isinstance(obj.get("params"), dict):
        out["params"] = obj["params"]
    rationale = obj.get("rationale", "")
    out["rationale"] = (rationale if isinstance(rationale, str) else json.dumps(rationale))[:RATIONALE_CHARS]
    if "code" in obj:
        code = obj["code"]
        out["code"] = (code if isinstance(code, str) else json.dumps(code))[:REPLY_CHARS]
        out["rejected"] = _code_error(obj, boundary)
        if out["rejected"] is None:
            out["params"] = None  # the file is the whole method
        return out
    extra = sorted(set(obj) - set(KEYS))
    if extra:
        out["rejected"] = f"unknown keys {extra} (a reply holds params and rationale)"
    elif "params" not in obj:
        out["rejected"] = "no params"
    else:
        params, out["rejected"] = check_params(obj["params"], space)
        if params is not None:
            out["params"] = params
    if out["rejected"] is not None:
        out["rejected"] = out["rejected"][:REASON_CHARS]
    return out


def _code_error(obj: dict, boundary: bool) -> str | None:
    """Why a reply carrying code is not a proposal (None: the loop runs its code in the sandbox)."""
    if not boundary:
        return NO_CODE
    code, extra = obj["code"], sorted(set(obj) - set(KEYS))
    if extra:
        return f"unknown keys {extra} (a reply holds code and rationale)"
    if obj.get("params") is not None:
        return "a reply holds params or code, not both"
    if not isinstance(code, str):
        return f"code is a JSON {_kind(code)}, not the text of a Python file"
    if not code.strip():
        return "code is empty"
    if len(code) > REPLY_CHARS:
        return f"code is longer than {REPLY_CHARS} characters"
    return None


def _row_line(row: dict) -> str:
    d = row["decision"]
    verdict = (
        "rejected" if d.get("rejected") else ("kept" if d["kept"] else "failed" if d.get("failed") else "discarded")
    )
    reason = d["reason"].removeprefix("rejected: ").removeprefix("failed: ")
    mean = row["mean_validation_pgr"]
    score = "not run" if not row["seeds"] else f"mean validation PGR {'-' if mean is None else f'{mean:.3f}'}"
    if row["seeds"]:
        score += " (per seed " + ", ".join("-" if v is None else f"{v:.3f}" for v in row["validation_pgr"]) + ")"
    params = "(none)" if row["params"] is None else json.dumps(row["params"])
    if row.get("code") and not d.get("rejected"):
        params = "(method code, run in the sandbox)"
    return f"#{row['id']} {row['proposer']} {row['k']}: {params}; {score}; {verdict}: {reason}"


def conversation(
    space: dict[str, Knob], rows: list[dict], task: dict, k: int, budget: int, pending: list | None = None
) -> list[dict]:
    """The chat the model answers: the task and the rules, the space, the notebook so far, and the
    batch's earlier proposals (``pending``: being run, not scored yet; none with ``parallel: 1``)."""
    shown = rows[-NOTEBOOK_ROWS:]
    waiting = [
        "Proposed in this batch, being run now (no scores yet): propose something else:",
        *(f"- {'(method code)' if params is None else json.dumps(params)}" for params in pending or []),
        "",
    ]
    lines = [
        f"Target: weak-to-strong, pair {task['pair'][0]} -> {task['pair'][1]}; method tunable; baseline "
        f"options {json.dumps(task['baseline'])} (the hand-written method); {task['seeds']} search seeds; "
        f"alpha {task['alpha']}.",
        "",
        "Declared space (option: values):",
        *(f"- {key}: {describe(knob)}" for key, knob in space.items()),
        "",
        "Lab notebook so far, oldest first"
        + (f" ({len(rows) - len(shown)} earlier rows left out)" if len(rows) > len(shown) else "")
        + ":",
        *(_row_line(row) for row in shown),
        "",
        *(waiting if pending else []),
        f"Your proposal {k} of {budget}: one JSON object.",
    ]
    return [
        {"role": "system", "content": system(task.get("boundary", False))},
        {"role": "user", "content": "\n".join(lines)},
    ]


@proposers.register("lm")
class LMProposer:
    """Proposals from ``settings.model`` (``config.LMSettings``), which sees ``rows`` (the loop's
    notebook, read at each proposal) and ``task`` (pair, baseline, number of seeds, alpha)."""

    name = "lm"

    @classmethod
    def from_context(cls, ctx) -> "LMProposer":
        return cls(ctx.space, ctx.seed, ctx.settings.lm, ctx.rows, ctx.task, ctx.budget)

    def __init__(self, space: dict[str, Knob], seed: int, settings, rows: list[dict], task: dict, budget: int):
        self.space, self.seed, self.settings = space, seed, settings
        self.rows, self.task, self.budget = rows, task, budget
        self.model, self.k, self.failures, self.stopped = None, 0, 0, None
        self.pending: list[Proposal] = []  # proposed, not yet observed (a batch's earlier proposals)

    def _open(self):
        from ..models.providers import open_model, parse_address

        address = parse_address(self.settings.model, "research.lm.model")
        if address.provider != "openai":
            return open_model(address, "research.lm.model")
        from ..models.remote import RemoteModel, base_url

        model = RemoteModel(address.name, url=self.settings.base_url or base_url(), timeout=self.settings.timeout)
        # one request per proposal: a failure is recorded as such, and max_failures bounds them
        model.client = model.client.with_options(max_retries=0)
        return model

    def propose(self) -> Proposal:
        self.k += 1
        if self.model is None:
            try:
                self.model = self._open()
            except Exception as e:
                self.stopped = "the model does not open: the lm proposer stops"
                return Proposal(None, "lm: (no model)", rejected=f"cannot open {self.settings.model}: {first_line(e)}")
        pending = [p.params for p in self.pending]
        messages = conversation(self.space, self.rows, self.task, self.k, self.budget, pending)
        try:
            s = self.settings
            reply = self.model.chat([messages], s.temperature, s.max_new_tokens, derive_seed(self.seed, self.k))[0]
            if not isinstance(reply, str):
                raise TypeError(f"the reply is {type(reply).__name__}, not text")
        except Exception as e:  # whatever the server or the client did, the search goes on
            return self._rejected(Proposal(None, "lm: (no reply)", rejected=f"model call failed: {_error(e)}"))
        read = read_reply(reply, self.space, self.task.get("boundary", False))
        record = {"reply": reply[:REPLY_CHARS]}
        if read["code"] is not None:
            record["code"] = read["code"]
        proposal = Proposal(
            read["params"], f"lm: {read['rationale'] or '(no rationale)'}", rejected=read["rejected"], record=record
        )
        if proposal.rejected is not None:
            return self._rejected(proposal)
        self.failures = 0
        self.pending.append(proposal)
        return proposal

    def _rejected(self, proposal: Proposal) -> Proposal:
        self.failures += 1
        if self.failures >= self.settings.max_failures:
            self.stopped = (
                f"{self.failures} rejected replies in a row (research.lm.max_failures): the lm proposer stops"
            )
        return proposal

    def observe(self, proposal: Proposal, score: float | None) -> None:
        # the model reads the whole notebook (this proposal's row with it) at its next proposal
        self.pending = [p for p in self.pending if p is not proposal]
