import json

import pytest

from autoalign.errors import UserError
from autoalign.worlds import example_from_solution, generate, read_stepwise_jsonl, write_stepwise_jsonl
from autoalign.worlds.arithmetic import parse_prompt


def test_export_import_round_trip(tmp_path):
    problems = generate(0, 20)
    examples = [example_from_solution(p, p.solution) for p in problems]
    path = tmp_path / "gold.jsonl"
    write_stepwise_jsonl(path, examples)
    back = read_stepwise_jsonl(path)
    assert back == examples
    first = json.loads(path.read_text().splitlines()[0])
    assert set(first) == {"prompt", "completions", "labels"}
    assert all(first["labels"])


def test_model_written_solution_gets_checker_labels():
    p = parse_prompt("7+5*3=")
    e = example_from_solution(p, "7+5=12;12*3=37;#37")
    assert e.completions == ["7+5=12", "12*3=37", "#37"] and e.labels == [True, False, False]


@pytest.mark.parametrize(
    "bad, expect",
    [
        ("{not json", "invalid JSON"),
        ('{"prompt": "1+1=", "completions": ["1+1=2"]}', "missing key 'labels'"),
        ('{"prompt": "1+1=", "completions": ["1+1=2"], "labels": [true, false]}', "must match"),
        ('{"prompt": "1+1=", "completions": ["1+1=2"], "labels": ["yes"]}', "true/false"),
        ("[1, 2]", "JSON object"),
    ],
)
def test_broken_line_names_file_and_line(tmp_path, bad, expect):
    good = '{"prompt": "1+1=", "completions": ["1+1=2", "#2"], "labels": [true, true]}'
    path = tmp_path / "data.jsonl"
    path.write_text(good + "\n" + good + "\n" + bad + "\n")
    with pytest.raises(UserError) as e:
        read_stepwise_jsonl(path)
    assert str(e.value).startswith(f"{path}:3: ") and expect in str(e.value)
    assert "\n" not in str(e.value)
