"""Spend forecasts against a tenant's budget. Pure: bucket totals and the clock in.

The run-rate is a weighted least-squares line through the spend rate (USD/s) of the
recent time buckets, each weighted by recency (halving every `half_life` buckets):
its value now is the rate, its slope the trend. The bucket size follows the budget
period (`method_for`): 5-minute buckets over the last 2 hours for hourly budgets,
hourly buckets over the last 2 days for daily ones, daily buckets over the last 14
days for weekly and monthly ones (a daily bucket holds a whole working day, so the
time of day does not sway the rate). The bucket in progress counts with its rate so
far, its weight scaled by how much of it has passed. Buckets before the first one with
any spend are not known to be quiet (the ledger may be younger), so they are left out;
later empty buckets count as zero. With fewer than `min_trend` buckets the line is
flat (a weighted mean); with no spend in the window the rate is zero (the window
reaches back past the start of any daily or hourly period, so whatever was spent
before it is history, not a pace).

The projection integrates the line from now to the period's end, never letting the
rate fall below zero; the budget is exhausted where the spent amount plus that
integral reaches `hard_usd`. Status: `over` (spent ≥ the hard limit, or the soft one
when there is no hard one), `at_risk` (projected to reach it by the period's end),
else `ok`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from envelope.config.documents import BudgetDoc
from envelope.core.admission import period_bounds

Status = Literal["ok", "at_risk", "over"]


@dataclass(frozen=True, slots=True)
class Method:
    """How the run-rate is read: bucket size (s), buckets looked back, recency half-life
    (buckets), and the buckets needed before a trend is fitted."""

    bucket_s: float
    lookback: int
    half_life: float
    min_trend: int = 4

    def window_start(self, now: float) -> float:
        """Start of the oldest bucket read (buckets are aligned to the epoch, as the store's are)."""
        return (now // self.bucket_s) * self.bucket_s - self.lookback * self.bucket_s


def method_for(period_s: float) -> Method:
    if period_s <= 2 * 3600:
        return Method(bucket_s=300.0, lookback=24, half_life=6.0)
    if period_s <= 2 * 86400:
        return Method(bucket_s=3600.0, lookback=48, half_life=12.0)
    return Method(bucket_s=86400.0, lookback=14, half_life=3.0)


@dataclass(frozen=True, slots=True)
class RunRate:
    """Spend rate now (USD/s) and its trend (USD/s per s), from `buckets` buckets."""

    level: float
    slope: float
    buckets: int

    def spend(self, seconds: float) -> float:
        """What is spent over the next `seconds` at this rate and trend (the rate stops at zero)."""
        if seconds <= 0:
            return 0.0
        a, b = self.level, self.slope
        if b < 0:
            seconds = min(seconds, max(-a / b, 0.0))  # where the line reaches zero
        elif a < 0 < b:
            start = -a / b
            if start >= seconds:
                return 0.0
            return b * (seconds - start) ** 2 / 2
        return max(a * seconds + b * seconds**2 / 2, 0.0)

    def time_to(self, amount: float, horizon: float) -> float | None:
        """Seconds from now until `amount` is spent, if within `horizon`."""
        if amount <= 0:
            return 0.0
        if self.spend(horizon) < amount:
            return None
        low, high = 0.0, horizon
        for _ in range(80):  # the integral only grows: bisect to well under a second
            mid = (low + high) / 2
            if self.spend(mid) >= amount:
                high = mid
            else:
                low = mid
        return high


def run_rate(points: Sequence[tuple[float, float]], *, now: float, method: Method) -> RunRate:
    """The rate line through `points` ((bucket start, cost USD), from `LedgerStore.rollup`)
    within the method's window; zero when no bucket there holds any spend."""
    size = method.bucket_s
    first, current = method.window_start(now), (now // size) * size
    costs = {start: cost for start, cost in points if first <= start <= current}
    spent_in = [start for start, cost in costs.items() if cost > 0]
    if not spent_in:
        return RunRate(0.0, 0.0, 0)
    xs: list[float] = []
    ys: list[float] = []
    ws: list[float] = []
    start = min(spent_in)
    while start <= current:
        length = min(size, now - start)
        if length > 0:
            xs.append(start + length / 2 - now)
            ys.append(costs.get(start, 0.0) / length)
            ws.append(0.5 ** ((now - start - length) / (method.half_life * size)) * (length / size))
        start += size
    return _line(xs, ys, ws, trend=len(xs) >= method.min_trend)


def _line(xs: list[float], ys: list[float], ws: list[float], *, trend: bool) -> RunRate:
    """Weighted least squares of y on x; its value at x = 0 (now) and its slope."""
    total = sum(ws)
    x_mean = sum(w * x for w, x in zip(ws, xs, strict=True)) / total
    y_mean = sum(w * y for w, y in zip(ws, ys, strict=True)) / total
    sxx = sum(w * (x - x_mean) ** 2 for w, x in zip(ws, xs, strict=True))
    if not trend or sxx <= 0:
        return RunRate(y_mean, 0.0, len(xs))
    sxy = sum(w * (x - x_mean) * (y - y_mean) for w, x, y in zip(ws, xs, ys, strict=True))
    slope = sxy / sxx
    return RunRate(y_mean - slope * x_mean, slope, len(xs))


@dataclass(frozen=True, slots=True)
class Forecast:
    period_start: float
    period_end: float
    now: float
    spent_usd: float
    hard_usd: float | None
    soft_usd: float | None
    rate: RunRate
    projected_usd: float  # at the period's end
    exhausted_at: float | None  # when the hard limit is reached, if before the period's end
    soft_at: float | None  # when the soft limit is reached, likewise
    status: Status

    @property
    def per_hour(self) -> float:
        return self.rate.level * 3600

    @property
    def per_day(self) -> float:
        return self.rate.level * 86400


def forecast(budget: BudgetDoc, *, spent: float, points: Sequence[tuple[float, float]], now: float) -> Forecast:
    """The tenant's period so far (`spent`, USD) and recent buckets (`points`), projected."""
    start, end = period_bounds(budget, now)
    rate = run_rate(points, now=now, method=method_for(end - start))
    horizon = end - now
    projected = spent + rate.spend(horizon)
    limit = budget.hard_usd if budget.hard_usd is not None else budget.soft_usd
    status: Status = "ok"
    if limit is not None and spent >= limit:
        status = "over"
    elif limit is not None and projected >= limit:
        status = "at_risk"
    return Forecast(
        period_start=start,
        period_end=end,
        now=now,
        spent_usd=spent,
        hard_usd=budget.hard_usd,
        soft_usd=budget.soft_usd,
        rate=rate,
        projected_usd=projected,
        exhausted_at=_reached(budget.hard_usd, spent, rate, now, horizon),
        soft_at=_reached(budget.soft_usd, spent, rate, now, horizon),
        status=status,
    )


def _reached(limit: float | None, spent: float, rate: RunRate, now: float, horizon: float) -> float | None:
    """When the spend reaches `limit` within the period; None if not (or if it already has)."""
    if limit is None or spent >= limit:
        return None
    seconds = rate.time_to(limit - spent, horizon)
    return None if seconds is None else now + seconds
