"""Ledger totals made by hand for the views' unit tests (the store's rollup makes them in use)."""

from __future__ import annotations

from typing import Any

from envelope.ledger.rollup import BINS, Totals, latency_bin


def line(*group: str | None, bucket: float | None = None, requests: int = 1, ms: float = 100.0, **sums: Any) -> Totals:
    """`requests` rows of `group` that each took `ms` (all in one latency bin), plus `sums`."""
    bins = [0] * BINS
    bins[latency_bin(ms)] = requests
    return Totals(
        group=tuple(group), bucket=bucket, requests=requests, latency_ms=ms * requests, latency_bins=tuple(bins), **sums
    )
