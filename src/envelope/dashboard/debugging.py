"""The debugging view: where a request's time goes (per stage), what its tokens are,
how often the cache answers, and how each model does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from envelope.dashboard.figures import Figures, Series, TimeSeries, time_series
from envelope.dashboard.window import Window
from envelope.ledger.record import CACHE_HITS
from envelope.ledger.rollup import Dimension, Totals, by_group, combine, grouped

# The rollup dimensions of the debugging lines, in this order.
GROUPING: tuple[Dimension, ...] = ("route", "model", "cache")
HITS = CACHE_HITS
LOOKUPS = (*HITS, "miss")  # `off` (the route does not cache) and `bypass` (no-store) are not lookups
OUTCOMES = (*LOOKUPS, "bypass", "off")
ALL = "(all)"


@dataclass(frozen=True, slots=True)
class StageLatency:
    """Mean milliseconds per request in each stage; `gateway_ms` is the rest of the
    request's latency (admission, routing, cache, relaying) — never below zero."""

    name: str
    requests: int
    classify_ms: float
    retrieval_ms: float
    guard_ms: float
    upstream_ms: float
    gateway_ms: float
    total_ms: float


@dataclass(frozen=True, slots=True)
class CacheLine:
    name: str
    lookups: int
    hits: int
    hit_rate: float | None
    outcomes: dict[str, int]


@dataclass(frozen=True, slots=True)
class ModelLine:
    model: str
    figures: Figures
    share: float  # of all requests in the window
    fresh_input_tokens: int  # input not read from the provider's prompt cache
    usd_per_1k_tokens: float | None


@dataclass(frozen=True, slots=True)
class Debugging:
    window: str
    generated_at: float
    stages: list[StageLatency]  # all requests first, then per route
    cache: list[CacheLine]  # all routes first, then per route
    models: list[ModelLine]
    series: TimeSeries  # hit_rate, input_tokens, output_tokens, cached_tokens per bucket


def stage_latency(name: str, t: Totals) -> StageLatency:
    classify, retrieval, guard, upstream = (
        t.mean(t.classify_ms), t.mean(t.retrieval_ms), t.mean(t.guard_ms), t.mean(t.upstream_ms),
    )  # fmt: skip
    total = t.mean(t.latency_ms)
    rest = max(0.0, total - classify - retrieval - guard - upstream)
    return StageLatency(name, t.requests, classify, retrieval, guard, upstream, rest, total)


def cache_line(name: str, lines: Sequence[Totals]) -> CacheLine:
    """Outcomes of `lines` grouped by `GROUPING` (the cache value last)."""
    outcomes = dict.fromkeys(OUTCOMES, 0)
    for line in lines:
        outcome = line.group[-1] or "off"
        outcomes[outcome] = outcomes.get(outcome, 0) + line.requests
    lookups = sum(outcomes[o] for o in LOOKUPS)
    hits = sum(outcomes[o] for o in HITS)
    return CacheLine(name, lookups, hits, hits / lookups if lookups else None, outcomes)


def model_line(model: str, t: Totals, all_requests: int) -> ModelLine:
    tokens = t.input_tokens + t.output_tokens
    return ModelLine(
        model=model,
        figures=Figures.of(t),
        share=t.requests / all_requests if all_requests else 0.0,
        fresh_input_tokens=max(0, t.input_tokens - t.cached_tokens),
        usd_per_1k_tokens=t.cost_usd * 1000 / tokens if tokens else None,
    )


def _hit_rate(window: Window, now: float, buckets: Sequence[Totals]) -> Series:
    starts = window.starts(now)

    def count(outcomes: tuple[str, ...]) -> list[float | None]:
        chosen = [b for b in buckets if b.group and b.group[0] in outcomes]
        return time_series(starts, window.bucket_s, chosen, {"n": lambda t: float(t.requests)}).series[0].values

    hits, lookups = count(HITS), count(LOOKUPS)
    return Series("hit_rate", [(h or 0.0) / n if n else None for h, n in zip(hits, lookups, strict=True)])


def debugging(*, window: Window, now: float, lines: Sequence[Totals], buckets: Sequence[Totals]) -> Debugging:
    """The view from rollups over the window: `lines` by `GROUPING`, `buckets` by cache per time bucket."""
    everything = combine(lines)
    per_route = grouped(lines, GROUPING.index("route"))
    routes = {name: combine(found, group=(name,)) for name, found in per_route.items()}
    models = by_group(lines, GROUPING.index("model"))
    tokens = time_series(
        window.starts(now),
        window.bucket_s,
        buckets,
        {
            "input_tokens": lambda t: float(t.input_tokens),
            "output_tokens": lambda t: float(t.output_tokens),
            "cached_tokens": lambda t: float(t.cached_tokens),
        },
    )
    return Debugging(
        window=window.name,
        generated_at=now,
        stages=[stage_latency(ALL, everything), *(stage_latency(name, t) for name, t in sorted(routes.items()))],
        cache=[cache_line(ALL, lines), *(cache_line(name, found) for name, found in sorted(per_route.items()))],
        models=sorted(
            (model_line(name, t, everything.requests) for name, t in models.items()), key=lambda m: -m.figures.requests
        ),
        series=TimeSeries(tokens.t, tokens.step_s, [_hit_rate(window, now, buckets), *tokens.series]),
    )
