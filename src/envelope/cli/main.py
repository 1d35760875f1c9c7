"""The `envelope` command."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from envelope.cli import (
    bench,
    cache,
    classifier,
    estimate,
    evals,
    experiments,
    guard,
    kb,
    keys,
    registry,
    replay,
    report,
    simulate,
)
from envelope.cli.common import console, load_config
from envelope.cli.serve import serve

app = typer.Typer(
    help="Envelope: an SLO- and budget-governed LLM gateway.", no_args_is_help=True, pretty_exceptions_enable=False
)
config_app = typer.Typer(help="Config documents.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(keys.app, name="keys")
app.add_typer(report.app, name="report")
app.add_typer(bench.app, name="bench")
app.add_typer(classifier.app, name="classifier")
app.add_typer(cache.app, name="cache")
app.add_typer(kb.app, name="kb")
app.add_typer(guard.app, name="guard")
app.add_typer(experiments.app, name="experiments")
app.command()(serve)
for _command in (registry.diff, registry.apply, registry.history, registry.rollback, registry.flags):
    app.command(epilog=registry.EXIT_CODES)(_command)
app.command("eval")(evals.evaluate)
app.command("replay")(replay.replay)
app.command("simulate")(simulate.simulate)
app.command("estimate")(estimate.estimate)


@config_app.command("validate")
def validate(path: Annotated[Path, typer.Argument(help="Config file or directory.")]) -> None:
    """Check a config set; exit 2 with every problem (file and field) if it is invalid."""
    cfg = load_config(path)
    console.print(
        f"[green]valid[/green]: {len(cfg.models)} models, {len(cfg.routes)} routes, {len(cfg.tenants)} tenants, "
        f"{len(cfg.policies)} policies"
    )


@app.command("fake-upstream")
def fake_upstream(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 9100,
) -> None:
    """Run the fake OpenAI upstream (for benchmarks and fault injection; see README)."""
    from envelope.fake.upstream import run

    run(host, port)


@app.callback()
def _logging(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)  # it logs every SIMD build it tries, at INFO
    logging.getLogger("presidio-analyzer").setLevel(logging.WARNING)  # one INFO line per recognizer built


if __name__ == "__main__":
    app()
