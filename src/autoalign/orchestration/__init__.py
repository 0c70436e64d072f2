"""Orchestration: what sits above the protocols and drives them.

A config becomes a run folder (``runner.py``: new, or resumed when it holds the same config), its
protocols run in order, or once per seed and sweep point on an executor with the estimates pooled
(``fanout.py``), and the run's ``report.html`` is written from what the run saved (``report.py``).
Nothing below this package imports it: protocols see only the kernel's run context and store.
"""

from .execute import execute
from .report import write_report
from .runner import execute_single, load_run_config, open_run

__all__ = ["execute", "execute_single", "load_run_config", "open_run", "write_report"]
