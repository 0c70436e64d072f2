"""graph_walk_lab: what an outside lab adds to autoalign without editing it.

Importing the package registers everything (autoalign imports it through the entry point):

* world ``graph_walk``: follow a functional graph's edges from a start node for k hops. Its own
  step format (``a>c,c>b,b>d,!d``), not arithmetic's; planted flaws ``wrong_edge`` and
  ``short_walk``.
* overseer ``step_table``: a lookup-table process reward model (per written step, how often that
  exact step was right in training), for any world with step spans.
* weak-to-strong method ``hard_labels``: the student trains on the weak labels rounded to 0/1.
* model provider ``walker``: ``walker/<error rate>`` is a scripted policy that walks the graph in
  the prompt and takes a wrong edge with that probability: a black-box generator.
"""

from . import method, overseer, provider, world  # noqa: F401  (registration)
