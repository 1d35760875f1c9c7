"""Limit utilisation from ledger minute totals, and the refusal counter's samples."""

from __future__ import annotations

import pytest

from envelope.config.documents import LimitsDoc, RouteDoc, TenantDoc, TierCapacity
from envelope.dashboard.limits import rejections, use, utilisation
from tests.dashboard.lines import line


def test_use_per_kind_of_limit() -> None:
    minute = line("acme", "chat", "M", requests=30, ms=2000, input_tokens=400, output_tokens=200)
    assert use(minute, "rpm") == 30 and use(minute, "tpm") == 600
    assert use(minute, "concurrency") == pytest.approx(1.0)  # 60 s of latency in 60 s: one in flight
    assert use(minute, "rpm", seconds=30) == 60


def test_every_configured_limit_against_its_busiest_minute() -> None:
    minutes = [
        line("acme", "chat", "M", bucket=0, requests=10, ms=600),
        line("acme", "docs", "S", bucket=0, requests=5),
        line("acme", "chat", "M", bucket=60, requests=40, ms=300, input_tokens=900, output_tokens=100),
        line("beta", "chat", "M", bucket=60, requests=2),
    ]
    last = [line("acme", "chat", "M", requests=4)]
    found = utilisation(
        tenants=[TenantDoc(name="acme", limits=LimitsDoc(rpm=50, tpm=2000)), TenantDoc(name="beta")],
        routes=[RouteDoc(name="chat", limits=LimitsDoc(concurrency=4))],
        capacity={"M": TierCapacity(concurrency=8)},
        minutes=minutes,
        last_minute=last,
    )
    got = {(u.scope, u.name, u.limit): (u.peak, u.current, u.value) for u in found}
    assert got[("tenant", "acme", "rpm")] == (40, 4, 50)  # beta's requests are not acme's
    assert got[("tenant", "acme", "tpm")] == (1000, 0, 2000)
    chat = next(u for u in found if u.scope == "route")
    assert chat.peak == pytest.approx((40 * 0.3 + 2 * 0.1) / 60) and chat.current == pytest.approx(0.4 / 60)
    assert ("tier", "M", "concurrency") in got and ("tenant", "beta", "rpm") not in got
    assert [u.share for u in found] == sorted((u.share for u in found), reverse=True)
    assert found[0].limit == "rpm" and found[0].share == pytest.approx(0.8)


def test_refusals_most_first_without_zeros() -> None:
    samples = [
        ({"route": "chat", "tenant": "acme", "limit": "tenant rpm"}, 2.0),
        ({"route": "chat", "tenant": "beta", "limit": "tier M capacity"}, 7.0),
        ({"route": "docs", "tenant": "acme", "limit": "key rpm"}, 0.0),
    ]
    assert [(r.tenant, r.limit, r.count) for r in rejections(samples)] == [
        ("beta", "tier M capacity", 7),
        ("acme", "tenant rpm", 2),
    ]
