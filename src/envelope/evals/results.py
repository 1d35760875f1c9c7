"""A run's results: one `ItemResult` per golden item, summaries per intent and overall,
and the JSON file a run (and so a baseline) is stored as.

Summaries are pure arithmetic over item results: pass rate, mean item score, the mean
of each scorer's values (a failed request or an unscored check counts as 0, so an
outage never raises a mean), p95 latency (nearest rank, over items that got an HTTP
answer) and the mean cost the gateway reported.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from envelope.evals.scorers import Score

FORMAT = 1


@dataclass(frozen=True, slots=True)
class ItemResult:
    """One golden item sent through the gateway and graded."""

    id: str
    intent: str
    file: str
    passed: bool
    score: float  # the weighted mean of the checks' values
    latency_ms: float
    checks: tuple[Score, ...]
    status: int | None = None  # the HTTP status; None when no answer came
    answer: str | None = None
    error: str | None = None  # the request's error; checks' errors are on the checks
    model: str | None = None  # served, from x-envelope-model
    tier: str | None = None
    cost_usd: float | None = None
    cache: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # every x-envelope-* header

    @property
    def problem(self) -> str:
        """Why the item failed, in a line ('' when it passed)."""
        if self.error is not None:
            return self.error
        failed = [c for c in self.checks if not c.passed]
        return "; ".join(f"{c.scorer}: {c.error or c.detail}" for c in failed)


@dataclass(frozen=True, slots=True)
class Summary:
    """The results of a group of items (an intent, or the whole run)."""

    items: int
    passed: int
    pass_rate: float
    score: float  # mean item score
    scorers: dict[str, float]  # mean value per scorer
    errors: int  # items whose request failed or with a check not scored
    p95_latency_ms: float | None
    mean_cost_usd: float | None


@dataclass(frozen=True, slots=True)
class RunReport:
    """A whole run: what the JSON output and a baseline file hold."""

    created: str  # ISO 8601, UTC
    base_url: str
    golden: tuple[str, ...]
    overall: Summary
    intents: dict[str, Summary]
    items: tuple[ItemResult, ...]
    format: int = FORMAT


class ReportError(Exception):
    """A results or baseline file that cannot be read."""


def summarize(items: Sequence[ItemResult]) -> Summary:
    count = len(items)
    passed = sum(1 for r in items if r.passed)
    values: dict[str, list[float]] = {}
    for result in items:
        for check in result.checks:
            values.setdefault(check.scorer, []).append(check.value)
    latencies = [r.latency_ms for r in items if r.status is not None]
    costs = [r.cost_usd for r in items if r.cost_usd is not None]
    return Summary(
        items=count,
        passed=passed,
        pass_rate=passed / count if count else 0.0,
        score=_mean(r.score for r in items) or 0.0,
        scorers={name: sum(v) / len(v) for name, v in sorted(values.items())},
        errors=sum(1 for r in items if r.error is not None or any(c.error for c in r.checks)),
        p95_latency_ms=percentile(latencies, 0.95),
        mean_cost_usd=_mean(costs),
    )


def report(items: Sequence[ItemResult], *, created: str, base_url: str, golden: Sequence[str]) -> RunReport:
    """The run's report: the items, summarised per intent (in name order) and overall."""
    by_intent: dict[str, list[ItemResult]] = {}
    for result in items:
        by_intent.setdefault(result.intent, []).append(result)
    return RunReport(
        created=created,
        base_url=base_url,
        golden=tuple(golden),
        overall=summarize(items),
        intents={name: summarize(group) for name, group in sorted(by_intent.items())},
        items=tuple(items),
    )


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile (`share` in (0, 1]); None for no values."""
    if not values:
        return None
    ranked = sorted(values)
    return ranked[max(math.ceil(share * len(ranked)) - 1, 0)]


def envelope_facts(headers: Mapping[str, str]) -> tuple[str | None, str | None, float | None, str | None]:
    """Model served, tier, cost and cache kind from a response's `x-envelope-*` headers."""
    cost = headers.get("x-envelope-cost-usd")
    try:
        cost_usd = float(cost) if cost is not None else None
    except ValueError:
        cost_usd = None
    return headers.get("x-envelope-model"), headers.get("x-envelope-tier"), cost_usd, headers.get("x-envelope-cache")


def save(run: RunReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(msgspec.json.format(msgspec.json.encode(run), indent=2) + b"\n")


def load(path: Path) -> RunReport:
    """A run saved with `save`; raises ReportError naming the file and what is wrong."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ReportError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        run = msgspec.json.decode(raw, type=RunReport)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ReportError(f"{path}: not an eval results file: {exc}") from exc
    if run.format != FORMAT:
        raise ReportError(f"{path}: results format {run.format}, this Envelope reads format {FORMAT}")
    return run


def _mean(values: Iterable[float]) -> float | None:
    found = list(values)
    return sum(found) / len(found) if found else None
