"""Models and their saved state go where the run's ``device`` says, without a GPU to show it.

Only the CPU path has run so far; a GPU lease may get one try (``bench/gpu_session.sh``). What can be
shown here is placement: the meta device stands in for a GPU (no arithmetic, only where tensors live),
and a file can be written as a GPU would write it (its storages tagged ``cuda:0``).
"""

from __future__ import annotations

from unittest import mock

import torch
from conftest import load_bench

from autoalign.models import build_char_tokenizer, build_model
from autoalign.overseers import StepVerifier, load_verifier, save_verifier
from autoalign.runtime.placement import placement, set_placement
from autoalign.worlds import ArithmeticConfig


def _bench_sampling():
    """bench/bench_sampling.py as bench_device.py loads it."""
    return load_bench("bench_sampling")


def test_the_device_bench_trains_and_samples_its_generator_on_the_device():
    """bench_device.py sets the device, then takes bench_sampling's trained generator: that model must
    be built there, or the GPU bench trains and samples on the CPU (and runs past its time limit)."""
    bs = _bench_sampling()
    seen = []
    before = placement()
    try:
        set_placement("meta")
        with mock.patch.object(bs, "train_lm", lambda model, *a, **k: seen.append(model.device.type)):
            model, _ = bs.trained_generator("micro", ArithmeticConfig(min_steps=2, max_steps=3), 1, batch_size=2)
    finally:
        set_placement(*before)
    assert seen == ["meta"]  # trained where it is sampled
    assert {p.device.type for p in model.parameters()} == {"meta"}
    # negative control: on the default placement the same call stays on the CPU, in float32
    with mock.patch.object(bs, "train_lm", lambda *a, **k: None):
        model, _ = bs.trained_generator("micro", ArithmeticConfig(min_steps=2, max_steps=3), 1, batch_size=2)
    assert {(p.device.type, p.dtype) for p in model.parameters()} == {("cpu", torch.float32)}


def test_a_verifier_saved_on_a_gpu_loads_on_a_machine_without_one(tmp_path):
    """save_verifier on a GPU writes its head's tensors tagged cuda:0; load_verifier reads them onto
    the CPU first and then places the verifier, so a CPU-only machine can score with it."""
    tok = build_char_tokenizer()
    verifier = StepVerifier(build_model("llama", "micro", tok, seed=0), "prm", "linear")
    with torch.no_grad():
        verifier.scale.fill_(2.5)
    with mock.patch.object(torch.serialization, "location_tag", lambda storage: "cuda:0"):
        save_verifier(verifier, tok, tmp_path / "v")
    if not torch.cuda.is_available():  # the file really is a GPU's: a plain load refuses it here
        try:
            torch.load(tmp_path / "v" / "verifier_head.pt", weights_only=True)
        except RuntimeError as e:
            assert "CUDA" in str(e)
        else:
            raise AssertionError("a head tagged cuda:0 loaded without map_location on a CPU-only machine")
    loaded, _ = load_verifier(tmp_path / "v")
    assert loaded.scale.item() == 2.5
    assert {p.device.type for p in loaded.parameters()} == {"cpu"}
    assert torch.equal(loaded.linear.weight, verifier.linear.weight)
