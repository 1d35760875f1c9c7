"""`envelope guard evaluate`: the guardrails measured on the labelled sets the project
ships — PII detector precision/recall per entity, toxicity filter precision/recall, and
the guardrails' CPU time per request."""

from __future__ import annotations

import statistics
import time
from typing import Annotated

import typer
from rich.table import Table

from envelope.cli.common import console

app = typer.Typer(help="Guardrails: measure them on the shipped labelled sets.", no_args_is_help=True)


@app.command()
def evaluate(
    split: Annotated[str, typer.Option(help="dev | test | all (the detectors were tuned on dev)")] = "test",
    rounds: Annotated[int, typer.Option(help="Timing rounds over the sets")] = 3,
) -> None:
    """Precision and recall of the PII detector and the toxicity filter, and the time the
    checks of one request take (input PII, answer PII, toxicity)."""
    from envelope.guardrails import pii_evaluation, toxicity_evaluation
    from envelope.guardrails.pii import PiiDetector
    from envelope.guardrails.toxicity import ToxicityFilter

    chosen = None if split == "all" else split
    detector, toxicity = PiiDetector(), ToxicityFilter()
    samples = pii_evaluation.load(split=chosen)
    report = pii_evaluation.evaluate(detector, samples)
    table = Table("entity", "precision", "recall", "F1", "found", "false +", "missed", title=f"PII detector ({split})")
    for name, score in [*sorted(report.per_entity.items()), ("all", report.overall)]:
        table.add_row(
            name,
            f"{score.precision:.3f}",
            f"{score.recall:.3f}",
            f"{score.f1:.3f}",
            str(score.true_positives),
            str(score.false_positives),
            str(score.false_negatives),
        )
    console.print(table)
    examples = toxicity_evaluation.load()
    tox = toxicity_evaluation.evaluate(toxicity, examples, chosen)
    console.print(
        f"toxicity word list ({split}): precision {tox.precision:.3f}, recall {tox.recall:.3f}, F1 {tox.f1:.3f} "
        f"over {tox.true_positives + tox.false_positives + tox.false_negatives + tox.true_negatives} texts"
    )
    prompts = [s.text for s in pii_evaluation.load()]
    answers = [e.text for e in examples]
    spent: list[float] = []
    for _ in range(rounds):
        for i, prompt in enumerate(prompts):
            answer = answers[i % len(answers)]
            started = time.perf_counter()
            detector.find(prompt)
            detector.find(answer)
            toxicity.check(answer)
            spent.append((time.perf_counter() - started) * 1e6)
    spent.sort()
    p99 = spent[min(len(spent) - 1, int(len(spent) * 0.99))]
    console.print(
        f"guardrails per request (PII in the prompt and the answer, toxicity of the answer; {len(spent)} requests): "
        f"p50 {statistics.median(spent):.0f} µs, p99 {p99:.0f} µs, mean {statistics.fmean(spent):.0f} µs"
    )
