"""The automated alignment researcher: proposes weak-to-strong methods, measures each on a validation
split it holds, keeps a proposal only when a seed-level test says it beats the incumbent beyond the
noise of identical reruns, and scores what it kept once on sealed test labels of fresh seeds.

``config.py`` (what a research run declares), ``space.py`` (the search space), ``proposers.py``
(random search, Optuna's TPE), ``lm_proposer.py`` (a language model's proposals, parsed, never run),
``gate.py`` (keep or discard), ``evaluate.py`` (one proposal on one seed, as weak-to-strong stages),
``executor.py`` (evaluations at once, in processes or on Ray), ``code_runs.py`` (a language model's
method code, run behind the evaluation boundary of ``boundary/``), ``loop.py`` (the search and the
sealed test), ``notebook.py`` (the lab notebook, the curves and the summary).
"""

from .loop import run_research

__all__ = ["run_research"]
