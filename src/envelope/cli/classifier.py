"""`envelope classifier`: train the request classifier on the shipped prompt set."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="The request classifier (intent, complexity, risk).", no_args_is_help=True)


@app.command()
def train(
    check: Annotated[bool, typer.Option(help="Train and print the held-out report; write nothing.")] = False,
    out: Annotated[
        Path | None, typer.Option(help="Where to write the weights (.npz); default: the shipped file.")
    ] = None,
) -> None:
    """Embed the labelled prompts, train on the train split, report held-out accuracy, save the weights."""
    from envelope.classifier.model import DEFAULT_WEIGHTS
    from envelope.classifier.train import run

    run(out or DEFAULT_WEIGHTS, report_only=check)
