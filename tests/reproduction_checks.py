"""What each full reproduction (``tests/test_reproductions.py``, ``make test-slow``) asserts about its
run's metrics, as functions, so that a fast test can show each one failing when the effect it checks is
removed (issue #23: a test that cannot fail proves nothing)."""


def prm_beats_majority(m: dict) -> bool:
    """Best-of-N on arithmetic, at the largest N: PRM - majority vote's CI lies above 0."""
    top = max(m["best_of_n"]["arithmetic"]["prm"], key=int)
    return m["best_of_n"]["arithmetic"]["diff"]["prm_vs_majority"][top]["ci_low"] > 0


def gdc_sizes_above_chance_and_critiques_help(m: dict) -> bool:
    """Every size's discriminator and critique above chance, and critiques help the weak rater."""
    if set(m["gdc"]) != {"micro", "tiny", "small"}:
        return False
    above = all(g["discriminator"]["ci_low"] > 0.5 and g["critique"]["ci_low"] > 0.5 for g in m["gdc"].values())
    return above and m["assistance"]["flaws_found"]["difference"]["ci_low"] > 0


def debate_lifts_the_judge(m: dict) -> bool:
    """Pixel debate: the judge's accuracy rises by more than 15 points at 4 and at 6 pixels."""
    return all(m["debate"][k]["lift"]["ci_low"] > 0.15 for k in ("k4", "k6"))


def debate_beats_consultancy_and_elo_orders(m: dict) -> bool:
    """Facts debate beats consultancy, and the debaters' Elo rises with their strength (in config order)."""
    elo = [r["elo"]["mean"] for r in m["facts"]["elo"]]
    return m["facts"]["debate_minus_consultancy"]["ci_low"] > 0 and elo == sorted(elo)
