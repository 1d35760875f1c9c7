"""Time-bucketed rolling statistics of one stream of requests (a route, or a route's tier).

Recording is O(1) and touches plain Python lists only: the *open* bucket (the one the
clock is in) is a list of counters plus two histogram lists (latency, TTFT; see
`bins.py`). When the clock moves to the next bucket, the open one is *sealed* into
numpy rings, once per bucket width, so queries are vector sums:

- fine ring: counters per `bucket_s` bucket, `horizon_s` deep (the short windows);
- histogram ring: the two histograms per fine bucket, `quantile_horizon_s` deep
  (histograms are ≈ 1 KB a bucket, so they are kept for the quantile windows only);
- coarse ring (optional): counters per `coarse_bucket_s` bucket, `coarse_horizon_s`
  deep, fed from sealed fine buckets (the long windows: 3 d burn, 30 d budget).

Rings are indexed by bucket number modulo their length, with the bucket number kept
beside each slot, so an idle stream needs no clearing: stale slots never match a
window. Memory is fixed by the horizons (numpy zero pages are only paid once touched).

A window of `w` seconds at `now` is the `⌈w / width⌉` buckets ending with the one
holding `now` (the current one partly filled): it spans between `w − width` and `w`.
An observation older than the open bucket (requests finish out of order) is counted
in the open bucket: a shift of at most one bucket, never a lost request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from envelope.slo.bins import Bins
from envelope.slo.objectives import Objective, Verdicts
from envelope.slo.observation import Observation

# Counters of a bucket, by position.
REQUESTS = 0  # every request, client errors included
COUNTED = 1  # requests that count towards the objectives (availability events)
BAD = 2  # counted requests that failed (availability bad events)
LATENCY_EVENTS = 3  # counted requests of a route with a p95 target
SLOW = 4  # ... over it (latency bad events)
TTFT_EVENTS = 5  # counted streams with a TTFT, on a route with a TTFT target
TTFT_SLOW = 6  # ... over it
COST = 7  # USD, every request
CACHE_HITS = 8  # counted requests answered from the cache
FALLBACKS = 9  # counted requests served by a fallback model
ATTEMPTS = 10  # upstream attempts of counted requests
UPSTREAM = 11  # counted requests that went upstream (attempts > 0)
FIELDS = 12

Vector = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Totals:
    """Sums over a window."""

    requests: float = 0.0
    counted: float = 0.0
    bad: float = 0.0
    latency_events: float = 0.0
    slow: float = 0.0
    ttft_events: float = 0.0
    ttft_slow: float = 0.0
    cost_usd: float = 0.0
    cache_hits: float = 0.0
    fallbacks: float = 0.0
    attempts: float = 0.0
    upstream: float = 0.0

    @classmethod
    def of(cls, vector: Vector) -> Totals:
        return cls(*(float(x) for x in vector))

    def events(self, objective: Objective) -> float:
        if objective == "availability":
            return self.counted
        return self.latency_events if objective == "latency" else self.ttft_events

    def bad_events(self, objective: Objective) -> float:
        if objective == "availability":
            return self.bad
        return self.slow if objective == "latency" else self.ttft_slow

    def fraction_bad(self, objective: Objective) -> float | None:
        """Bad events over events (None without events)."""
        events = self.events(objective)
        return self.bad_events(objective) / events if events > 0 else None


class Ring:
    """Counters (and optionally histograms) of sealed buckets of one width."""

    __slots__ = ("counts", "hist", "horizon_s", "inv_width", "stamps", "width")

    def __init__(self, width: float, horizon_s: float, *, bins: int = 0) -> None:
        self.width = width
        self.inv_width = 1.0 / width
        self.horizon_s = horizon_s
        size = math.ceil(horizon_s / width) + 1
        self.stamps = np.full(size, -1, dtype=np.int64)
        self.counts = np.zeros((size, FIELDS), dtype=np.float64)
        self.hist = np.zeros((size, 2, bins), dtype=np.uint32) if bins else None

    def span(self, window_s: float, now: float) -> tuple[int, int]:
        """First and last bucket number of the window ending at `now`."""
        last = math.floor(now * self.inv_width)  # as `Window.record` numbers buckets
        return last - math.ceil(window_s / self.width - 1e-9) + 1, last

    def seal(self, number: int, counts: Vector | list[float], hist: tuple[list[int], list[int]] | None = None) -> None:
        slot = number % self.stamps.size
        self.stamps[slot] = number
        self.counts[slot] = counts
        if self.hist is not None and hist is not None:
            self.hist[slot, 0] = hist[0]
            self.hist[slot, 1] = hist[1]

    def mask(self, first: int, last: int) -> npt.NDArray[np.bool_]:
        return (self.stamps >= first) & (self.stamps <= last)


class Window:
    """Rolling statistics of one stream; see the module docstring."""

    __slots__ = (
        "_coarse",
        "_coarse_number",
        "_coarse_open",
        "_fine",
        "_hist",
        "_inv_width",
        "_latency",
        "_number",
        "_open",
        "_ttft",
        "bins",
    )

    def __init__(
        self,
        bins: Bins,
        *,
        bucket_s: float,
        horizon_s: float,
        quantile_horizon_s: float,
        coarse_bucket_s: float | None = None,
        coarse_horizon_s: float | None = None,
    ) -> None:
        if quantile_horizon_s > horizon_s:
            raise ValueError("quantile_horizon_s must not exceed horizon_s")
        self.bins = bins
        self._inv_width = 1.0 / bucket_s
        self._fine = Ring(bucket_s, horizon_s)
        self._hist = Ring(bucket_s, quantile_horizon_s, bins=bins.size)
        self._coarse = (
            Ring(coarse_bucket_s, coarse_horizon_s)
            if coarse_bucket_s is not None and coarse_horizon_s is not None and coarse_horizon_s > horizon_s
            else None
        )
        self._number = -1  # bucket number of the open bucket; -1: nothing recorded yet
        self._open: list[float] = [0.0] * FIELDS
        self._latency: list[int] = [0] * bins.size
        self._ttft: list[int] = [0] * bins.size
        self._coarse_number = -1
        self._coarse_open: Vector = np.zeros(FIELDS)

    @property
    def horizon_s(self) -> float:
        """The longest window that can be asked for."""
        return self._coarse.horizon_s if self._coarse is not None else self._fine.horizon_s

    @property
    def quantile_horizon_s(self) -> float:
        return self._hist.horizon_s

    # --- the hot path -----------------------------------------------------------------

    def bucket(self, ts: float) -> int:
        """The number of the fine bucket holding `ts`."""
        return math.floor(ts * self._inv_width)

    def record(self, number: int, obs: Observation, verdict: Verdicts, latency_bin: int, ttft_bin: int | None) -> None:
        """Count one request in bucket `number` (`bucket(obs.ts)`, computed once by the
        caller for every window of the same width); the bins are its `Bins.index`es."""
        if number > self._number:
            self._roll(number)
        c = self._open
        c[REQUESTS] += 1
        c[COST] += obs.cost_usd
        if not obs.counted:
            return
        c[COUNTED] += 1
        self._latency[latency_bin] += 1
        if ttft_bin is not None:
            self._ttft[ttft_bin] += 1
        availability, latency, ttft = verdict
        if not availability:
            c[BAD] += 1
        if latency is not None:
            c[LATENCY_EVENTS] += 1
            if not latency:
                c[SLOW] += 1
        if ttft is not None:
            c[TTFT_EVENTS] += 1
            if not ttft:
                c[TTFT_SLOW] += 1
        attempts = obs.attempts
        if attempts:
            c[ATTEMPTS] += attempts
            c[UPSTREAM] += 1
        if obs.cache_hit:
            c[CACHE_HITS] += 1
        if obs.fallback:
            c[FALLBACKS] += 1

    def _roll(self, number: int) -> None:
        """Seal the open bucket and open bucket `number` (once per bucket width)."""
        if self._number >= 0:
            self._fine.seal(self._number, self._open)
            self._hist.seal(self._number, self._open, (self._latency, self._ttft))
            if self._coarse is not None:
                self._feed_coarse()
            size = self.bins.size
            self._open = [0.0] * FIELDS
            self._latency = [0] * size
            self._ttft = [0] * size
        self._number = number

    def _feed_coarse(self) -> None:
        assert self._coarse is not None
        coarse_number = self._coarse_of(self._number)
        if coarse_number != self._coarse_number:
            if self._coarse_number >= 0:
                self._coarse.seal(self._coarse_number, self._coarse_open)
            self._coarse_number = coarse_number
            self._coarse_open = np.zeros(FIELDS)
        self._coarse_open += self._open

    def _coarse_of(self, fine_number: int) -> int:
        assert self._coarse is not None
        middle = (fine_number + 0.5) / self._inv_width  # the middle of the bucket: no rounding at edges
        return math.floor(middle * self._coarse.inv_width)

    # --- queries ----------------------------------------------------------------------

    def totals(self, window_s: float, now: float) -> Totals:
        """Sums over the window ending at `now` (window_s ≤ `horizon_s`)."""
        return Totals.of(self.vector(window_s, now))

    def vector(self, window_s: float, now: float) -> Vector:
        """The counters summed over the window, by position (REQUESTS … UPSTREAM)."""
        if window_s <= self._fine.horizon_s:
            ring = self._fine
            first, last = ring.span(window_s, now)
            total: Vector = ring.counts[ring.mask(first, last)].sum(axis=0)
            if first <= self._number <= last:
                total += self._open
            return total
        if self._coarse is None or window_s > self._coarse.horizon_s:
            raise ValueError(f"window of {window_s}s beyond the horizon of {self.horizon_s}s")
        ring = self._coarse
        first, last = ring.span(window_s, now)
        total = ring.counts[ring.mask(first, last)].sum(axis=0)
        if first <= self._coarse_number <= last:
            total += self._coarse_open
        if self._number >= 0 and first <= self._coarse_of(self._number) <= last:
            total += self._open
        return total

    def histograms(self, window_s: float, now: float) -> tuple[Vector, Vector]:
        """The latency and TTFT histograms merged over the window (≤ `quantile_horizon_s`)."""
        ring = self._hist
        if window_s > ring.horizon_s:
            raise ValueError(f"no quantiles over {window_s}s: histograms are kept {ring.horizon_s}s")
        assert ring.hist is not None
        first, last = ring.span(window_s, now)
        merged = ring.hist[ring.mask(first, last)].sum(axis=0, dtype=np.float64)
        if first <= self._number <= last:
            merged[0] += self._latency
            merged[1] += self._ttft
        return merged[0], merged[1]

    def quantile(self, q: float, window_s: float, now: float, *, ttft: bool = False) -> float | None:
        """The q-quantile of latency (or TTFT) over the window, seconds; None without requests."""
        latency, first_token = self.histograms(window_s, now)
        return self.bins.quantile(first_token if ttft else latency, q)

    def fraction_bad(self, objective: Objective, window_s: float, now: float) -> float | None:
        return self.totals(window_s, now).fraction_bad(objective)

    def last_seen(self) -> float | None:
        """Start of the newest bucket with a request (None: never)."""
        return None if self._number < 0 else self._number / self._inv_width
