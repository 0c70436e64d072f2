"""The one overseer contract: any registered overseer is built by name, refused in one line where it
cannot judge what a protocol has, and serves as a TRL reward function."""

import math

import pytest

from autoalign.errors import UserError
from autoalign.overseers.base import (
    Overseer,
    OverseerContext,
    OverseerReward,
    OverseerScores,
    build_overseer,
    check_overseer_names,
)
from autoalign.registry import overseers
from autoalign.worlds.reference import world_ref


@overseers.register("test_answer_checker")
class AnswerChecker(Overseer):
    """Scores a solution by whether its answer step is the gold answer: a perfect outcome overseer."""

    def score(self, problems, texts):
        world = self.ctx.world
        return [OverseerScores(0.0 if world.check(p, t).correct else math.log(0.01)) for p, t in zip(problems, texts)]


@overseers.register("test_transcript_monitor")
class TranscriptMonitor(Overseer):
    judges = "transcripts"

    def score(self, problems, texts):
        return [OverseerScores(0.0) for _ in texts]


def test_a_registered_overseer_is_a_reward_function_that_tells_right_from_wrong():
    world = world_ref("arithmetic", max_steps=3).make()
    problems = world.problems(0, "test", 20)
    overseer = build_overseer("test_answer_checker", OverseerContext(world=world))
    reward = OverseerReward(overseer)  # problems found from the prompt through world.parse_prompt
    wrong = [p.solution.rsplit("#", 1)[0] + f"#{(p.answer + 1) % 100}" for p in problems]
    right_rewards = reward([p.prompt for p in problems], [p.solution for p in problems])
    wrong_rewards = reward([p.prompt for p in problems], [[{"role": "assistant", "content": t}] for t in wrong])
    assert right_rewards == [1.0] * 20
    assert all(r == pytest.approx(0.01) for r in wrong_rewards)
    assert reward.__name__ == "answerchecker_reward"


def test_an_overseer_of_other_things_is_refused_in_one_line():
    with pytest.raises(UserError, match="judges transcripts, not solutions"):
        build_overseer("test_transcript_monitor", OverseerContext(), where="best_of_n.overseers")
    with pytest.raises(ValueError, match="unknown overseer 'nope'"):
        check_overseer_names(["prm", "nope"])
    check_overseer_names(["prm", "orm", "test_answer_checker"])


def test_the_prm_needs_a_backbone():
    with pytest.raises(UserError, match="needs a white-box backbone"):
        build_overseer("prm", OverseerContext(world=world_ref("arithmetic").make()))
