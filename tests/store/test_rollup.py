"""`LedgerStore.rollup` over every store adapter: sums per group and time bucket, latency bins."""

from __future__ import annotations

import msgspec
import pytest

from envelope.ledger.rollup import LATENCY_BOUNDS_MS, latency_bin
from envelope.store.ports import Store
from tests.store.test_contract import record, store  # noqa: F401 (the fixture)

T0 = 1_700_000_000.0  # a multiple of 100 s


async def test_rollup_sums_per_group_and_bucket(store: Store) -> None:  # noqa: F811
    rows = [
        msgspec.structs.replace(record("1", ts=T0 + 10, cost=0.002), latency_ms=3.0, tier="S"),
        msgspec.structs.replace(record("2", ts=T0 + 99.9, cost=0.001), latency_ms=40.0, tier="L"),
        msgspec.structs.replace(record("3", ts=T0 + 100, status=502, cost=0.0), latency_ms=600.0),
        record("4", tenant="beta", ts=T0 + 150, cost=0.004),
        record("late", ts=T0 + 1000),
    ]
    await store.append(rows)
    lines = await store.rollup(["tenant"], since=T0, until=T0 + 1000, bucket_s=100)
    assert [(t.bucket, t.group, t.requests, t.errors) for t in lines] == [
        (T0, ("acme",), 2, 0),
        (T0 + 100, ("acme",), 1, 1),
        (T0 + 100, ("beta",), 1, 0),
    ]
    first = lines[0]
    assert first.cost_usd == pytest.approx(0.003)
    assert first.input_tokens == 20 and first.output_tokens == 10
    assert first.latency_ms == pytest.approx(43.0) and first.upstream_ms == pytest.approx(20.0)
    assert first.latency_bins[latency_bin(3.0)] == 1 and first.latency_bins[latency_bin(40.0)] == 1
    assert sum(first.latency_bins) == 2


async def test_rollup_without_buckets_filters_and_groups_by_several_dimensions(store: Store) -> None:  # noqa: F811
    await store.append([
        msgspec.structs.replace(record("1", ts=T0), tier="S", cache="exact"),
        msgspec.structs.replace(record("2", ts=T0), tier="S", cache="miss"),
        msgspec.structs.replace(record("3", ts=T0, route="other"), tier="L", cache="miss"),
        msgspec.structs.replace(record("4", ts=T0, tenant="beta"), tier="M", cache="miss", feature="chat"),
    ])  # fmt: skip
    lines = await store.rollup(["tier", "cache"], where={"tenant": "acme"})
    assert [(t.group, t.requests, t.bucket) for t in lines] == [
        (("L", "miss"), 1, None),
        (("S", "exact"), 1, None),
        (("S", "miss"), 1, None),
    ]
    (total,) = await store.rollup()
    assert total.group == () and total.requests == 4
    by_feature = await store.rollup(["feature"])
    assert {t.group for t in by_feature} == {(None,), ("chat",)}


async def test_percentiles_read_from_the_bins(store: Store) -> None:  # noqa: F811
    await store.append(
        [msgspec.structs.replace(record(str(i), ts=T0), latency_ms=float(i % 100) + 0.5) for i in range(1000)]
    )
    (total,) = await store.rollup()
    p50 = total.percentile(0.5)
    p99 = total.percentile(0.99)
    assert p50 is not None and p99 is not None
    assert 25 <= p50 <= 100  # true p50 ≈ 50, inside the (25, 50] or (50, 100] bin
    assert LATENCY_BOUNDS_MS[3] <= p99 <= LATENCY_BOUNDS_MS[4]  # true p99 ≈ 99: the (50, 100] bin
    assert total.percentile(0.0) is not None
