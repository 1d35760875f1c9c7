"""flag_on: enabled, the time window (UTC) and the tenants, as one table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from envelope.config.documents import FlagDoc
from envelope.core.flags import flag_on

NOON = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def flag(**fields: object) -> FlagDoc:
    return FlagDoc.model_validate({"name": "f", **fields})


@pytest.mark.parametrize(
    ("fields", "now", "tenant", "on"),
    [
        ({}, NOON, None, True),
        ({}, NOON, "acme", True),
        ({"enabled": False}, NOON, "acme", False),
        ({"activate_at": NOON}, NOON, None, True),  # from activate_at, inclusive
        ({"activate_at": NOON}, NOON - timedelta(microseconds=1), None, False),
        ({"deactivate_at": NOON}, NOON, None, False),  # until deactivate_at, exclusive
        ({"deactivate_at": NOON}, NOON - HOUR, None, True),
        ({"activate_at": NOON - HOUR, "deactivate_at": NOON + HOUR}, NOON, None, True),
        ({"activate_at": NOON - HOUR, "deactivate_at": NOON + HOUR}, NOON + 2 * HOUR, None, False),
        ({"enabled": False, "activate_at": NOON - HOUR}, NOON, None, False),  # off wins over the window
        ({"tenants": ["acme"]}, NOON, "acme", True),
        ({"tenants": ["acme"]}, NOON, "beta", False),
        ({"tenants": ["acme"]}, NOON, None, False),  # names tenants: off without one
        ({"tenants": []}, NOON, "acme", False),
        ({"tenants": ["acme"], "activate_at": NOON + HOUR}, NOON, "acme", False),
        # a time without a zone is UTC; one with a zone is converted
        ({"activate_at": "2030-06-01T12:00:00"}, NOON, None, True),
        ({"activate_at": "2030-06-01T13:00:00+02:00"}, NOON, None, True),  # = 11:00 UTC
        ({"activate_at": "2030-06-01T13:00:00"}, NOON, None, False),
        ({"activate_at": NOON}, datetime(2030, 6, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))), None, True),
    ],
)
def test_flag_on(fields: dict[str, object], now: datetime, tenant: str | None, on: bool) -> None:
    assert flag_on(flag(**fields), now, tenant) is on
