"""Report periods: months, days, ISO times, and the share of months a span covers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from envelope.cost.period import PeriodError, Span, month_fraction, parse_instant, parse_period, span_of


def ts(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


def test_a_month_and_a_day() -> None:
    assert parse_period("2026-11") == Span(ts(2026, 11, 1), ts(2026, 12, 1))
    assert parse_period("2026-12") == Span(ts(2026, 12, 1), ts(2027, 1, 1))
    assert parse_period("2028-02-29") == Span(ts(2028, 2, 29), ts(2028, 3, 1))


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-02-30", "november", "2026/11", ""])
def test_bad_periods_say_what_is_accepted(text: str) -> None:
    with pytest.raises(PeriodError, match="bad period"):
        parse_period(text)


def test_instants_are_utc_unless_zoned() -> None:
    assert parse_instant("2026-11-05") == ts(2026, 11, 5)
    assert parse_instant("2026-11-05T12:30") == ts(2026, 11, 5, 12, 30)
    assert parse_instant("2026-11-05T12:30+02:00") == ts(2026, 11, 5, 10, 30)
    with pytest.raises(PeriodError, match="ISO 8601"):
        parse_instant("yesterday")


def test_span_defaults_to_the_month_so_far() -> None:
    now = ts(2026, 11, 20, 6)
    assert span_of(period=None, since=None, until=None, now=now) == Span(ts(2026, 11, 1), now)
    assert span_of(period=None, since="2026-11-10", until="2026-11-12", now=now) == Span(
        ts(2026, 11, 10), ts(2026, 11, 12)
    )
    november = span_of(period=None, since=None, until="2026-12-01", now=now)  # a month's end names that month
    assert november == Span(ts(2026, 11, 1), ts(2026, 12, 1))
    with pytest.raises(PeriodError, match="not both"):
        span_of(period="2026-11", since="2026-11-10", until=None, now=now)
    with pytest.raises(PeriodError, match="empty"):
        span_of(period=None, since="2026-11-12", until="2026-11-10", now=now)


def test_month_fraction_is_exact_for_whole_months_and_pro_rata_otherwise() -> None:
    assert month_fraction(parse_period("2026-11")) == 1
    assert month_fraction(parse_period("2026-02")) == 1
    assert month_fraction(Span(ts(2026, 11, 1), ts(2027, 1, 1))) == 2
    assert month_fraction(Span(ts(2026, 11, 1), ts(2026, 11, 16))) == Decimal(1) / 2
    # half of November and half of December, each relative to its own length
    assert month_fraction(Span(ts(2026, 11, 16), ts(2026, 12, 16, 12))) == Decimal(1) / 2 + Decimal(1) / 2
