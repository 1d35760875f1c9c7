"""Ledger totals per group and time bucket: what reports and dashboards read.

The store sums the rows (`LedgerStore.rollup`); latencies are counted into fixed bins
(`LATENCY_BOUNDS_MS`) so percentiles can be read from totals that were summed in SQL
and merged across buckets — within one bin's width, which `percentile` interpolates.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

Dimension = Literal["tenant", "route", "feature", "model", "tier", "cache", "deployment", "intent", "operation"]
# Upper bounds of the latency bins (ms); the last bin holds everything above the last bound.
LATENCY_BOUNDS_MS: tuple[float, ...] = (
    5, 10, 25, 50, 100, 200, 350, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 10000, 20000, 60000,
)  # fmt: skip
BINS = len(LATENCY_BOUNDS_MS) + 1


def latency_bin(ms: float) -> int:
    """The bin a latency falls in: the first whose bound is above it."""
    return bisect.bisect_right(LATENCY_BOUNDS_MS, ms)


@dataclass(frozen=True, slots=True)
class Totals:
    """Sums over the ledger rows of one group (and time bucket)."""

    group: tuple[str | None, ...] = ()
    bucket: float | None = None
    requests: int = 0
    errors: int = 0  # status >= 400
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0  # sums: divide by requests for the mean
    upstream_ms: float = 0.0
    classify_ms: float = 0.0
    retrieval_ms: float = 0.0
    guard_ms: float = 0.0
    latency_bins: tuple[int, ...] = field(default=(0,) * BINS)

    def __add__(self, other: Totals) -> Totals:
        return replace(
            self,
            requests=self.requests + other.requests,
            errors=self.errors + other.errors,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
            latency_ms=self.latency_ms + other.latency_ms,
            upstream_ms=self.upstream_ms + other.upstream_ms,
            classify_ms=self.classify_ms + other.classify_ms,
            retrieval_ms=self.retrieval_ms + other.retrieval_ms,
            guard_ms=self.guard_ms + other.guard_ms,
            latency_bins=tuple(a + b for a, b in zip(self.latency_bins, other.latency_bins, strict=True)),
        )

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def mean(self, total_ms: float) -> float:
        return total_ms / self.requests if self.requests else 0.0

    def percentile(self, q: float) -> float | None:
        """The latency (ms) below which a share `q` of the requests fell, interpolated in its bin."""
        return percentile(self.latency_bins, q)


def percentile(bins: Sequence[int], q: float) -> float | None:
    total = sum(bins)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, count in enumerate(bins):
        if count and seen + count >= rank:
            low = LATENCY_BOUNDS_MS[i - 1] if i > 0 else 0.0
            high = LATENCY_BOUNDS_MS[i] if i < len(LATENCY_BOUNDS_MS) else LATENCY_BOUNDS_MS[-1] * 2
            return low + (high - low) * max(0.0, rank - seen) / count
        seen += count
    return LATENCY_BOUNDS_MS[-1] * 2


def combine(lines: Iterable[Totals], *, group: tuple[str | None, ...] = (), bucket: float | None = None) -> Totals:
    """One total over several lines, labelled `group` and `bucket`."""
    out = Totals(group=group, bucket=bucket)
    for line in lines:
        out = out + line  # keeps the left side's group and bucket
    return out


def grouped(lines: Iterable[Totals], index: int = 0) -> dict[str, list[Totals]]:
    """Lines by one of their group values (`index` into `Totals.group`); a missing value is
    grouped under "-"."""
    out: dict[str, list[Totals]] = {}
    for line in lines:
        key = line.group[index] if index < len(line.group) else None
        out.setdefault(key if key is not None else "-", []).append(line)
    return out


def by_group(lines: Iterable[Totals], index: int = 0) -> dict[str, Totals]:
    """Lines summed by one of their group values, as `grouped` groups them."""
    return {key: combine(found, group=(key,)) for key, found in grouped(lines, index).items()}


# Ledger columns summed into `Totals` fields of the same name.
SUMMED = (
    "input_tokens", "output_tokens", "cached_tokens", "cost_usd", "latency_ms", "upstream_ms", "classify_ms",
    "retrieval_ms", "guard_ms",
)  # fmt: skip


def fold(rows: Iterable[Mapping[Any, Any]], by: Sequence[str], bucket_s: float | None) -> list[Totals]:
    """Totals from grouped rows: each row has the `by` values, `bucket` (an index, with
    `bucket_s`), `lbin` (its latency bin), `requests`, `errors` and the `SUMMED` sums."""
    lines: dict[tuple[float | None, tuple[str | None, ...]], tuple[dict[str, float], list[int]]] = {}
    for row in rows:
        group = tuple(None if row[d] is None else str(row[d]) for d in by)
        bucket = float(row["bucket"]) * bucket_s if bucket_s is not None else None
        sums, bins = lines.setdefault((bucket, group), ({}, [0] * BINS))
        for name in ("requests", "errors", *SUMMED):
            sums[name] = sums.get(name, 0) + float(row[name] or 0)
        bins[int(row["lbin"])] += int(row["requests"])
    out = [
        Totals(
            group=group,
            bucket=bucket,
            requests=int(sums["requests"]),
            errors=int(sums["errors"]),
            input_tokens=int(sums["input_tokens"]),
            output_tokens=int(sums["output_tokens"]),
            cached_tokens=int(sums["cached_tokens"]),
            cost_usd=sums["cost_usd"],
            latency_ms=sums["latency_ms"],
            upstream_ms=sums["upstream_ms"],
            classify_ms=sums["classify_ms"],
            retrieval_ms=sums["retrieval_ms"],
            guard_ms=sums["guard_ms"],
            latency_bins=tuple(bins),
        )
        for (bucket, group), (sums, bins) in lines.items()
    ]
    out.sort(key=lambda t: (t.bucket or 0.0, tuple("" if g is None else g for g in t.group)))
    return out
