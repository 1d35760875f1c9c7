"""The estimator's arithmetic and its sample prompts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from envelope.config.documents import BudgetDoc
from envelope.cost.estimate import PromptPlan, burn, expected_output, ledger_means, outlook
from envelope.cost.samples import SampleError, parse_samples


def plan(cost: float, *, tier: str = "M", model: str = "m", weight: float = 1.0, refused: str | None = None,
         input_tokens: int = 100, output_tokens: int = 50) -> PromptPlan:  # fmt: skip
    return PromptPlan(
        preview="p",
        weight=weight,
        input_tokens=input_tokens,
        tokens_exact=True,
        policy_tier=tier,  # type: ignore[arg-type]
        tier=None if refused else tier,  # type: ignore[arg-type]
        model=None if refused else model,
        max_tokens=output_tokens,
        output_tokens=output_tokens,
        output_source="given",
        cost_usd=cost,
        worst_case_usd=cost,
        refused=refused,
    )


def test_cost_per_day_is_the_mean_cost_times_the_requests() -> None:
    plans = [plan(0.001, tier="S", model="s"), plan(0.003), plan(0.011, tier="L", model="l")]
    b = burn(plans, qps=5)
    assert b.requests_per_day == 432_000
    assert b.cost_per_request == pytest.approx(0.005)
    assert b.cost_per_day == pytest.approx(0.005 * 5 * 86400)
    assert b.cost_per_month == pytest.approx(b.cost_per_day * 30)
    assert b.input_tokens_per_day == pytest.approx(100 * 432_000)
    assert [(m.tier, m.model) for m in b.mix] == [("S", "s"), ("M", "m"), ("L", "l")]
    assert [m.share for m in b.mix] == pytest.approx([1 / 3] * 3)
    assert sum(m.cost_per_day for m in b.mix) == pytest.approx(b.cost_per_day)


def test_weights_cache_hits_and_refusals() -> None:
    plans = [plan(0.002, weight=3), plan(0.0, refused="input_tokens_exceeded")]
    b = burn(plans, qps=1, cache_hit_rate=0.5)
    assert b.refused_share == pytest.approx(0.25)
    assert b.cost_per_request == pytest.approx(0.75 * 0.002)
    assert b.cost_per_day == pytest.approx(86400 * 0.5 * 0.75 * 0.002)
    assert b.upstream_per_day == pytest.approx(86400 * 0.5 * 0.75)
    assert b.output_tokens_per_day == pytest.approx(86400 * 0.5 * 0.75 * 50)
    refused = b.mix[-1]
    assert (refused.model, refused.share, refused.requests_per_day, refused.cost_per_day) == (None, 0.25, 0.0, 0.0)


@pytest.mark.parametrize(("qps", "hits"), [(0.0, 0.0), (-1.0, 0.0), (1.0, 1.0), (1.0, -0.1)])
def test_bad_rates_are_refused(qps: float, hits: float) -> None:
    with pytest.raises(ValueError):
        burn([plan(0.001)], qps=qps, cache_hit_rate=hits)
    with pytest.raises(ValueError, match="no prompts"):
        burn([], qps=1)


def test_expected_output_prefers_what_is_given_and_never_exceeds_the_allowance() -> None:
    assert expected_output(256) == (256, "max_tokens")
    assert expected_output(256, given=100, ledger_mean=50.0) == (100, "given")
    assert expected_output(256, given=1000) == (256, "given")
    assert expected_output(256, ledger_mean=80.4) == (80, "ledger")
    assert ledger_means({"m": (4, 400), "n": (0, 0), None: (4, 400)}) == {"m": 100.0, None: 100.0}


def test_budget_outlook_is_for_the_feature_alone() -> None:
    now = datetime(2026, 11, 10, tzinfo=UTC).timestamp()
    o = outlook(BudgetDoc(period="monthly", hard_usd=300.0, soft_usd=150.0), 20.0, now=now)
    assert o.period_days == 30 and o.cost_per_period == pytest.approx(600.0)
    assert o.share_of_hard == pytest.approx(2.0)
    assert o.days_to_hard == pytest.approx(15.0) and o.days_to_soft == pytest.approx(7.5)
    daily = outlook(BudgetDoc(period="daily", hard_usd=10.0), 0.0, now=now)
    assert daily.period_days == 1 and daily.days_to_hard is None
    assert (o.period, daily.period) == ("monthly", "daily")
    assert outlook(BudgetDoc(period=None, hard_usd=1.0), 1.0, now=now).period == "monthly"  # the default period
    assert outlook(BudgetDoc(period_seconds=3600, hard_usd=1.0), 1.0, now=now).period == "3600 s"


def test_samples_from_jsonl_and_text() -> None:
    samples = parse_samples(
        '{"prompt": "hi", "system": "be brief", "weight": 2, "output_tokens": 5}\n\n'
        '{"messages": [{"role": "user", "content": "ok"}], "mode": "fast", "latency_budget_ms": 500}\n',
        jsonl=True,
    )
    assert samples[0].messages == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    assert (samples[0].weight, samples[0].output_tokens) == (2, 5)
    assert samples[1].headers == {"x-envelope-mode": "fast", "x-envelope-latency-budget-ms": "500.0"}
    text = parse_samples("first prompt\n\n  second prompt  \n", jsonl=False)
    assert [s.messages[0]["content"] for s in text] == ["first prompt", "second prompt"]
    assert parse_samples("x" * 100, jsonl=False)[0].preview(10) == "x" * 9 + "…"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no prompts"),
        ("\n  \n", "no prompts"),
        ("not json", "line 1"),
        ('{"prompt": "a"}\n{"prompt": "b", "colour": 1}', "line 2.*colour"),
        ('{"weight": 1}', "`prompt` or `messages`"),
        ('{"prompt": "a", "messages": [{"role": "user", "content": "b"}]}', "one of them"),
        ('{"messages": []}', "empty"),
        ('{"messages": [{"role": "robot", "content": "b"}]}', "robot|role"),
        ('{"prompt": "a", "weight": 0}', "weight"),
        ('{"prompt": "a", "max_tokens": 0}', "max_tokens"),
        ('{"prompt": "a", "mode": "turbo"}', "mode"),
        ('{"prompt": "a", "latency_budget_ms": -5}', "latency_budget_ms"),
        ('{"prompt": "a", "latency_budget_ms": 1e12}', "latency_budget_ms"),  # past the gateway's bound
        ('{"prompt": "a", "cost_budget_usd": 0}', "cost_budget_usd"),
    ],
)
def test_bad_samples_name_the_line_and_the_problem(text: str, message: str) -> None:
    with pytest.raises(SampleError, match=message):
        parse_samples(text, jsonl=True)
