"""Phase 2 of GDC training: D and C items from the model's own samples, labelled by the checker."""

from __future__ import annotations

import random

from autoalign.overseers.critic import CRITIQUE, DISCRIMINATE, FLAWED, SOUND, parse_critique
from autoalign.protocols.gdc_gaps import task_item
from autoalign.protocols.gdc_gaps.config import GdcConfig
from autoalign.protocols.gdc_gaps.control import arm_difference
from autoalign.protocols.gdc_gaps.critiques import detects
from autoalign.protocols.gdc_gaps.own_samples import label_samples
from autoalign.protocols.gdc_gaps.own_training import mixed_pair, own_items
from autoalign.worlds import make_world
from autoalign.worlds.arithmetic import ArithmeticConfig
from autoalign.worlds.countdown import CountdownConfig


def arithmetic():
    return make_world("arithmetic", ArithmeticConfig(min_steps=2, max_steps=3, operators="+-"))


def test_own_samples_become_items_with_the_checkers_labels_and_targets():
    world = arithmetic()
    problems = world.problems(0, "train", 3)
    rng = random.Random(0)
    texts = []
    for p in problems:
        texts.append(p.solution)  # sound
        texts.append(world.tamper(p, "carried", rng).text)  # flawed at a known step
    rows = label_samples(world, problems, texts, 2)
    items = own_items(rows, world, problems)
    assert len(items["sound"]) == 3 and len(items["flawed"]) == 3
    for (d_prompt, verdict), (c_prompt, target) in items["sound"]:
        assert verdict == SOUND and parse_critique(target).says_no_flaw
    for row, ((d_prompt, verdict), (c_prompt, target)) in zip([r for r in rows if not r["sound"]], items["flawed"]):
        c = parse_critique(target)
        assert verdict == FLAWED and c.step == row["flawed_step"]
        p = problems[row["problem"]]
        assert c.value == world.correction(p, row["text"], row["flawed_step"]) == str(p.steps[row["flawed_step"]][3])
        assert d_prompt.startswith(problems[row["problem"]].prompt + row["text"])


def test_a_countdown_step_with_wrong_arithmetic_is_corrected_to_its_true_result():
    world = make_world("countdown", CountdownConfig(n_numbers=3, max_number=9))
    p = world.problems(0, "train", 1)[0]
    first = p.solution.split(";")[0]  # e.g. 6+6=12
    a, rest = first.split("=")
    wrong = p.solution.replace(first, f"{a}={int(rest) + 1}", 1)
    assert world.correction(p, wrong, 0) == rest
    assert world.correction(p, p.solution, 0) == str(p.steps[0][3])  # right arithmetic: the gold value


def test_phase_two_mixes_own_items_in_at_the_share_asked_and_balanced_by_label():
    world = arithmetic()
    g = GdcConfig(own_share=0.5)
    own = {
        "sound": [(("Dp-s", SOUND), ("Cp-s", "no flaw"))],
        "flawed": [(("Dp-f", FLAWED), ("Cp-f", "step 1 wrong, should be 3"))],
    }
    make = mixed_pair(g, task_item(g, world), own)
    rng = random.Random(1)
    problems = world.problems(0, "train", 50)
    pairs = [make(problems[i % 50], rng) for i in range(4000)]
    own_pairs = [x for x in pairs if x[0].startswith(("Dp-", "Cp-"))]
    planted_dc = [x for x in pairs if x[0].endswith((DISCRIMINATE, CRITIQUE))]
    generation = len(pairs) - len(own_pairs) - len(planted_dc)
    assert 0.45 < len(own_pairs) / (len(own_pairs) + len(planted_dc)) < 0.55  # own_share of the D and C items
    assert 0.17 < generation / len(pairs) < 0.23  # the mix's generation weight, 0.2
    assert abs(sum(x[0].endswith("-s") for x in own_pairs) / len(own_pairs) - 0.5) < 0.05
    none = mixed_pair(GdcConfig(own_share=0.0), task_item(g, world), own)
    assert not any(none(problems[i % 50], rng)[0].startswith(("Dp-", "Cp-")) for i in range(500))
    empty = mixed_pair(GdcConfig(own_share=1.0), task_item(g, world), {"sound": [], "flawed": own["flawed"]})
    assert not any(
        empty(problems[i % 50], rng)[0].startswith(("Dp-", "Cp-")) for i in range(500)
    )  # one class only: planted


def test_critique_detection_counts_any_flag_on_a_flaw_and_only_silence_on_a_sound_item():
    world = arithmetic()
    flawed = [True, True, False, False]
    wrong_step = ["step 3 wrong, should be 1", "no flaw", "no flaw", "step 1 wrong, should be 2"]
    assert detects(world, wrong_step, flawed).tolist() == [True, False, True, False]  # a wrong step still detects
    assert detects(world, ["no flaw"] * 4, flawed).mean() == 0.5  # silence: chance


def test_arm_difference_shows_a_paired_shift_and_none_where_there_is_none():
    rng = random.Random(0)
    boot = {"n_resamples": 300, "seed": 0}
    d = [rng.choice([0.0, 0.5, 1.0]) for _ in range(200)]
    c = [rng.choice([0.0, 0.5, 1.0]) for _ in range(200)]
    auc = {str(i): rng.random() for i in range(0, 200, 2)}
    arm = {
        "planted": {"generator": d, "discriminator": d, "critique": c},
        "own": {"discriminator_verdict": d, "critique": c, "within_auroc_discriminator": auc},
    }
    same = arm_difference(arm, arm, boot)
    assert all(v["mean"] == 0.0 and v["ci_low"] == 0.0 for v in same.values())
    # one arm's D is right more often on every problem where it can be: a paired shift, tight CI
    up = [min(1.0, x + 0.5) for x in d]
    lifted = {
        "planted": {**arm["planted"], "discriminator": up},
        "own": {
            **arm["own"],
            "discriminator_verdict": up,
            "within_auroc_discriminator": {k: v + 0.1 for k, v in list(auc.items())[:30]},
        },
    }
    diff = arm_difference(lifted, arm, boot)
    shift = sum(u - x for u, x in zip(up, d)) / len(d)
    assert (
        diff["discriminator"]["mean"]
        == diff["dc_gap"]["mean"]
        == diff["own_discriminator_verdict_pick"]["mean"]
        == shift
    )
    assert diff["discriminator"]["ci_low"] > 0.2 and diff["critique"]["mean"] == 0.0
    assert diff["own_within_auroc_discriminator"]["n"] == 30  # only the problems both hold
    assert abs(diff["own_within_auroc_discriminator"]["mean"] - 0.1) < 1e-9
    assert "own_within_auroc_discriminator" not in arm_difference({**lifted, "own": None}, arm, boot)


def test_the_control_arm_sees_phase_twos_stream_with_planted_items_for_own_samples():
    world = arithmetic()
    g = GdcConfig(own_share=0.5)
    own = {
        "sound": [(("Dp-s", SOUND), ("Cp-s", "no flaw"))],
        "flawed": [(("Dp-f", FLAWED), ("Cp-f", "step 1 wrong, should be 3"))],
    }
    problems = world.problems(0, "train", 50)
    phase2, control = mixed_pair(g, task_item(g, world), own), mixed_pair(g, task_item(g, world), own, control=True)
    r1, r2 = random.Random(1), random.Random(1)
    a = [phase2(problems[i % 50], r1) for i in range(2000)]
    b = [control(problems[i % 50], r2) for i in range(2000)]
    swapped = [i for i, x in enumerate(a) if x[0].startswith(("Dp-", "Cp-"))]
    assert 0.35 < len(swapped) / len(a) < 0.45  # half of the D and C items (80%)
    assert all(a[i] == b[i] for i in range(len(a)) if i not in set(swapped))  # everything else identical
    assert not any(x[0].startswith(("Dp-", "Cp-")) for x in b)
    assert all(b[i][0].endswith(DISCRIMINATE if a[i][0].startswith("Dp-") else CRITIQUE) for i in swapped)
    # the stand-in items are planted ones, half flawed, and a pure function of the position (resume)
    assert (
        0.35
        < sum(b[i][1] == FLAWED for i in swapped if a[i][0].startswith("Dp-"))
        / sum(a[i][0].startswith("Dp-") for i in swapped)
        < 0.65
    )
    r3 = random.Random(1)
    assert [control(problems[i % 50], r3) for i in range(2000)] == b
