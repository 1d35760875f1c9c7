from __future__ import annotations

import pytest

from envelope.config.documents import Prices
from envelope.core.pricing import affordable_input_tokens, affordable_output_tokens, cost_usd, worst_case_usd

P = Prices(input_per_1m=2.0, output_per_1m=8.0, cached_input_per_1m=0.5)


def test_cost_bills_cached_input_at_the_cached_price() -> None:
    assert cost_usd(P, input_tokens=1000, output_tokens=500) == pytest.approx((1000 * 2 + 500 * 8) / 1e6)
    assert cost_usd(P, input_tokens=1000, output_tokens=0, cached_tokens=400) == pytest.approx(
        (600 * 2 + 400 * 0.5) / 1e6
    )


def test_worst_case_and_affordable_are_inverse() -> None:
    n = affordable_output_tokens(P, input_tokens=1000, ceiling_usd=0.01)
    assert worst_case_usd(P, input_tokens=1000, max_output_tokens=n) <= 0.01
    assert worst_case_usd(P, input_tokens=1000, max_output_tokens=n + 1) > 0.01
    assert affordable_output_tokens(P, input_tokens=10**7, ceiling_usd=0.01) == 0
    assert affordable_output_tokens(Prices(), input_tokens=10, ceiling_usd=0.01) > 10**9


def test_affordable_input_leaves_room_for_the_output() -> None:
    prices = Prices(input_per_1m=10.0, output_per_1m=20.0)
    # 100 output tokens cost 0.002; 0.001 is left for input at 10 per 1M: 100 tokens
    assert affordable_input_tokens(prices, max_output_tokens=100, ceiling_usd=0.003) == 100
    assert affordable_input_tokens(prices, max_output_tokens=200, ceiling_usd=0.003) == 0
    assert affordable_input_tokens(Prices(), max_output_tokens=100, ceiling_usd=0.003) == 2**31 - 1
