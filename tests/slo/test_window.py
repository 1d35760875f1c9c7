from __future__ import annotations

import math

import numpy as np
import pytest

from envelope.slo.bins import Bins
from envelope.slo.objectives import Verdicts, verdicts
from envelope.slo.observation import Observation
from envelope.slo.window import Window
from tests.slo.scenario import obs

GOOD = verdicts(True, True, None)
SLOW = verdicts(True, False, None)
FAILED = verdicts(False, True, None)


def window(**kw: float) -> Window:
    args = {"bucket_s": 1.0, "horizon_s": 60.0, "quantile_horizon_s": 30.0, **kw}
    return Window(Bins(), **args)


def record(w: Window, o: Observation, verdict: Verdicts = GOOD) -> None:
    ttft = None if o.ttft_s is None else w.bins.index(o.ttft_s)
    w.record(w.bucket(o.ts), o, verdict, w.bins.index(o.latency_s), ttft)


def test_bins_cover_1ms_to_120s_at_5_percent() -> None:
    bins = Bins()
    assert bins.resolution < 0.05
    assert bins.high >= 120.0
    assert bins.index(0.0005) == 0 and bins.representative(0) == bins.low
    assert bins.index(500.0) == bins.size - 1 and bins.representative(bins.size - 1) == bins.high
    for value in (0.001, 0.0123, 0.5, 1.0, 7.7, 119.0):
        assert abs(bins.representative(bins.index(value)) / value - 1) <= bins.resolution + 1e-12


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_quantiles_match_numpy_within_the_bin_resolution(seed: int) -> None:
    rng = np.random.default_rng(seed)
    latencies = rng.lognormal(mean=-1.5, sigma=1.2, size=20_000).clip(0.001, 119.0)
    ttfts = rng.uniform(0.01, 2.0, size=20_000)
    w = window()
    # spread over 25 s, so sealed buckets and the open one are merged
    for i, (latency, ttft) in enumerate(zip(latencies, ttfts, strict=True)):
        record(w, obs(1000.0 + i * 25.0 / len(latencies), float(latency), ttft_s=float(ttft)))
    now = 1025.0
    tolerance = w.bins.resolution + 1e-9
    for q in (0.5, 0.95, 0.99):
        expected = float(np.quantile(latencies, q, method="inverted_cdf"))
        got = w.quantile(q, 30.0, now)
        assert got is not None
        assert abs(got / expected - 1) <= tolerance, (q, got, expected)
        expected_ttft = float(np.quantile(ttfts, q, method="inverted_cdf"))
        got_ttft = w.quantile(q, 30.0, now, ttft=True)
        assert got_ttft is not None and abs(got_ttft / expected_ttft - 1) <= tolerance


def test_quantile_of_nothing_is_none() -> None:
    w = window()
    assert w.quantile(0.95, 30.0, 100.0) is None
    assert w.totals(30.0, 100.0).requests == 0


def test_old_buckets_leave_the_window() -> None:
    w = window()
    for t in range(100, 110):  # one request per second, 100..109; the last one slow
        record(w, obs(t + 0.5, 0.05 if t < 109 else 5.0), SLOW if t == 109 else GOOD)
    assert w.totals(5.0, 109.9).requests == 5  # buckets 105..109
    assert w.totals(60.0, 109.9).requests == 10
    assert w.totals(60.0, 109.9).slow == 1
    assert w.quantile(1.0, 1.0, 109.9) == pytest.approx(5.0, rel=0.05)
    assert w.quantile(1.0, 5.0, 108.9) == pytest.approx(0.05, rel=0.05)  # the slow one is not there yet
    assert w.totals(60.0, 200.0).requests == 0  # all expired
    assert w.quantile(0.5, 30.0, 200.0) is None


def test_the_ring_reuses_slots_without_mixing_generations() -> None:
    w = window(horizon_s=10.0, quantile_horizon_s=10.0)  # 11 slots
    record(w, obs(0.5))
    record(w, obs(11.5))  # same slot as bucket 0
    record(w, obs(22.5))  # same slot again; bucket 11 sealed
    assert w.totals(10.0, 22.9).requests == 1
    assert w.totals(10.0, 12.0).requests == 1  # bucket 11 only: bucket 0 was overwritten


def test_a_late_observation_counts_in_the_open_bucket() -> None:
    w = window()
    record(w, obs(50.2))
    record(w, obs(48.7))  # finished out of order
    assert w.totals(1.0, 50.5).requests == 2


def test_counts_per_objective_and_rates() -> None:
    w = window()
    record(w, obs(10.0, cost_usd=0.5, cache_hit=True, attempts=0))
    record(w, obs(10.1, status=502, attempts=3), FAILED)
    record(w, obs(10.2, 2.0, fallback=True, attempts=2), SLOW)
    record(w, obs(10.3, status=429, cost_usd=0.25), verdicts(None, None, None))
    totals = w.totals(10.0, 10.5)
    assert totals.requests == 4
    assert totals.counted == 3
    assert totals.bad == 1
    assert totals.latency_events == 3 and totals.slow == 1
    assert totals.fraction_bad("availability") == pytest.approx(1 / 3)
    assert totals.fraction_bad("latency") == pytest.approx(1 / 3)
    assert totals.fraction_bad("ttft") is None
    assert totals.cost_usd == pytest.approx(0.75)
    assert totals.cache_hits == 1 and totals.fallbacks == 1
    assert totals.attempts == 5 and totals.upstream == 2


def test_long_windows_read_the_coarse_ring() -> None:
    w = window(horizon_s=60.0, coarse_bucket_s=10.0, coarse_horizon_s=3600.0)
    for t in range(0, 1000, 2):  # one request every 2 s for 1000 s
        record(w, obs(float(t)), SLOW if t < 500 else GOOD)
    assert w.horizon_s == 3600.0
    everything = w.totals(3600.0, 999.0)
    assert everything.requests == 500
    assert everything.slow == 250
    # 600 s in 10 s buckets: buckets 40..99, i.e. t in [400, 1000)
    recent = w.totals(600.0, 999.0)
    assert recent.requests == 300
    assert recent.slow == 50
    # the fine ring for the short windows
    assert w.totals(10.0, 999.0).requests == 5
    with pytest.raises(ValueError):
        w.totals(3601.0, 999.0)
    with pytest.raises(ValueError):
        w.quantile(0.5, 31.0, 999.0)


def test_window_without_a_coarse_ring_refuses_long_windows() -> None:
    w = window()
    with pytest.raises(ValueError):
        w.totals(61.0, 0.0)


def test_bucket_numbers_are_stable_at_edges() -> None:
    w = window(bucket_s=0.1, horizon_s=6.0, quantile_horizon_s=6.0)
    for i in range(30):
        record(w, obs(round(i * 0.1, 10)))
    assert w.totals(3.0, 2.95).requests == 30
    assert math.isclose(w.totals(0.1, 2.95).requests, 1)
