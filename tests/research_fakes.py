"""What the research loop's ``evaluate`` returns for one seed, built from scripted PGRs: the scripted
evaluators of the research tests share it, so each states only how its PGRs are drawn."""


def evaluation(seed: int, pgrs: dict, canaries: bool, caught_flags: tuple = ("x",)) -> dict:
    """One seed's evaluation record: ``pgrs`` maps each method to its PGR; with ``canaries`` both
    weak-to-strong canaries are reported caught."""
    return {
        "seed": seed,
        "weak": 0.6,
        "ceiling": 0.8,
        "guard": None,
        "methods": {name: {"pgr": pgr, "student": 0.7, "flags": []} for name, pgr in pgrs.items()},
        "canaries": {k: {"caught": True, "flags": list(caught_flags)} for k in ("majority", "peek")}
        if canaries
        else {},
        "seconds": 1.0,
    }
