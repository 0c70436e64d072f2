"""Pool workers (runtime/workers.py): forked from a server that preloads torch, yet each sees what a
spawned worker saw: this process's environment as of the pool and the package's code read afresh,
and computes the same numbers."""

import os
import sys

import pytest
import torch

from autoalign.errors import UserError
from autoalign.runtime import workers


def _seen(name):
    return os.environ.get(name), "autoalign.runtime.context" in sys.modules, "torch" in sys.modules


def _imported_before(_):
    return sorted(m for m in sys.modules if m == "autoalign" or m.startswith("autoalign."))


LINUX = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux only")


@LINUX
def test_forked_workers_preload_torch_but_see_the_environment_of_the_moment(monkeypatch):
    monkeypatch.delenv(workers.ENV, raising=False)
    assert workers.start_method() == "forkserver"
    monkeypatch.setenv("AUTOALIGN_TEST_MARK", "first")
    with workers.pool(1) as pool:
        assert pool.submit(_seen, "AUTOALIGN_TEST_MARK").result()[0] == "first"
    # the fork server now runs with the environment it started with; a new pool must not show it
    monkeypatch.setenv("AUTOALIGN_TEST_MARK", "second")
    with workers.pool(2) as pool:
        seen = [f.result() for f in [pool.submit(_seen, "AUTOALIGN_TEST_MARK") for _ in range(2)]]
        # a worker imports the package afresh: the server holds only libraries (the ones the task's
        # module needs are imported to unpickle it; autoalign.runtime.context is not among them)
        loaded = pool.submit(_imported_before, None).result()
    assert [s[0] for s in seen] == ["second", "second"]
    assert all(torch for _, _, torch in seen)  # preloaded: the reason for the fork server
    assert not any(context for _, context, _ in seen)
    assert "autoalign.runtime.context" not in loaded


def test_spawn_can_be_chosen_and_a_bad_choice_is_one_line(monkeypatch):
    monkeypatch.setenv(workers.ENV, "spawn")
    assert workers.context().get_start_method() == "spawn"
    monkeypatch.setenv(workers.ENV, "fork")
    with pytest.raises(UserError, match=f"{workers.ENV}='fork': expected one of forkserver, spawn"):
        workers.pool(1)


@LINUX
def test_a_pool_made_after_an_import_time_setting_changed_is_spawned(monkeypatch):
    """The server's libraries read some variables when imported (HF_HUB_OFFLINE, TORCH_LOGS, OMP_*):
    a pool made after one changed cannot be forked from it."""
    monkeypatch.delenv(workers.ENV, raising=False)
    monkeypatch.setattr(workers, "_server_environment", workers.import_time_environment())
    assert workers.context().get_start_method() == "forkserver"
    monkeypatch.setenv("HF_AUTOALIGN_TEST_SETTING", "1")
    assert workers.context().get_start_method() == "spawn"
    monkeypatch.delenv("HF_AUTOALIGN_TEST_SETTING")
    monkeypatch.setenv("AUTOALIGN_TEST_MARK", "read when used, not when imported")
    assert workers.context().get_start_method() == "forkserver"


def _one_thread():
    import torch

    torch.set_num_threads(1)


def _trained_weights(_):
    """A few training steps of a micro model from seed 0: its weights, to compare bit for bit."""
    import torch

    from autoalign.models import TrainConfig, build_char_tokenizer, build_model, train_lm

    tok = build_char_tokenizer()
    model = build_model("llama", "micro", tok, 0)
    data = [[("3+4=", "7"), ("12*3-5=", "36-5=31"), ("9-2=", "7")]] * 3
    train_lm(model, tok, lambda i: data[i], TrainConfig(steps=3, warmup_steps=1, pack=True))
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@LINUX
def test_forked_and_spawned_workers_train_to_the_same_weights(monkeypatch):
    weights = {}
    for method in workers.METHODS:
        monkeypatch.setenv(workers.ENV, method)
        with workers.pool(1, initializer=_one_thread) as pool:
            weights[method] = pool.submit(_trained_weights, None).result()
    assert torch.equal(weights["forkserver"], weights["spawn"])


@LINUX
def test_a_fork_server_that_cannot_start_means_spawned_workers(monkeypatch):
    from multiprocessing import forkserver

    def refuse():
        raise OSError("no room for the server's socket")

    monkeypatch.delenv(workers.ENV, raising=False)
    monkeypatch.setattr(workers, "_server_environment", workers.import_time_environment())
    monkeypatch.setattr(forkserver, "ensure_running", refuse)
    assert workers.context().get_start_method() == "spawn"
