"""The commands for a user's own data and models: data export/check (TRL's stepwise JSONL), serve (local
models over an OpenAI-compatible HTTP API) and train prm/orm (a verifier on the user's step labels).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import UserError
from ..verifier_training import cli as tv
from .common import QUIET, guard

data_app = typer.Typer(no_args_is_help=True, help="Export and check data in TRL's stepwise JSONL format.")


@data_app.command("export")
def data_export(
    out: Path = typer.Argument(..., help="Output JSONL file."),
    n: int = typer.Option(100, min=1, help="Number of problems."),
    seed: int = typer.Option(0),
    min_steps: int = typer.Option(2, min=1, max=8),
    max_steps: int = typer.Option(5, min=1, max=8),
) -> None:
    """Write gold arithmetic-chain solutions in TRL's stepwise format (from the overseer split, so
    that no test prompt is ever exported as training data)."""
    from pydantic import ValidationError

    from ..worlds import ArithmeticConfig, example_from_solution, make_world, write_stepwise_jsonl

    def go():
        try:
            wc = ArithmeticConfig(min_steps=min_steps, max_steps=max_steps)
        except ValidationError as e:
            raise UserError(f"--min-steps/--max-steps: {e.errors()[0]['msg']}") from None
        problems = make_world("arithmetic", wc).problems(seed, "overseer", n)
        write_stepwise_jsonl(out, [example_from_solution(p, p.solution) for p in problems])
        typer.echo(f"wrote {n} examples to {out}")

    guard(go)


@data_app.command("check")
def data_check(path: Path = typer.Argument(..., help="A stepwise JSONL file.")) -> None:
    """Validate a stepwise JSONL file and summarise its labels."""
    from ..worlds import read_stepwise_jsonl

    def go():
        examples = read_stepwise_jsonl(path)
        steps = sum(len(e.labels) for e in examples)
        good = sum(sum(e.labels) for e in examples)
        typer.echo(f"{path}: {len(examples)} examples, {steps} steps, {good / steps:.1%} labelled correct")

    guard(go)


def serve(
    target: str = typer.Argument(
        ...,
        help=(
            "A model folder, a run folder (serves its models/), or a local model's "
            "address (hf/, lab/ or a plugin provider's)."
        ),
    ),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (127.0.0.1: this machine only)."),
    port: int = typer.Option(8000, help="Port to listen on (0: any free port)."),
    api_key: Optional[str] = typer.Option(
        None, "--api-key", envvar="AUTOALIGN_API_KEY", help="Require Authorization: Bearer KEY (env AUTOALIGN_API_KEY)."
    ),
    model_name: Optional[str] = typer.Option(
        None, "--model-name", help="Model id to serve under; for a run folder, which model."
    ),
    device: str = typer.Option("auto", help="auto, cpu, cuda or mps."),
    dtype: str = typer.Option("float32", help="float32, bfloat16 or float16."),
) -> None:
    """Serve local models over an OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions)."""

    def go():
        from ..serve.cli import serve as serve_models

        serve_models(target, host=host, port=port, api_key=api_key, model_name=model_name, device=device, dtype=dtype)

    guard(go)


train_app = typer.Typer(no_args_is_help=True, help="Train a PRM or ORM on your own step labels (TRL stepwise JSONL).")


@train_app.command("prm")
def train_prm(
    data: Path = tv.DATA,
    model: str = tv.MODEL,
    out: Path = tv.OUT,
    eval_split: float = tv.EVAL_SPLIT,
    steps: int = tv.STEPS,
    pretrain_steps: Optional[int] = tv.PRETRAIN_STEPS,
    separator: str = tv.SEPARATOR,
    seed: int = tv.SEED,
    quiet: bool = QUIET,
) -> None:
    """Train a process reward model (a verdict per step); writes DIR/metrics.json and a TRL reward."""
    guard(lambda: tv.train_command("prm", data, model, out, eval_split, steps, pretrain_steps, separator, seed, quiet))


@train_app.command("orm")
def train_orm(
    data: Path = tv.DATA,
    model: str = tv.MODEL,
    out: Path = tv.OUT,
    eval_split: float = tv.EVAL_SPLIT,
    steps: int = tv.STEPS,
    pretrain_steps: Optional[int] = tv.PRETRAIN_STEPS,
    separator: str = tv.SEPARATOR,
    seed: int = tv.SEED,
    quiet: bool = QUIET,
) -> None:
    """Train an outcome reward model (is the final answer right); writes DIR/metrics.json and a TRL reward."""
    guard(lambda: tv.train_command("orm", data, model, out, eval_split, steps, pretrain_steps, separator, seed, quiet))
