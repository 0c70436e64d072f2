"""Amplification, unit-fast: H's decompositions are exact, the ground-truth solvers are right on
hand cases, the curriculum and config behave as declared. (Recursive reward modeling: test_rrm.py.)"""

import random

import pytest

from autoalign.config import load_config
from autoalign.protocols.amplification import AmplificationConfig, size_at, training_batch
from autoalign.registry import worlds
from autoalign.worlds import make_world
from autoalign.worlds.algorithmic import TASKS, AlgorithmicConfig, Question, amplify, oracle


@pytest.mark.parametrize("task", TASKS)
def test_amplifying_an_oracle_gives_the_truth(task):
    """Every decomposition is exact: H consulting an always-right answerer answers every question
    right, at every size and depth."""
    world = make_world(task)
    rng = random.Random(task)
    for size in range(1, 10):
        for depth in range(world.min_depth, world.max_depth(size) + 1):
            qs = [world.draw_question(rng, size, depth) for _ in range(40)]
            got, _ = amplify(world, qs, oracle(world))
            assert got == [world.solve(q) for q in qs], (task, size, depth)
            assert all(world.solve(q) in q.choices for q in qs)


@pytest.mark.parametrize("task", TASKS)
def test_amplifying_a_wrong_answerer_can_be_wrong(task):
    """The targets depend on the answerer (H does not secretly solve questions itself)."""
    world = make_world(task)
    rng = random.Random(1)
    qs = [world.draw_question(rng, 5, world.max_depth(5)) for _ in range(200)]
    got, asked = amplify(world, qs, lambda subs: [q.choices[0] for q in subs])
    assert asked > 0
    assert sum(g != world.solve(q) for g, q in zip(got, qs)) > 0


def q(task, facts, query, depth, choices="abcdefghij-yn0123456789"):
    return Question(task, tuple(facts.split(",")) if facts else (), query, depth, choices)


def test_solvers_on_hand_cases():
    perm = worlds.get("permutation_powering")()
    assert perm.solve(q("permutation_powering", "ab,bc,ca", "a*1", 1)) == "b"
    assert perm.solve(q("permutation_powering", "ab,bc,ca", "a*2", 2)) == "c"
    assert perm.solve(q("permutation_powering", "ab,bc,ca", "a*3", 3)) == "a"
    assign = worlds.get("sequential_assignments")()
    assert assign.solve(q("sequential_assignments", "a7,ba,c3,db", "d", 3)) == "7"
    assert assign.solve(q("sequential_assignments", "a7,ba,c3,db", "c", 2)) == "3"
    wild = worlds.get("wildcard_search")()
    facts = "0011a,0101b,1100c"
    assert wild.solve(q("wildcard_search", facts, "0**1", 2)) == "a"  # 0011 comes before 0101
    assert wild.solve(q("wildcard_search", facts, "1***", 3)) == "c"
    assert wild.solve(q("wildcard_search", facts, "111*", 1)) == "-"
    assert wild.solve(q("wildcard_search", facts, "0101", 0)) == "b"
    path = worlds.get("shortest_path")()
    edges = "ab,bc,cd,ad"
    assert path.solve(q("shortest_path", edges, "ad3", 3)) == "1"
    assert path.solve(q("shortest_path", edges, "bd3", 3)) == "2"
    assert path.solve(q("shortest_path", edges, "bd1", 1)) == "-"  # two edges needed, one allowed
    assert path.solve(q("shortest_path", edges, "da3", 3)) == "-"  # unreachable
    assert path.solve(q("shortest_path", edges, "cc0", 0)) == "0"
    uf = worlds.get("union_find")()
    assert uf.solve(q("union_find", "ab,cd,bc", "ad", 3)) == "y"
    assert uf.solve(q("union_find", "ab,cd", "ad", 2)) == "n"
    assert uf.solve(q("union_find", "", "aa", 0)) == "y"


@pytest.mark.parametrize("task", TASKS)
def test_tasks_are_worlds_with_disjoint_splits(task):
    world = make_world(task, AlgorithmicConfig(size=5))
    test = world.problems(0, "test", 100)
    train = world.problems(0, "train", 300)
    assert not {p.prompt for p in test} & {p.prompt for p in train}
    lo, hi = world.top_depths(5)
    assert all(lo <= p.depth <= hi for p in test)
    v = world.check(test[0], world.solve(test[0]))
    assert v.correct and v.well_formed
    assert not world.check(test[0], "").correct and not world.check(test[0], None).correct


def test_curriculum_grows_and_training_questions_are_train_split():
    a = AmplificationConfig(sizes=[2, 3, 4], steps=300, curriculum_fraction=0.5)
    rng = random.Random(0)
    early = {size_at(0, a, rng) for _ in range(50)}
    late = [size_at(299, a, rng) for _ in range(400)]
    assert early == {2} and max(late) == 4 and 0.35 < late.count(4) / 400 < 0.65
    world = make_world("union_find", AlgorithmicConfig(size=4))
    batch = training_batch(world, 0, 7, a)
    assert batch == training_batch(world, 0, 7, a)  # both methods see the same questions
    assert all(world.split_of(x) == "train" for x in batch)


def test_amplification_config_rejects_bad_values():
    from autoalign.errors import UserError

    for bad in ("amplification.tasks=[chess]", "amplification.sizes=[4,3]", "amplification.model_size=huge"):
        with pytest.raises(UserError):
            load_config("configs/amplification.yaml", [bad])


def test_amplification_config_declares_a_non_inferiority_endpoint_per_task():
    cfg = load_config("configs/amplification.yaml", [])
    primary = {e.metric: (e.direction, e.threshold) for e in cfg.endpoints if e.primary}
    assert primary == {f"amplification.amplification.{t}.gap": ("greater", -0.05) for t in TASKS}


def test_balanced_agreement_fails_a_constant_answerer():
    from autoalign.protocols.amplification import balanced_agreement

    targets = ["-"] * 80 + ["a"] * 10 + ["b"] * 10
    assert balanced_agreement([("-", t) for t in targets]) == pytest.approx(1 / 3)
    assert balanced_agreement([(t, t) for t in targets]) == 1.0
