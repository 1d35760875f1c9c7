"""Figures and time series over ledger totals."""

from __future__ import annotations

import pytest

from envelope.dashboard.figures import Figures, error_rate, percentile_ms, requests, time_series
from envelope.ledger.rollup import Totals, by_group
from tests.dashboard.lines import line


def test_a_series_has_a_value_per_bucket_summing_groups() -> None:
    buckets = [
        line("acme", bucket=60.0, requests=2, ms=40.0, errors=1),
        line("beta", bucket=60.0, requests=2, ms=40.0),
        line("acme", bucket=180.0, requests=1, ms=900.0),
    ]
    found = time_series([0.0, 60.0, 120.0, 180.0], 60, buckets, {"n": requests, "errors": error_rate})
    assert found.t == [0.0, 60.0, 120.0, 180.0] and found.step_s == 60
    assert found.get("n").values == [0.0, 4.0, 0.0, 1.0]
    assert found.get("errors").values == [None, 0.25, None, 0.0]  # no rate without requests
    p95 = time_series([60.0, 120.0], 60, buckets, {"p95": percentile_ms(0.95)}).get("p95").values
    assert p95[1] is None and p95[0] is not None and 25 < p95[0] <= 50  # within the 25-50 ms bin


def test_figures_of_no_requests_have_no_rates() -> None:
    empty = Figures.of(Totals())
    assert empty.requests == 0 and empty.error_rate is None and empty.p95_ms is None and empty.mean_ms is None
    some = Figures.of(line("x", requests=4, ms=120.0, errors=1, cost_usd=0.5, input_tokens=10))
    assert some.error_rate == 0.25 and some.mean_ms == pytest.approx(120.0) and some.cost_usd == 0.5
    assert some.p50_ms is not None and 100 < some.p50_ms <= 200


def test_lines_are_summed_by_one_group_value() -> None:
    grouped = by_group([line("a", "m1"), line("a", "m2", requests=2), line(None, "m1")], 0)
    assert {k: v.requests for k, v in grouped.items()} == {"a": 3, "-": 1}
    assert by_group([line("a", "m1"), line("b", "m1")], 1)["m1"].requests == 2
