"""Pool workers (runtime/workers.py): forked from a server that preloads torch, yet each sees what a
spawned worker saw: this process's environment of the moment and the package's code read afresh."""

import multiprocessing as mp
import os
import sys

import pytest

from autoalign.errors import UserError
from autoalign.runtime import workers


def _seen(name):
    return os.environ.get(name), "autoalign.runtime.context" in sys.modules, "torch" in sys.modules


def _imported_before(_):
    return sorted(m for m in sys.modules if m == "autoalign" or m.startswith("autoalign."))


@pytest.mark.skipif("forkserver" not in mp.get_all_start_methods(), reason="no fork server on this platform")
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
