import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(2)
    from autoalign.runtime.progress import set_progress

    set_progress(False)
    yield


TINY_RUN = [
    "generator.size=tiny",
    "generator.train_steps=300",
    "generator.eval_every=100",
    "generator.checkpoint_every=25",
    "generator.eval_problems=32",
    "generator.lr=0.005",
    "world.min_steps=1",
    "world.max_steps=2",
    "sampling.test_problems=60",
    "sampling.samples_per_problem=2",
    "bootstrap_resamples=200",
]
