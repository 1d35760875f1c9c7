"""Dashboard windows: their buckets line up with the store's, and unknown names are a 400."""

from __future__ import annotations

import pytest

from envelope.dashboard.window import WINDOWS, window_named
from envelope.errors import InvalidRequest


def test_buckets_are_aligned_and_end_with_the_one_holding_now() -> None:
    hour = window_named("1h")
    now = 1_700_000_123.4
    starts = hour.starts(now)
    assert len(starts) == 60 and all(s % 60 == 0 for s in starts)
    assert starts[-1] <= now < starts[-1] + 60 and starts[1] - starts[0] == 60
    assert hour.since(now) == starts[0] == starts[-1] - 59 * 60


@pytest.mark.parametrize(("name", "count"), [("15m", 60), ("1h", 60), ("6h", 72), ("24h", 96), ("7d", 168)])
def test_every_window_has_a_readable_number_of_buckets(name: str, count: int) -> None:
    assert WINDOWS[name].count == count


def test_the_default_and_an_unknown_window() -> None:
    assert window_named(None).name == "1h"
    with pytest.raises(InvalidRequest) as refused:
        window_named("2d")
    assert refused.value.param == "window" and refused.value.status == 400 and "7d" in refused.value.message
