"""Figures read off ledger totals, and time series of them: what every view is made of."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from envelope.ledger.rollup import Totals, combine

Measure = Callable[[Totals], float | None]


@dataclass(frozen=True, slots=True)
class Figures:
    """Headline numbers of some ledger rows. Rates and latencies are None without requests;
    percentiles are read from the rollup's latency bins (within one bin's width)."""

    requests: int
    errors: int
    error_rate: float | None
    mean_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    cost_usd: float
    input_tokens: int
    output_tokens: int
    cached_tokens: int

    @classmethod
    def of(cls, totals: Totals) -> Figures:
        some = totals.requests > 0
        return cls(
            requests=totals.requests,
            errors=totals.errors,
            error_rate=totals.error_rate if some else None,
            mean_ms=totals.mean(totals.latency_ms) if some else None,
            p50_ms=totals.percentile(0.50),
            p95_ms=totals.percentile(0.95),
            p99_ms=totals.percentile(0.99),
            cost_usd=totals.cost_usd,
            input_tokens=totals.input_tokens,
            output_tokens=totals.output_tokens,
            cached_tokens=totals.cached_tokens,
        )


@dataclass(frozen=True, slots=True)
class Series:
    """One measure per bucket (None where it has no value, e.g. a percentile of no requests)."""

    name: str
    values: list[float | None]


@dataclass(frozen=True, slots=True)
class TimeSeries:
    """Bucket starts (epoch seconds) and the series drawn over them."""

    t: list[float]
    step_s: float
    series: list[Series]

    def get(self, name: str) -> Series:
        return next(s for s in self.series if s.name == name)


def time_series(
    starts: Sequence[float], step_s: float, buckets: Iterable[Totals], measures: Mapping[str, Measure]
) -> TimeSeries:
    """`measures` over each bucket of `starts`; rollup lines of several groups in one bucket
    are summed first, and a bucket without lines counts as one without requests."""
    by_start: dict[float, list[Totals]] = {}
    for line in buckets:
        if line.bucket is not None:
            by_start.setdefault(line.bucket, []).append(line)
    merged = [combine(by_start.get(start, ()), bucket=start) for start in starts]
    series = [Series(name, [measure(t) for t in merged]) for name, measure in measures.items()]
    return TimeSeries(list(starts), step_s, series)


def percentile_ms(q: float) -> Measure:
    def measure(t: Totals) -> float | None:
        return t.percentile(q)

    return measure


def error_rate(t: Totals) -> float | None:
    return t.error_rate if t.requests else None


def requests(t: Totals) -> float:
    return float(t.requests)
