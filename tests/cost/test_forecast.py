"""Budget forecasts over synthetic spend series: flat, growing, zero, already over."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from envelope.config.documents import BudgetDoc
from envelope.cost.forecast import Method, RunRate, forecast, method_for, run_rate

DAY = 86400.0


def ts(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


NOW = ts(2026, 11, 15)  # day 15 of a 30-day month: 14 days done, 16 to go
MONTHLY = BudgetDoc(period="monthly", hard_usd=250.0, soft_usd=200.0)


def daily(costs: list[float], *, end: float = NOW) -> list[tuple[float, float]]:
    """Daily buckets ending at `end`, oldest first."""
    return [(end - (len(costs) - i) * DAY, cost) for i, cost in enumerate(costs)]


def test_method_follows_the_budget_period() -> None:
    assert method_for(3600).bucket_s == 300
    assert method_for(DAY).bucket_s == 3600
    assert method_for(30 * DAY).bucket_s == DAY


def test_flat_spend_projects_the_same_rate_to_the_period_end() -> None:
    points = daily([10.0] * 14)
    f = forecast(MONTHLY, spent=140.0, points=points, now=NOW)
    assert f.per_day == pytest.approx(10.0)
    assert f.rate.slope == pytest.approx(0.0, abs=1e-12)
    assert f.projected_usd == pytest.approx(140.0 + 16 * 10.0)
    assert f.exhausted_at == pytest.approx(NOW + 11 * DAY)  # 140 + 10 × 11 = 250
    assert f.soft_at == pytest.approx(NOW + 6 * DAY)
    assert f.status == "at_risk"
    roomy = forecast(BudgetDoc(period="monthly", hard_usd=1000.0), spent=140.0, points=points, now=NOW)
    assert roomy.status == "ok" and roomy.exhausted_at is None


def test_growing_spend_is_extrapolated_along_its_trend() -> None:
    points = daily([float(d) for d in range(1, 15)])  # 1, 2, ..., 14 USD a day
    f = forecast(MONTHLY, spent=105.0, points=points, now=NOW)
    # a perfect line: at now (half a day past the last bucket's middle) 14.5 USD/day, +1 USD/day each day
    assert f.per_day == pytest.approx(14.5)
    assert f.rate.slope * DAY * DAY == pytest.approx(1.0)
    assert f.projected_usd == pytest.approx(105.0 + 14.5 * 16 + 16**2 / 2)
    flat = forecast(MONTHLY, spent=105.0, points=daily([14.5] * 14), now=NOW)
    assert f.projected_usd > flat.projected_usd
    assert f.status == "at_risk"
    # 105 + 14.5 t + t²/2 = 250 → t = -14.5 + sqrt(14.5² + 290)
    assert f.exhausted_at == pytest.approx(NOW + (-14.5 + (14.5**2 + 290) ** 0.5) * DAY, abs=1.0)


def test_zero_spend_projects_nothing() -> None:
    f = forecast(MONTHLY, spent=0.0, points=[], now=NOW)
    assert (f.per_day, f.projected_usd, f.exhausted_at, f.status) == (0.0, 0.0, None, "ok")
    quiet = forecast(MONTHLY, spent=0.0, points=daily([0.0] * 14), now=NOW)
    assert (quiet.projected_usd, quiet.status) == (0.0, "ok")


def test_already_over_is_over() -> None:
    f = forecast(MONTHLY, spent=260.0, points=daily([20.0] * 14), now=NOW)
    assert f.status == "over"
    assert f.exhausted_at is None  # reached already, not in the future
    assert f.projected_usd == pytest.approx(260.0 + 16 * 20.0)


def test_soft_limit_alone_sets_the_status() -> None:
    f = forecast(BudgetDoc(period="monthly", soft_usd=150.0), spent=140.0, points=daily([10.0] * 14), now=NOW)
    assert f.status == "at_risk" and f.soft_at == pytest.approx(NOW + DAY) and f.exhausted_at is None


def test_spend_before_the_window_is_history_not_a_pace() -> None:
    f = forecast(MONTHLY, spent=70.0, points=[], now=NOW)  # spent early in the month, quiet for 14 days
    assert (f.per_day, f.projected_usd, f.status) == (0.0, 70.0, "ok")


def test_recent_buckets_weigh_more() -> None:
    costs = [1.0] * 7 + [10.0] * 7
    method = Method(bucket_s=DAY, lookback=14, half_life=3.0, min_trend=99)  # no trend: a weighted mean
    per_day = run_rate(daily(costs), now=NOW, method=method).level * DAY
    assert 5.5 < per_day < 10.0  # above the plain mean
    weights = [0.5 ** ((len(costs) - 1 - i) / 3.0) for i in range(len(costs))]  # halving every 3 days back
    assert per_day == pytest.approx(sum(w * c for w, c in zip(weights, costs, strict=True)) / sum(weights))


def test_buckets_before_the_first_spend_are_unknown_not_zero() -> None:
    method = method_for(30 * DAY)
    rate = run_rate(daily([5.0, 5.0, 5.0]), now=NOW, method=method)  # a ledger three days old
    assert rate.buckets == 3 and rate.level * DAY == pytest.approx(5.0)


def test_the_bucket_in_progress_counts_for_what_has_passed() -> None:
    now = NOW + 6 * 3600  # a quarter into today
    points = [*daily([10.0] * 14), (NOW, 10.0)]  # today: 10 USD in 6 hours, a faster pace
    rate = run_rate(points, now=now, method=Method(bucket_s=DAY, lookback=14, half_life=3.0, min_trend=99))
    steady = run_rate(daily([10.0] * 14), now=now, method=Method(bucket_s=DAY, lookback=14, half_life=3.0))
    assert rate.buckets == 15 and rate.level > steady.level


def test_an_idle_tenant_falls_towards_zero_and_never_spends_negative() -> None:
    f = forecast(MONTHLY, spent=100.0, points=daily([20.0] * 5 + [0.0] * 9), now=NOW)
    assert f.projected_usd >= 100.0
    assert f.exhausted_at is None and f.status == "ok"


@pytest.mark.parametrize(
    ("level", "slope", "seconds", "spent"),
    [
        (2.0, 0.0, 10.0, 20.0),
        (2.0, 1.0, 10.0, 70.0),  # 20 + 50
        (2.0, -1.0, 10.0, 2.0),  # the rate reaches zero after 2 s: 2 × 2 / 2
        (-2.0, 1.0, 10.0, 32.0),  # zero until 2 s, then (10 - 2)² / 2
        (-2.0, 0.0, 10.0, 0.0),
        (-2.0, -1.0, 10.0, 0.0),
        (5.0, 1.0, 0.0, 0.0),
    ],
)
def test_spend_integrates_the_rate_clipped_at_zero(level: float, slope: float, seconds: float, spent: float) -> None:
    assert RunRate(level, slope, 1).spend(seconds) == pytest.approx(spent)


def test_time_to_reach_an_amount() -> None:
    rate = RunRate(2.0, 0.0, 1)
    assert rate.time_to(10.0, horizon=100.0) == pytest.approx(5.0)
    assert rate.time_to(1000.0, horizon=100.0) is None
    assert rate.time_to(0.0, horizon=100.0) == 0.0
