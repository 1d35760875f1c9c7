"""`envelope bench scenario`: the workload it sends, the figures it derives, its two
configs, and one short end-to-end run of the command (real processes, real HTTP)."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections import Counter
from typing import Any

import pytest
from rich.console import Console

from envelope.bench import scenario_workload as workload
from envelope.bench.scenario import ScenarioResult, Side
from envelope.bench.scenario_configs import BUDGETS, envelope_config, naive_config
from envelope.bench.scenario_summary import Control, Outcome, percentile, summarise
from envelope.bench.scenario_upstream import PROFILES, answer_tokens
from envelope.classifier import dataset
from envelope.cli.bench_scenario import document, table
from envelope.config.documents import ConfigSet

LONG = workload.WorkloadSettings(duration_s=600, rate=6, seed=3)


@pytest.fixture(scope="module")
def sources() -> workload.Sources:
    return workload.load_sources(LONG.seed)


@pytest.fixture(scope="module")
def long_run(sources: workload.Sources) -> list[workload.ScenarioRequest]:
    return workload.build(LONG, sources)


# --- the workload -----------------------------------------------------------------


def test_the_same_seed_gives_the_same_workload_and_another_seed_another() -> None:
    settings = workload.WorkloadSettings(duration_s=30, seed=11)
    first, again = workload.build(settings), workload.build(settings)
    assert first == again
    other = workload.build(workload.WorkloadSettings(duration_s=30, seed=12))
    assert [r.text for r in other] != [r.text for r in first]
    assert [r.at_s for r in other] != [r.at_s for r in first]


def test_routes_and_kinds_follow_the_mix(long_run: list[workload.ScenarioRequest]) -> None:
    routes = Counter(r.route for r in long_run)
    for route, share in workload.ROUTE_MIX:
        assert routes[route] / len(long_run) == pytest.approx(share, abs=0.03)
    support = [r for r in long_run if r.route == "support"]
    kinds = Counter(r.kind for r in support)
    for kind, share in workload.SUPPORT_MIX:
        assert kinds[kind] / len(support) == pytest.approx(share, abs=0.03)
    assert {r.kind for r in long_run if r.route == "assistant"} == {"complex"}
    assert {r.kind for r in long_run if r.route == "risk"} == {"high_risk"}
    assert all(r.tenant == workload.TENANTS[r.route] for r in long_run)


def test_arrivals_are_open_loop_poisson_with_bursts(long_run: list[workload.ScenarioRequest]) -> None:
    times = [r.at_s for r in long_run]
    assert times == sorted(times) and times[0] >= 0 and times[-1] < LONG.duration_s
    assert len(long_run) / LONG.duration_s == pytest.approx(
        LONG.rate * (1 + 2 * LONG.burst_share * (LONG.burst_factor - 1)), rel=0.1
    )
    bursts = LONG.bursts()
    assert len(bursts) == 2
    burst_s = sum(b.length_s for b in bursts)
    inside = sum(r.in_burst for r in long_run)
    assert inside == sum(any(b.covers(r.at_s) for b in bursts) for r in long_run)
    ratio = (inside / burst_s) / ((len(long_run) - inside) / (LONG.duration_s - burst_s))
    assert ratio == pytest.approx(LONG.burst_factor, rel=0.2)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) > 5 * min(gaps)  # exponential gaps, not a metronome


def test_faq_families_repeat_in_both_wordings(
    long_run: list[workload.ScenarioRequest], sources: workload.Sources
) -> None:
    faq = [r for r in long_run if r.kind == "faq"]
    asked = Counter(r.family for r in faq if r.family is not None)
    assert len(asked) <= workload.FAQ_FAMILIES
    top, count = asked.most_common(1)[0]
    assert count >= 10 * asked.most_common()[-1][1]  # a few popular questions, a long tail
    first, paraphrase = sources.families[top]
    texts = Counter(r.text for r in faq if r.family == top)
    assert texts[first] > 1 and texts[paraphrase] > 1  # exact repeats and rewordings
    assert texts[first] / (texts[first] + texts[paraphrase]) == pytest.approx(workload.FAQ_FIRST_WORDING, abs=0.1)


def test_high_risk_and_complex_requests_come_from_the_labelled_prompts(
    long_run: list[workload.ScenarioRequest], sources: workload.Sources
) -> None:
    labels = {p.text: p for p in dataset.load()}
    for r in long_run:
        if r.kind in ("escalation", "high_risk"):
            assert r.high_risk and labels[r.text].risk == "high"
        elif r.kind == "support":
            assert not r.high_risk and labels[r.text].risk == "low"
    complex_ = [r for r in long_run if r.kind == "complex"]
    faq = [r for r in long_run if r.kind == "faq"]
    assert sum(len(r.text) for r in complex_) / len(complex_) > 5 * sum(len(r.text) for r in faq) / len(faq)
    assert any(r.text.startswith("Use these notes") for r in complex_)
    assert all(r.max_tokens > workload.MAX_TOKENS["support"] for r in complex_)
    # a deck: no high-risk prompt repeats before every one of them was used
    risky = [r.text for r in long_run if r.kind == "high_risk"][: len(sources.risky)]
    assert len(set(risky)) == len(risky)


# --- the upstream's answers and the two configs --------------------------------------


def test_upstream_answers_longer_to_longer_prompts_and_tiers_differ_in_speed() -> None:
    assert answer_tokens("q", 10) == answer_tokens("q", 10)
    assert answer_tokens("x" * 2000, 500) > 3 * answer_tokens("short", 5)
    small, medium, large = PROFILES
    assert small.service_s(100, 200) < medium.service_s(100, 200) < large.service_s(100, 200)
    assert small.output_per_1m < medium.output_per_1m < large.output_per_1m
    assert large.slots < small.slots


def test_the_two_configs_load_and_differ_as_described() -> None:
    envelope = ConfigSet.model_validate(envelope_config("http://127.0.0.1:9/v1"))
    naive = ConfigSet.model_validate(naive_config("http://127.0.0.1:9/v1"))
    assert [m.tier for m in naive.models] == ["L"]
    assert all(r.policy is None and not r.cache.exact and r.adaptive is None for r in naive.routes)
    assert sorted(m.tier for m in envelope.models) == ["L", "M", "S"]
    routes = {r.name: r for r in envelope.routes}
    assert routes["support"].cache.semantic is not None and routes["support"].adaptive is not None
    assert all(r.policy is not None and r.latency.p95_ms is not None for r in envelope.routes)
    assert all(t.budget is not None for t in envelope.tenants)
    assert set(envelope.gateway.admission.capacity) == {"S", "M", "L"}


# --- the figures --------------------------------------------------------------------


def _outcome(route: str, status: int = 200, latency: float = 100, **kw: Any) -> Outcome:
    return Outcome(0, route, kw.pop("kind", "faq"), kw.pop("high_risk", False), False, status, latency, **kw)


def test_summary_counts_each_violation_once_and_shares_over_answered() -> None:
    outcomes = [
        _outcome("support", tier="S", cost_usd=0.001),
        _outcome("support", cache="exact", tier=None),
        _outcome("support", status=429, error="rate_limit_exceeded"),
        _outcome("support", latency=BUDGETS["support"].deadline_ms + 1, tier="L", cost_usd=1.0),  # late, not cost
        _outcome("risk", tier="L", cost_usd=BUDGETS["risk"].cost_ceiling_usd * 2, high_risk=True),
        _outcome("assistant", tier="M", high_risk=True),
    ]
    s = summarise(outcomes, BUDGETS, Control(downgraded_s=3.0, downgrades=1))
    assert (s.requests, s.answered) == (6, 5)
    assert (s.violations.failed, s.violations.late, s.violations.over_cost) == (1, 1, 1)
    assert s.cache_hit_rate == pytest.approx(1 / 5)
    assert s.support_cache_hit_rate == pytest.approx(1 / 3)
    assert s.share_s_or_cache == pytest.approx(2 / 5)
    assert s.share_l == pytest.approx(2 / 5)
    assert s.high_risk_on_l == pytest.approx(1 / 2)
    assert s.cost_per_1k_usd == pytest.approx(1000 * (0.001 + 1.0 + 0.1) / 5)
    assert s.tiers == {"L": 2, "M": 1, "S": 1, "cache": 1}
    assert s.statuses == {"200": 5, "429": 1}


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.95) == 95 and percentile(values, 0.99) == 99 and percentile([], 0.5) == 0


def test_table_shows_both_sides_and_the_change() -> None:
    naive = summarise([_outcome("support", latency=2000, tier="L", cost_usd=0.01)], BUDGETS, Control())
    env = summarise([_outcome("support", latency=500, cache="semantic")], BUDGETS, Control(downgraded_s=4.0))
    result = ScenarioResult(workload.WorkloadSettings(duration_s=1), {"requests": 1, "in_bursts": 0})
    result.sides.update({name: Side(name, s, [], {}, 1.0) for name, s in (("naive", naive), ("envelope", env))})
    console = Console(width=200, record=True)
    console.print(table(result))
    text = console.export_text()
    assert "naive (all tier L)" in text and "envelope" in text and "change" in text
    assert "2,000 ms" in text and "500 ms" in text and "-75%" in text
    assert "+100.0 pp" in text  # served by S or cache: 0 % → 100 %
    assert "4.0 s (0 down, 0 up)" in text
    assert json.loads(json.dumps(document(result)))["sides"]["envelope"]["summary"]["cache_hit_rate"] == 1.0


# --- end to end ---------------------------------------------------------------------


def test_scenario_command_runs_both_sides_and_envelope_does_better() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "envelope.cli.main", "bench", "scenario", "--duration", "12", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    figures = json.loads(out.stdout)
    sides = figures["sides"]
    assert set(sides) == {"naive", "envelope"}
    naive, env = sides["naive"]["summary"], sides["envelope"]["summary"]
    assert naive["requests"] == env["requests"] == figures["workload"]["requests"] > 50
    assert naive["answered"] == naive["requests"] and env["answered"] >= 0.95 * env["requests"]
    assert naive["cache_hit_rate"] == 0 and env["cache_hit_rate"] > 0
    assert naive["share_l"] == 1.0 and set(naive["tiers"]) == {"L"}
    assert env["share_s_or_cache"] > naive["share_s_or_cache"]
    assert env["cost_per_1k_usd"] < naive["cost_per_1k_usd"]
    assert env["high_risk_on_l"] >= 0.8
    for summary in (naive, env):
        assert set(summary["routes"]) == {"support", "assistant", "risk"}
        for route in summary["routes"].values():
            assert 0 < route["p95_ms"] <= route["p99_ms"]
    assert sides["naive"]["upstream"]["scenario-small"]["served"] == 0
    assert sides["envelope"]["upstream"]["scenario-small"]["served"] > 0
