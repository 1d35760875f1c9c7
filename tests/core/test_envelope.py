from __future__ import annotations

import pytest

from envelope.config.documents import LatencyTargets, Prices, RouteDoc
from envelope.core.envelope import Overrides, bind, fit_messages, parse_overrides, plan_output
from envelope.errors import BudgetExceeded, InvalidRequest

ROUTE = RouteDoc(
    name="r",
    latency=LatencyTargets(timeout_ms=10_000, p95_ms=800),
    max_input_tokens=1000,
    max_output_tokens=500,
    cost_ceiling_usd=0.01,
)
PRICES = Prices(input_per_1m=1.0, output_per_1m=10.0)


def test_headers_tighten_but_never_loosen() -> None:
    tight = bind(ROUTE, Overrides(latency_budget_ms=500, cost_budget_usd=0.001, mode="fast"))
    assert (tight.deadline_ms, tight.cost_ceiling_usd, tight.mode) == (500, 0.001, "fast")
    loose = bind(ROUTE, Overrides(latency_budget_ms=99_999, cost_budget_usd=5.0))
    assert (loose.deadline_ms, loose.cost_ceiling_usd, loose.mode) == (10_000, 0.01, "balanced")


def test_cost_header_sets_a_ceiling_where_the_route_has_none() -> None:
    route = RouteDoc(name="open")
    assert bind(route, Overrides()).cost_ceiling_usd is None
    assert bind(route, Overrides(cost_budget_usd=0.5)).cost_ceiling_usd == 0.5


@pytest.mark.parametrize(
    ("latency", "cost", "mode"),
    [
        ("abc", None, None),
        ("-5", None, None),
        ("nan", None, None),
        ("0", None, None),
        (None, "x", None),
        (None, None, "turbo"),
    ],
)
def test_malformed_headers_are_client_errors(latency: str | None, cost: str | None, mode: str | None) -> None:
    with pytest.raises(InvalidRequest):
        parse_overrides(latency, cost, mode)


def test_parse_overrides_reads_values() -> None:
    assert parse_overrides("250", "0.002", "precise") == Overrides(250.0, 0.002, "precise")
    assert parse_overrides(None, None, None) == Overrides()


def test_fit_messages_drops_oldest_unpinned_first_and_keeps_last() -> None:
    counts = [50, 300, 300, 300, 100]
    pinned = [True, False, False, False, False]
    assert fit_messages(counts, pinned, overhead=3, cap=500) == [0, 3, 4]
    assert fit_messages(counts, pinned, overhead=3, cap=2000) == [0, 1, 2, 3, 4]
    assert fit_messages(counts, pinned, overhead=3, cap=100) is None


def test_plan_output_defaults_to_route_cap_and_caps_requests() -> None:
    env = bind(RouteDoc(name="r", max_output_tokens=500), Overrides())
    plan = plan_output(env, requested=None, input_tokens=10, context_window=8192, prices=PRICES)
    assert plan.max_tokens == 500 and plan.degradations == ()
    plan = plan_output(env, requested=2000, input_tokens=10, context_window=8192, prices=PRICES)
    assert plan.max_tokens == 500 and plan.degradations == ("max_tokens_capped",)
    plan = plan_output(env, requested=100, input_tokens=10, context_window=8192, prices=PRICES)
    assert plan.max_tokens == 100 and plan.degradations == ()


def test_plan_output_respects_context_window() -> None:
    env = bind(RouteDoc(name="r", max_output_tokens=500), Overrides())
    assert plan_output(env, requested=None, input_tokens=1900, context_window=2048, prices=PRICES).max_tokens == 148
    with pytest.raises(BudgetExceeded) as err:
        plan_output(env, requested=None, input_tokens=2048, context_window=2048, prices=PRICES)
    assert err.value.code == "context_length_exceeded"


def test_cost_ceiling_shrinks_output_then_refuses() -> None:
    env = bind(ROUTE, Overrides(cost_budget_usd=0.002))
    # 100 input tokens cost $0.0001; $0.0019 left buys 190 output tokens at $10/1M
    plan = plan_output(env, requested=None, input_tokens=100, context_window=8192, prices=PRICES)
    assert plan.max_tokens == 190
    assert plan.degradations == ("max_tokens_capped_by_cost",)
    assert plan.worst_case_usd <= 0.002 + 1e-12
    tiny = bind(ROUTE, Overrides(cost_budget_usd=0.0001))
    with pytest.raises(BudgetExceeded) as err:
        plan_output(tiny, requested=None, input_tokens=100, context_window=8192, prices=PRICES)
    assert err.value.code == "cost_ceiling_exceeded"


@pytest.mark.parametrize("bad", [0, -1, 10**9])
def test_absurd_max_tokens_is_rejected(bad: int) -> None:
    env = bind(ROUTE, Overrides())
    with pytest.raises(InvalidRequest):
        plan_output(env, requested=bad, input_tokens=1, context_window=8192, prices=PRICES)
