"""The evaluation boundary: candidate methods run where they cannot see what they are scored on.

Inside the research loop's process a method could rebuild the sealed labels (the world's checker,
the test items in memory); here the parts are apart:

* ``server.py``: the evaluation server, a process of its own and the only one holding the labels of
  the items students are scored on; loopback, a per-run token, an audit log of every query, and a
  test budget (each accepted method once per fresh seed). ``sources.py``: where its labels come from.
  ``client.py``: the loop's side (start it, ask it, stop it);
* ``jail.py``: a method file (``train(strong_model_dir, transfer_path, out_dir, seed)``) run in the
  sandbox with only its inputs mounted read-only: the strong model and the transfer texts with weak
  labels, never a test text, never a label; it returns a trained student;
* ``student.py``: the known architecture a student must be (the strong model as a one-logit
  sequence classifier), loaded from safetensors (no code runs on load) and run by the server;
* ``methods/``: the reference method (``ce.py``); ``canaries/``: methods that try to cheat and
  must be stopped; ``hill_climb.py``: a proposer that tries to climb the sealed test score.
"""

from .client import BoundaryClient, EvaluationServer, Refused
from .jail import MethodRun, run_method
from .server import ServerSpec

__all__ = ["BoundaryClient", "EvaluationServer", "MethodRun", "Refused", "ServerSpec", "run_method"]
