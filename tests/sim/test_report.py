"""The report: percentiles, utilisation, queue lengths and cost from a run."""

from __future__ import annotations

import pytest

from envelope.config.documents import Prices
from envelope.sim.engine import simulate
from envelope.sim.fleet import Fleet, Pool, Profile
from envelope.sim.plan import Plan
from envelope.sim.report import max_overlap, quantile, summarise
from envelope.sim.trace import Arrival

PROFILE = Profile(prefill_tokens_per_s=1000.0, decode_base_ms=10.0, max_batch=1, kv_cache_tokens=100_000)
FLEET = Fleet(profiles={"p": PROFILE}, tiers={"S": Pool(profile="p"), "M": Pool(profile="p", replicas=2)})
PRICES = {"S": Prices(input_per_1m=1.0, output_per_1m=2.0), "M": Prices(input_per_1m=10.0, output_per_1m=30.0)}


def test_quantiles_interpolate_like_numpy() -> None:
    assert quantile([], 0.5) is None
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert quantile([10.0], 0.95) == 10.0
    assert quantile([float(i) for i in range(101)], 0.95) == pytest.approx(95.0)


def test_max_overlap_counts_open_intervals() -> None:
    assert max_overlap([], []) == 0
    assert max_overlap([0, 1, 2], [3, 1.5, 4]) == 2
    assert max_overlap([0, 1], [1, 2]) == 1  # one leaves as the next arrives


def test_cost_is_prices_times_tokens_and_utilisation_is_busy_over_capacity() -> None:
    rows = [
        Arrival(ts=0.0, input_tokens=100, output_tokens=10, route="a"),
        Arrival(ts=0.0, input_tokens=200, output_tokens=20, route="b"),
        Arrival(ts=0.0, input_tokens=50, output_tokens=5, route="a"),
        Arrival(ts=0.0, input_tokens=1, output_tokens=1, route="b"),
    ]
    plans = [
        Plan(t=0.0, input_tokens=100, output_tokens=10, tiers=("S",)),
        Plan(t=0.0, input_tokens=200, output_tokens=20, tiers=("M",)),
        Plan(t=0.0, input_tokens=50, output_tokens=5, tiers=("S",)),  # waits for the first
        Plan(t=0.0, input_tokens=1, output_tokens=1, tiers=("S",), cached=True),
    ]
    report = summarise(simulate(FLEET, plans), rows, PRICES)
    s_cost = (150 * 1.0 + 15 * 2.0) / 1e6
    m_cost = (200 * 10.0 + 20 * 30.0) / 1e6
    assert report.overall.cost_usd == pytest.approx(s_cost + m_cost)
    assert report.cost_per_1k_requests == pytest.approx(1000 * (s_cost + m_cost) / 4)
    by_route = {g.name: g for g in report.routes}
    assert by_route["a"].cost_usd == pytest.approx(s_cost) and by_route["b"].cached == 1
    tiers = {t.tier: t for t in report.tiers}
    # S: 0.1 s prefill + 0.1 s decode, then 0.05 + 0.05: busy 0.3 s; M: 0.2 + 0.2 on one of two replicas
    assert report.duration_s == pytest.approx(0.4)
    assert tiers["S"].utilisation == pytest.approx(0.3 / 0.4)
    assert tiers["M"].utilisation == pytest.approx(0.4 / (2 * 0.4))
    assert tiers["S"].max_queue == 1 and tiers["S"].mean_queue == pytest.approx(0.2 / 0.4)
    assert tiers["S"].wait_ms.p95 == pytest.approx(190.0)  # waits of 0 and 200 ms
    assert report.overall.latency_ms.p50 is not None and report.overall.ttft_ms.p99 is not None
    assert report.to_dict()["tiers"][0]["tier"] == "S"
