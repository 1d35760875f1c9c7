"""The debugging view: per-stage latency, cache outcomes and hit rates, per-model lines."""

from __future__ import annotations

import pytest

from envelope.dashboard.debugging import ALL, cache_line, debugging, model_line, stage_latency
from envelope.dashboard.window import window_named
from tests.dashboard.lines import line


def test_the_gateway_is_the_rest_of_the_latency_never_below_zero() -> None:
    t = line("chat", requests=2, ms=100, upstream_ms=120.0, classify_ms=10.0, guard_ms=6.0, retrieval_ms=20.0)
    found = stage_latency("chat", t)
    assert (found.upstream_ms, found.classify_ms, found.guard_ms, found.retrieval_ms) == (60, 5, 3, 10)
    assert found.gateway_ms == pytest.approx(22) and found.total_ms == 100
    assert stage_latency("x", line(ms=10, upstream_ms=30.0)).gateway_ms == 0.0  # clocks disagree: no negative stage


def test_hit_rate_counts_lookups_only() -> None:
    lines = [
        line("chat", "m", "exact", requests=3),
        line("chat", "m", "semantic", requests=1),
        line("chat", "m", "miss", requests=4),
        line("chat", "m", "bypass", requests=2),
        line("chat", "m", None, requests=5),
    ]
    found = cache_line("chat", lines)
    assert found.lookups == 8 and found.hits == 4 and found.hit_rate == 0.5
    assert found.outcomes == {"exact": 3, "semantic": 1, "coalesced": 0, "miss": 4, "bypass": 2, "off": 5}
    assert cache_line("docs", [line("docs", "m", "off")]).hit_rate is None


def test_a_model_line() -> None:
    found = model_line(
        "m", line("m", requests=5, input_tokens=800, cached_tokens=300, output_tokens=200, cost_usd=0.5), 20
    )
    assert found.share == 0.25 and found.fresh_input_tokens == 500 and found.usd_per_1k_tokens == pytest.approx(0.5)
    assert model_line("auto", line("auto"), 0).usd_per_1k_tokens is None


def test_the_view() -> None:
    now = 3600.0 * 10
    lines = [
        line("chat", "big", "miss", requests=6, ms=300, upstream_ms=1500.0),
        line("chat", None, "exact", requests=2, ms=3),
        line("docs", "small", "off", requests=2, ms=50, upstream_ms=80.0),
    ]
    buckets = [line("miss", bucket=now - 60, requests=6), line("exact", bucket=now - 60, requests=2)]
    buckets += [line("off", bucket=now, requests=2, input_tokens=40)]
    found = debugging(window=window_named("1h"), now=now, lines=lines, buckets=buckets)
    assert [s.name for s in found.stages] == [ALL, "chat", "docs"] and found.stages[0].requests == 10
    assert [(c.name, c.hits, c.lookups) for c in found.cache] == [(ALL, 2, 8), ("chat", 2, 8), ("docs", 0, 0)]
    assert [m.model for m in found.models] == ["big", "-", "small"]
    hit_rate = found.series.get("hit_rate").values
    assert hit_rate[-2:] == [0.25, None] and hit_rate[0] is None  # only "off" in the last bucket: no lookups
    assert found.series.get("input_tokens").values[-1] == 40
