"""A folder written by ``autoalign train`` as a TRL GRPO reward function.

``load_reward(DIR)`` reads ``verifier.json`` (kind, separator, how steps split) and the saved
verifier, and returns ``f(prompts, completions, **kwargs) -> list[float]``, the signature TRL's
``GRPOTrainer`` and ``RLOOTrainer`` call with keywords (``prompts=``, ``completions=``,
``completion_ids=``, ``trainer_state=``...). Completions may be plain strings or chat messages. The
reward is the verifier's probability that the solution is right: the lowest step probability for a
PRM (the score ``metrics.json`` measured), the last one for an ORM.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from .run import FORMAT
from .steps import SeparatorSteps


def read_description(folder: str | Path) -> dict:
    from ..jsonl_io import read_json_file

    folder = Path(folder)
    if not (folder / "verifier.json").is_file():
        raise UserError(f"{folder}: not a verifier folder (no verifier.json); train one with autoalign train prm|orm")
    description = read_json_file(folder / "verifier.json")
    if not isinstance(description, dict) or description.get("format") != FORMAT:
        raise UserError(f"{folder / 'verifier.json'}: not a {FORMAT} description")
    return description


def load_reward(folder: str | Path, batch_size: int = 64):
    """The verifier saved in ``folder`` as a reward function for TRL."""
    from ..models.device import place
    from ..overseers.reward import VerifierReward
    from ..overseers.verifier import load_verifier

    description = read_description(folder)
    verifier, tokenizer = load_verifier(folder)
    place(verifier)
    aggregate = "min" if description.get("aggregate") == "min" else "product"
    return VerifierReward(
        verifier, tokenizer, aggregate=aggregate, batch_size=batch_size, world=SeparatorSteps(description["separator"])
    )


__all__ = ["load_reward", "read_description"]
