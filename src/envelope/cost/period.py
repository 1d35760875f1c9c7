"""Report periods: a span of UTC time read from `--period` or `--since/--until`, and the
share of calendar months it covers (monthly minimums are charged pro rata to it)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal


class PeriodError(ValueError):
    """A period or time the user wrote that cannot be read; the message says what is accepted."""


@dataclass(frozen=True, slots=True)
class Span:
    """[since, until) in epoch seconds, UTC."""

    since: float
    until: float

    def label(self) -> str:
        return f"{_iso(self.since)} → {_iso(self.until)}"


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def parse_period(text: str) -> Span:
    """`2026-11` (that calendar month) or `2026-11-05` (that day), UTC."""
    if m := _MONTH.match(text):
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12:
            raise PeriodError(f"bad period {text!r}: month {month} is not 01..12")
        start = datetime(year, month, 1, tzinfo=UTC)
        return Span(start.timestamp(), _next_month(start).timestamp())
    if _DAY.match(text):
        try:
            day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError as exc:
            raise PeriodError(f"bad period {text!r}: {exc}") from exc
        return Span(day.timestamp(), (day + timedelta(days=1)).timestamp())
    raise PeriodError(f"bad period {text!r}: use a month (2026-11) or a day (2026-11-05)")


def parse_instant(text: str) -> float:
    """An ISO 8601 date or date-time (UTC unless it names a zone), as epoch seconds."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise PeriodError(f"bad time {text!r}: use ISO 8601, e.g. 2026-11-05 or 2026-11-05T12:00") from exc
    return (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment).timestamp()


def span_of(*, period: str | None, since: str | None, until: str | None, now: float) -> Span:
    """The span the options ask for: `period`, else `since`..`until` (default: the start of
    the current month .. now)."""
    if period is not None:
        if since is not None or until is not None:
            raise PeriodError("give --period or --since/--until, not both")
        return parse_period(period)
    end = parse_instant(until) if until is not None else now
    # By default the month of the span's last instant: --until 2026-12-01 is November.
    start = parse_instant(since) if since is not None else _month_start(end - 0.001).timestamp()
    if end <= start:
        raise PeriodError(f"the period is empty: {_iso(start)} is not before {_iso(end)}")
    return Span(start, end)


def month_fraction(span: Span) -> Decimal:
    """How many calendar months `span` covers: each month it overlaps counts for the share
    of that month's seconds it holds (November 1-15 is 0.5; a whole month is exactly 1)."""
    total = Decimal(0)
    cursor = _month_start(span.since)
    while cursor.timestamp() < span.until:
        month_end = _next_month(cursor)
        overlap = min(span.until, month_end.timestamp()) - max(span.since, cursor.timestamp())
        if overlap > 0:
            total += Decimal(repr(overlap)) / Decimal(int(month_end.timestamp() - cursor.timestamp()))
        cursor = month_end
    return total


def _month_start(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(start: datetime) -> datetime:
    return start + timedelta(days=calendar.monthrange(start.year, start.month)[1])


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
