"""`autoalign train prm|orm`: joining and splitting steps, reading and splitting data, the held-out
metrics on cases whose values are known, bad input as one line, and the saved folder as a TRL reward.

All fast (seconds); the run that checks a PRM actually learns is in test_train_prm_science.py.
"""

import json
import math

import pytest
from typer.testing import CliRunner

from autoalign.cli import app
from autoalign.errors import UserError
from autoalign.verifier_training.data import read_examples, split_examples
from autoalign.verifier_training.demo_data import own_format_lines, write_own_format_stepwise
from autoalign.verifier_training.metrics import predicted_first_error, verifier_metrics
from autoalign.verifier_training.steps import SeparatorSteps, join_steps

# --- steps ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("sep", ["\n", ";", " ;; "])
def test_join_and_split_give_the_same_spans(sep):
    steps = ["3 + 4 = 7", "7 * 2 = 14", "The answer is 14"]
    text, spans = join_steps(steps, sep)
    assert text == sep.join(steps)
    # each span holds the separator after it; the spans tile the text
    assert [text[a:b] for a, b in spans] == [steps[0] + sep, steps[1] + sep, steps[2]]
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(spans[i][1] == spans[i + 1][0] for i in range(len(spans) - 1))
    assert SeparatorSteps(sep).steps(text) == list(spans)


def test_splitter_edge_cases():
    s = SeparatorSteps("\n")
    assert s.steps("") == []
    assert s.steps("one step") == [(0, 8)]
    assert s.steps("a\nb\n") == [(0, 2), (2, 4)]  # a trailing separator ends the last step
    assert s.steps("a\n\nb") == [(0, 2), (2, 3), (3, 4)]  # an empty step is still a step
    assert SeparatorSteps("").steps("abc") == [(0, 3)]


# --- data ----------------------------------------------------------------------------------------


def write_lines(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_stepwise_lines_are_joined_with_the_separator(tmp_path):
    path = write_lines(
        tmp_path / "d.jsonl",
        [{"prompt": "Compute 3 + 4.", "completions": ["3 + 4 = 8", "The answer is 8"], "labels": [False, False]}],
    )
    (e,), fmt = read_examples(path, "prm", "\n\n")
    assert fmt == "stepwise" and e.text == "3 + 4 = 8\n\nThe answer is 8"
    assert e.spans == ((0, 11), (11, 26)) and e.labels == (False, False)


def test_preference_lines_make_two_whole_solutions(tmp_path):
    path = write_lines(tmp_path / "p.jsonl", [{"prompt": "Q", "chosen": "right", "rejected": "wrong!"}])
    examples, fmt = read_examples(path, "orm", "\n")
    assert fmt == "preference"
    assert [(e.text, e.spans, e.labels) for e in examples] == [
        ("right", ((0, 5),), (True,)),
        ("wrong!", ((0, 6),), (False,)),
    ]
    with pytest.raises(UserError, match="no step labels"):
        read_examples(path, "prm", "\n")


@pytest.mark.parametrize(
    "bad, expect",
    [
        ('{"prompt": "Q", "chosen": "a"}', "p.jsonl:2: missing key 'rejected'"),
        ('{"prompt": "Q", "chosen": "a", "rejected": 3}', "p.jsonl:2: 'rejected' must be a string"),
        ('{"prompt": "Q", "chosen": ', "p.jsonl:2: invalid JSON"),
    ],
)
def test_broken_preference_line_is_one_line(tmp_path, bad, expect):
    path = write_lines(tmp_path / "p.jsonl", ['{"prompt": "Q", "chosen": "a", "rejected": "b"}', bad])
    with pytest.raises(UserError) as e:
        read_examples(path, "orm", "\n")
    assert expect in str(e.value) and "\n" not in str(e.value)


def test_an_empty_last_step_is_named_by_line(tmp_path):
    good = {"prompt": "Q", "completions": ["1 + 1 = 2", "The answer is 2"], "labels": [True, True]}
    path = write_lines(tmp_path / "d.jsonl", [good, "", {**good, "completions": ["1 + 1 = 2", ""]}])
    with pytest.raises(UserError, match=r"d\.jsonl:3: the last completion is empty"):
        read_examples(path, "prm", "\n")


def test_split_is_by_prompt_and_deterministic(tmp_path):
    lines = own_format_lines(300, seed=0)
    path = write_lines(tmp_path / "d.jsonl", lines + lines[:50])  # some prompts twice (two solutions)
    examples, _ = read_examples(path, "prm", "\n")
    train, held = split_examples(examples, 0.2)
    assert not {e.prompt for e in train} & {e.prompt for e in held}
    assert 0.1 < len(held) / len(examples) < 0.3
    assert split_examples(examples, 0.2) == (train, held)
    # a larger share only moves prompts into the held-out part
    assert {e.prompt for e in held} <= {e.prompt for e in split_examples(examples, 0.4)[1]}
    for bad in (0, 1, 1.5, -0.1):
        with pytest.raises(UserError, match="--eval-split"):
            split_examples(examples, bad)


def test_own_format_data_follows_the_labelling_convention(tmp_path):
    lines = own_format_lines(400, seed=3)
    flawed = [x for x in lines if not all(x["labels"])]
    assert 0.4 < len(flawed) / len(lines) < 0.6
    assert max(len(x["completions"]) for x in lines) == 9
    for x in lines:
        assert x["prompt"].startswith("Compute ") and x["completions"][-1].startswith("The answer is ")
        assert all(" = " in c and c.count(" ") == 4 for c in x["completions"][:-1])
        steps = x["labels"][:-1]
        first = next((i for i, ok in enumerate(steps) if not ok), len(steps))
        assert steps == [i < first for i in range(len(steps))]  # false from the first wrong step on
    # a repaired slip: a wrong step, and still the right answer (labelled true)
    assert any(not all(x["labels"][:-1]) and x["labels"][-1] for x in flawed)
    assert any(not x["labels"][-1] for x in flawed)
    path = write_own_format_stepwise(tmp_path / "own.jsonl", 50, seed=3)
    assert [json.loads(s) for s in path.read_text().splitlines()] == own_format_lines(50, seed=3)


# --- metrics -------------------------------------------------------------------------------------


LABELS = [
    [True, True, True],  # correct
    [True, False, False],  # first error at step 1
    [False, False],  # first error at step 0
    [True, True],  # correct
]


def test_a_perfect_verifier_scores_one():
    probs = [[0.9, 0.8, 0.95], [0.9, 0.1, 0.7], [0.2, 0.9], [0.7, 0.6]]
    m = verifier_metrics(LABELS, probs, "prm")
    assert m["step_auroc"] == 1.0 and m["solution_auroc"] == 1.0
    assert m["processbench"] == {"acc_erroneous": 1.0, "acc_correct": 1.0, "f1": 1.0, "threshold": 0.5}
    # steps after the first error are not scored: 3 + 2 + 1 + 2
    assert m["counts"] == {"solutions": 4, "erroneous": 2, "correct": 2, "steps_scored": 8, "steps_scored_wrong": 2}


def test_a_backwards_verifier_scores_zero():
    probs = [[0.1, 0.2, 0.3], [0.6, 0.9, 0.7], [0.9, 0.8], [0.2, 0.4]]
    m = verifier_metrics(LABELS, probs, "prm")
    assert m["step_auroc"] == 0.0 and m["solution_auroc"] == 0.0
    assert m["processbench"]["acc_erroneous"] == 0.0 and m["processbench"]["acc_correct"] == 0.0
    assert m["processbench"]["f1"] == 0.0


def test_processbench_f1_is_the_harmonic_mean():
    # erroneous: one found at the right step, one flagged too late; correct: both passed
    probs = [[0.9, 0.9, 0.9], [0.9, 0.9, 0.1], [0.1, 0.9], [0.9, 0.9]]
    pb = verifier_metrics(LABELS, probs, "prm")["processbench"]
    assert pb["acc_erroneous"] == 0.5 and pb["acc_correct"] == 1.0
    assert math.isclose(pb["f1"], 2 * 0.5 * 1.0 / 1.5)
    # a verifier that flags nothing passes every correct solution and finds no error: F1 0
    nothing = verifier_metrics(LABELS, [[0.99] * len(y) for y in LABELS], "prm")["processbench"]
    assert nothing["acc_correct"] == 1.0 and nothing["acc_erroneous"] == 0.0 and nothing["f1"] == 0.0


def test_orm_scores_the_last_step_and_undefined_metrics_are_none():
    # an ORM's solution score is its last probability, not the lowest
    probs = [[0.1, 0.9, 0.9], [0.9, 0.9, 0.2], [0.9, 0.3], [0.2, 0.8]]
    assert verifier_metrics(LABELS, probs, "orm")["solution_auroc"] == 1.0
    assert verifier_metrics(LABELS, probs, "prm")["solution_auroc"] < 1.0
    m = verifier_metrics([[True, True], [True]], [[0.9, 0.9], [0.8]], "prm")
    assert m["step_auroc"] is None and m["solution_auroc"] is None
    assert m["processbench"]["acc_erroneous"] is None and m["processbench"]["f1"] is None
    assert predicted_first_error([0.9, 0.4, 0.1]) == 1 and predicted_first_error([0.5, 0.6]) is None
    with pytest.raises(ValueError):
        verifier_metrics([[True]], [[0.5, 0.5]], "prm")


# --- the command ---------------------------------------------------------------------------------


def invoke(*args):
    return CliRunner().invoke(app, list(map(str, args)))


def one_line_error(result, expect):
    assert result.exit_code == 2, (result.exit_code, result.output, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expect in lines[0], result.stderr
    assert "Traceback" not in result.output + result.stderr


@pytest.fixture(scope="module")
def own_file(tmp_path_factory):
    return write_own_format_stepwise(tmp_path_factory.mktemp("data") / "own.jsonl", 120, seed=0)


@pytest.mark.parametrize(
    "kind, args, expect",
    [
        ("prm", ["--data", "{tmp}/missing.jsonl", "--model", "lab/micro"], "missing.jsonl: cannot read file"),
        ("prm", ["--data", "{broken}", "--model", "lab/micro"], "broken.jsonl:2: invalid JSON"),
        ("prm", ["--data", "{own}", "--model", "nosuch/thing"], "--model: unknown model provider 'nosuch'"),
        ("prm", ["--data", "{own}", "--model", "lab/huge"], "lab/huge: no such folder"),
        ("orm", ["--data", "{own}", "--model", "openai/gpt-4o"], "needs a white-box model"),
        (
            "prm",
            ["--data", "{own}", "--model", "lab/micro", "--eval-split", "1.5"],
            "--eval-split must be between 0 and 1",
        ),
        (
            "prm",
            ["--data", "{own}", "--model", "lab/micro", "--eval-split", "0"],
            "--eval-split must be between 0 and 1",
        ),
        ("prm", ["--data", "{few}", "--model", "lab/micro"], "too few examples"),
        ("prm", ["--data", "{own}", "--model", "lab/micro", "--separator", ""], "--separator must not be empty"),
        ("prm", ["--data", "{own}", "--model", "lab/micro", "--out", "{tmp}/taken"], "not an earlier verifier folder"),
    ],
)
def test_bad_input_is_one_line(tmp_path, own_file, kind, args, expect):
    broken = tmp_path / "broken.jsonl"
    broken.write_text(own_file.read_text().splitlines()[0] + '\n{"prompt": \n')
    few = write_own_format_stepwise(tmp_path / "few.jsonl", 3, seed=0)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    fill = {"tmp": tmp_path, "broken": broken, "own": own_file, "few": few}
    args = [a.format(**fill) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "out")]
    one_line_error(invoke("train", kind, *args, "--quiet"), expect)
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"


@pytest.fixture(scope="module")
def trained(own_file, tmp_path_factory):
    """A PRM trained for a handful of steps: enough to check the folder and the reward, not quality."""
    out = tmp_path_factory.mktemp("prm") / "verifier"
    r = invoke(
        "train",
        "prm",
        "--data",
        own_file,
        "--model",
        "lab/micro",
        "--out",
        out,
        "--steps",
        4,
        "--pretrain-steps",
        4,
        "--quiet",
    )
    assert r.exit_code == 0, r.output + r.stderr
    return out


def test_the_folder_holds_verifier_description_and_metrics(trained, own_file):
    names = {p.name for p in trained.iterdir()}
    assert {"config.json", "tokenizer.json", "verifier_head.pt", "verifier.json", "metrics.json"} <= names
    description = json.loads((trained / "verifier.json").read_text())
    assert description["kind"] == "prm" and description["separator"] == "\n" and description["aggregate"] == "min"
    m = json.loads((trained / "metrics.json").read_text())
    for key in ("step_auroc", "solution_auroc", "processbench", "held_out", "split", "steps", "seconds"):
        assert key in m
    assert m["steps"] == {"verifier": 4, "pretrain": 4}
    assert m["split"]["train_solutions"] + m["split"]["held_out_solutions"] == 120
    assert set(m["processbench"]) >= {"acc_erroneous", "acc_correct", "f1"}
    # the tokenizer was built from the data: no character of it is unknown
    from transformers import AutoTokenizer

    from autoalign.verifier_training.backbone import data_characters, unknown_characters

    chars = data_characters(read_examples(own_file, "prm", "\n")[0], "\n")
    assert len(chars) > 20 and not unknown_characters(AutoTokenizer.from_pretrained(trained), chars)


def test_saved_verifier_is_a_trl_grpo_reward(trained, own_file):
    from autoalign.verifier_training import load_reward

    reward = load_reward(trained)
    line = json.loads(own_file.read_text().splitlines()[0])
    prompt, text = line["prompt"], "\n".join(line["completions"])
    # as GRPOTrainer calls it: keywords, with completion ids and trainer state
    kwargs = {
        "completion_ids": [[1, 2], [3]],
        "trainer_state": None,
        "log_extra": lambda *a, **k: None,
        "log_metric": lambda *a, **k: None,
    }
    plain = reward(prompts=[prompt, prompt], completions=[text, "12 + 1 = 99\nThe answer is 99"], **kwargs)
    assert len(plain) == 2 and all(isinstance(x, float) and 0.0 <= x <= 1.0 for x in plain)
    chat = reward(
        prompts=[[{"role": "user", "content": prompt}]] * 2,
        completions=[
            [{"role": "assistant", "content": text}],
            [{"role": "assistant", "content": "12 + 1 = 99\nThe answer is 99"}],
        ],
        **kwargs,
    )
    assert chat == pytest.approx(plain)
    assert reward.__name__ == "prm_reward"
    # the reward's steps are the training steps: the same separator splits them
    assert reward.world.steps(text) == list(read_examples(own_file, "prm", "\n")[0][0].spans)


def test_unknown_characters_of_a_checkpoint_are_reported(tmp_path, own_file):
    from autoalign.models import build_char_tokenizer, build_model
    from autoalign.verifier_training.run import TrainOptions, train_from_file

    folder = tmp_path / "ckpt"
    tok = build_char_tokenizer("0123456789+-*= \n")  # no letters, no comma or full stop
    build_model("llama", "micro", tok, seed=0).save_pretrained(folder)
    tok.save_pretrained(folder)
    said = []
    m = train_from_file(TrainOptions("prm", own_file, f"hf/{folder}", tmp_path / "out", steps=2), say=said.append)
    assert m["steps"]["pretrain"] == 0  # a checkpoint is fine-tuned as it is
    (note,) = [n for n in said if "<unk>" in n]
    from autoalign.verifier_training.backbone import data_characters

    chars = data_characters(read_examples(own_file, "prm", "\n")[0], "\n")
    unknown = [c for c in chars if c not in "0123456789+-*= \n"]
    assert note.startswith(f"note: hf/{folder}: its tokenizer maps {sum(chars[c] for c in unknown)} characters ")
    assert f"({len(unknown)} distinct: " in note and "'e'" in note
    assert "\n" not in note and m["notes"] == [note.removeprefix("note: ")]


def test_orm_trains_on_preference_pairs(tmp_path):
    import random

    from autoalign.verifier_training.demo_data import own_line
    from autoalign.worlds import make_world
    from autoalign.worlds.tampering import tamper_result

    rng = random.Random(0)
    rows = []
    for p in make_world("arithmetic").problems(0, "train", 80):
        good, bad = own_line(p, p.solution), own_line(p, tamper_result(p, rng).text)
        rows.append(
            {
                "prompt": good["prompt"],
                "chosen": "\n".join(good["completions"]),
                "rejected": "\n".join(bad["completions"]),
            }
        )
    data = write_lines(tmp_path / "pairs.jsonl", rows)
    out = tmp_path / "orm"
    r = invoke(
        "train",
        "orm",
        "--data",
        data,
        "--model",
        "lab/micro",
        "--out",
        out,
        "--steps",
        3,
        "--pretrain-steps",
        3,
        "--quiet",
    )
    assert r.exit_code == 0, r.output + r.stderr
    m = json.loads((out / "metrics.json").read_text())
    assert m["format"] == "preference" and m["kind"] == "orm"
    # both solutions of a prompt stay on the same side of the split
    assert m["held_out"]["erroneous"] == m["held_out"]["correct"] == m["held_out"]["solutions"] // 2
    assert json.loads((out / "verifier.json").read_text())["aggregate"] == "last"
