"""The GDC sensitivity script reads phase 2's own samples, never the control arm's or phase 1's files
that sit beside them (issue #23: it used to take the last file by name, which was phase 1's)."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "gdc_prompt_bootstrap.py"


def _samples(path: Path, d_right: bool) -> None:
    rows = []
    for problem in range(6):
        for sound in (1, 0):  # D's verdict picks the sound sample when d_right, the flawed one otherwise
            d = (1.0 if sound else -1.0) * (1 if d_right else -1)
            rows.append(
                {
                    "problem": problem,
                    "prompt": f"p{problem}",
                    "sound": sound,
                    "discriminator": d,
                    "critique": 0.0,
                    "surprise": 0.0,
                }
            )
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def _run(run: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(run)], capture_output=True, text=True, timeout=120)


def test_reads_phase_2_samples_not_the_control_or_phase_1(tmp_path):
    for seed in (1, 2):
        samples = tmp_path / f"seed-{seed}" / "samples"
        samples.mkdir(parents=True)
        _samples(samples / "gdc_own_small-aaaa.jsonl", d_right=True)  # phase 2: D picks the sound sample
        _samples(samples / "gdc_own_small_control-bbbb.jsonl", d_right=False)
        _samples(samples / "gdc_own_small_phase1-cccc.jsonl", d_right=False)
    r = _run(tmp_path)
    assert r.returncode == 0, r.stderr
    assert "gd_selection: +50.0" in r.stdout  # D's pick always sound, a random sample half: +50 points
    # negative control: with phase 2's file gone the script has nothing of phase 2 and says so
    for seed in (1, 2):
        (tmp_path / f"seed-{seed}" / "samples" / "gdc_own_small-aaaa.jsonl").unlink()
    r = _run(tmp_path)
    assert r.returncode != 0 and "gdc_own_small-*.jsonl" in r.stderr


def test_two_phase_2_files_are_an_error_not_a_guess(tmp_path):
    samples = tmp_path / "seed-1" / "samples"
    samples.mkdir(parents=True)
    _samples(samples / "gdc_own_small-aaaa.jsonl", d_right=True)
    _samples(samples / "gdc_own_small-dddd.jsonl", d_right=False)
    r = _run(tmp_path)
    assert r.returncode != 0 and "keep one" in r.stderr
