"""Re-judge the README's endpoint table under today's decision rule, from its published per-seed values.

The table at the top of the README was computed by the rule before issue #23 (a percentile bootstrap
over seeds and items). Its run folders are not shipped, so it cannot be rebuilt from results; what
can be done honestly is to apply today's rule (``measures.seed_t_test``: a one-sided t-test over the
per-seed values, Holm within each config's family, guarantees asserted per seed) to the per-seed
values the table prints (rounded to three decimals). Families are read from the shipped configs (GDC
design v3 is today's ``gdc_gaps.yaml``). Prints the revised table as markdown::

    python scripts/rejudge_readme_endpoints.py README.md
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from pathlib import Path

from autoalign.config import load_config
from autoalign.endpoints import ALPHA, holm
from autoalign.measures import seed_t_test

ROW = re.compile(
    r"^\| (?P<config>[\w.]+\.yaml)(?: \(v3\))? \| (?P<name>\w+) \((?P<op>[<>]) (?P<thr>[-+.\d]+)\) \| "
    r"(?P<seeds>[\d-]+) \| (?P<values>[-+.\d, ]+) \|"
)


def rows(readme: str) -> list[dict]:
    out = []
    for line in readme.splitlines():
        m = ROW.match(line)
        if m:
            out.append({**m.groupdict(), "per_seed": [float(v) for v in m["values"].split(",")], "line": line})
    return out


def main(path: str) -> None:
    root = Path(path).resolve().parent
    table = rows(Path(path).read_text())
    endpoints = {}
    for r in table:
        if r["config"] not in endpoints:
            cfg = load_config(str(root / "configs" / r["config"]))
            endpoints[r["config"]] = {e.name: e for e in cfg.endpoints}
    # Holm within each config's family, per set of seeds (each set is its own run); every primary
    # hypothesis endpoint of the family counts, so a missing one enters with p = 1
    judged = []
    for r in table:
        e = endpoints[r["config"]][r["name"]]
        direction = "greater" if r["op"] == ">" else "less"
        t = seed_t_test(r["per_seed"], float(r["thr"]), direction)
        judged.append({**r, "endpoint": e, "test": t, "direction": direction})
    families = defaultdict(list)
    for j in judged:
        e = j["endpoint"]
        if getattr(e, "kind", "hypothesis") != "guarantee" and e.primary:
            families[(j["config"], j["seeds"], e.family_name)].append(j)
    for (config, seeds, family), members in families.items():
        declared = [
            e
            for e in endpoints[config].values()
            if e.primary and getattr(e, "kind", "hypothesis") != "guarantee" and e.family_name == family
        ]
        ps = [1.0 if m["test"]["p"] != m["test"]["p"] else float(m["test"]["p"]) for m in members]
        ps += [1.0] * (len(declared) - len(members))
        for m, p in zip(members, holm(ps)):
            m["p_holm"], m["m"] = p, len(declared)
    print("| config | endpoint | seeds | per seed | mean [95% t-CI over seeds] | p (Holm, m) | result |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for j in judged:
        t, e = j["test"], j["endpoint"]
        ci = f"{t['mean']:+.3f} [{t['ci_low']:+.3f}, {t['ci_high']:+.3f}]"
        if getattr(e, "kind", "hypothesis") == "guarantee":
            ok = all(
                (v < float(j["thr"])) if j["direction"] == "less" else (v > float(j["thr"])) for v in j["per_seed"]
            )
            verdict, p = ("guarantee kept" if ok else "**guarantee broken**"), "-"
        elif "p_holm" not in j:
            continue
        elif t["p"] != t["p"]:
            verdict, p = "untested (no variation over seeds)", f"- (m={j['m']})"
        else:
            right_side = (t["mean"] > float(j["thr"])) if j["direction"] == "greater" else (t["mean"] < float(j["thr"]))
            verdict = "**held**" if right_side and j["p_holm"] < ALPHA else "not held"
            p = f"{j['p_holm']:.3f} (m={j['m']})"
        values = ", ".join(f"{v:+.3f}" for v in j["per_seed"])
        label = j["config"] + (" (v3)" if "(v3)" in j["line"] else "")
        print(f"| {label} | {j['name']} ({j['op']} {j['thr']}) | {j['seeds']} | {values} | {ci} | {p} | {verdict} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "README.md")
