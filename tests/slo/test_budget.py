from __future__ import annotations

import pytest

from envelope.slo.budget import budget_consumed_by, budget_remaining, burn_rate


def test_burn_rate_is_the_bad_share_over_the_budget_share() -> None:
    assert burn_rate(1, 1000, 0.999) == pytest.approx(1.0)
    assert burn_rate(144, 10_000, 0.99) == pytest.approx(1.44)
    assert burn_rate(90, 100, 0.95) == pytest.approx(18.0)
    assert burn_rate(0, 100, 0.95) == 0.0
    assert burn_rate(0, 0, 0.95) is None


def test_the_workbook_factors_spend_the_workbook_shares() -> None:
    month = 30 * 86400
    assert budget_consumed_by(14.4, 3600, month) == pytest.approx(0.02)
    assert budget_consumed_by(6, 6 * 3600, month) == pytest.approx(0.05)
    assert budget_consumed_by(1, 3 * 86400, month) == pytest.approx(0.10)


def test_budget_remaining() -> None:
    assert budget_remaining(0, 0, 0.999) == 1.0
    assert budget_remaining(0, 1000, 0.999) == 1.0
    assert budget_remaining(1, 2000, 0.999) == pytest.approx(0.5)
    assert budget_remaining(3, 1000, 0.999) == pytest.approx(-2.0)
