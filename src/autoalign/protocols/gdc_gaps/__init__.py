"""Generator, discriminator and critique abilities, and the gaps between them (Saunders et al. 2022).

Does an overseer say all it knows? Method, for each model size:
1. Train one model from scratch on a mix of three tasks (``overseers/critic.py``): write a solution
   (generation); say whether a solution is "flawed" or "sound" (discrimination); write a critique
   naming the first wrong step and its correction, or "no flaw" (critique; ``critiques.py``). Flawed
   training solutions are gold solutions with a planted flaw (the world's ``tamper``: for arithmetic
   a wrong value carried forward, a slip repaired in the next step, a wrong operator, a wrong
   operand). Any registered world with text solutions and planted flaws can be named. Phase 2
   (``own_training.py``, ``own_train_steps``): the model samples its own solutions to training
   problems, the checker labels them, and training goes on with part of the discrimination and
   critique items drawn from them, as Saunders et al. train on model-written answers.
2. On held-out problems: G is the share of problems whose greedy solution is correct. Each problem
   also gives two items, its gold solution and a tampered copy (balanced, so chance is 50% for D
   and for C): D is the share of items the discriminator labels right (log P("flawed") vs
   log P("sound")); C is the share of items whose greedy critique is right (names the flawed step,
   or rightly says "no flaw"). GD = D - G, GC = C - G, DC = D - C, each with a paired bootstrap CI
   over problems. "D on missed flaws" asks directly: of the flaws the critique missed, how many did
   the same model's discriminator flag?
3. On common items (``own_samples.py``): K samples of the model's own per problem, on which G, D
   and C are measured in one unit (the soundness of the sample each one picks) beside two
   reference discriminators (generate-and-compare, likelihood surprise) and the oracle; with
   within-problem AUROCs and per number of steps. This is the fair test of "evaluation is easier
   than generation": the balanced items above mix units.
4. Training weights each example alike (``loss_per: example``), so the one-word verdict of a
   discrimination item counts as much as a solution, and validation G, D and C are recorded
   along the way (the learning curves).
5. For the critic (the largest size by default):
   - catch rate vs hallucination (McAleese et al. 2024): sample K critiques per item, pick the one
     maximising log-probability + bonus x (flags a step); sweep the bonus;
   - assistance, measured (``rater.py``): a weaker model checking ``rater_budget`` steps per
     solution reads each item with and without the critique; flaws found and false alarms;
   - adversarial flaws: per problem, try several flaws and keep one the critic misses (if any);
     report how often the critic can be evaded and whether its discriminator still sees those flaws.
"""

from __future__ import annotations

from ...models.providers import checkpoint_digest
from ...protocol import protocol
from ...report.fmt import text_estimate, text_points
from .config import GdcConfig, GdcResults
from .control import control_arm
from .report import gdc_section
from .stages import (  # noqa: F401  (task_item, evaluation_items: the public helpers tests use)
    critic_stage,
    evaluate_size,
    evaluation_items,
    own_samples_stage,
    task_item,
    train_own_stage,
    train_size,
)


def summary(r: dict) -> list[str]:
    lines = [
        f"{size} ({g['params'] / 1e6:.2f}M): G {text_estimate(g['generator'])}, D {text_estimate(g['discriminator'])}, "
        f"C {text_estimate(g['critique'])}; DC gap {text_points(g['dc_gap'])}"
        for size, g in r.get("gdc", {}).items()
    ]
    for size, g in r.get("gdc", {}).items():
        own = g.get("own_samples")
        if own:
            sel = own["selection"]
            lines.append(
                f"{size} own samples: G {text_estimate(own['generator_samples'])}, D picks "
                f"{text_estimate(sel['discriminator'])}, C picks {text_estimate(sel['critique'])}, "
                f"compare {text_estimate(sel['compare'])}; D - C {text_points(own['dc_selection'])}"
            )
    a = r.get("assistance")
    if a:
        f = a["flaws_found"]
        lines.append(
            f"rater (a model) finds {text_estimate(f['without'])} of flaws alone, {text_estimate(f['with'])} "
            f"with critiques; false alarms {text_estimate(a['false_alarms']['without'])} / "
            f"{text_estimate(a['false_alarms']['with'])}"
        )
    return lines


def headline(r: dict) -> str:
    size, g = list(r["gdc"].items())[-1]
    return f"{size}: D {g['discriminator']['mean']:.1%}, C {g['critique']['mean']:.1%}"


@protocol(
    "gdc_gaps", sections={"gdc": GdcConfig}, results=GdcResults, summary=summary, headline=headline, report=gdc_section
)
def run(ctx, cfg) -> dict:
    g = cfg.gdc
    per_size, critiques = {}, {}
    trained = dict(
        zip(
            g.sizes,
            ctx.side_by_side(
                [(f"gdc.{size}.train", train_size, (size, g, checkpoint_digest(size, "gdc.sizes"))) for size in g.sizes]
            ),
        )
    )
    phase1 = trained
    if g.own_train_steps:
        trained = dict(
            zip(
                g.sizes,
                ctx.side_by_side(
                    [(f"gdc.{size}.train_own", train_own_stage, (size, trained[size], g)) for size in g.sizes]
                ),
            )
        )
    critic_size = g.critic_size or g.sizes[-1]
    for size in g.sizes:
        result = ctx.stage(f"gdc.{size}.evaluate", evaluate_size, size, trained[size], g)
        per_size[size], critiques[size] = result["metrics"], result["critiques"]
        per_size[size]["curve"] = trained[size].get("curve", [])
        if "own_training" in trained[size]:
            per_size[size]["own_training"] = trained[size]["own_training"]
        own = own_file = None
        if g.own_samples:
            per_size[size]["own_samples"] = ctx.stage(
                f"gdc.{size}.own_samples", own_samples_stage, size, trained[size], result["greedy"], g
            )
            own = per_size[size]["own_samples"].pop("per_problem", None)
            own_file = per_size[size]["own_samples"].pop("samples_file", None)
        if g.own_control and g.own_train_steps and size == critic_size:
            per_size[size]["control"] = control_arm(ctx, size, phase1[size], trained[size], g, result, own, own_file)
    rater_size = g.rater_size or g.sizes[0]
    extra = ctx.stage(
        "gdc.critic", critic_stage, critic_size, trained[critic_size], critiques[critic_size], g, trained[rater_size]
    )
    top = per_size[critic_size]
    metrics = {
        "gdc": per_size,
        "critic": {
            "size": critic_size,
            "catch_rate": top["catch_rate"],
            "hallucination_rate": top["hallucination_rate"],
            "sweep": extra["sweep"],
            "adversarial": extra["adversarial"],
        },
        "assistance": extra["assistance"],
    }
    return metrics
