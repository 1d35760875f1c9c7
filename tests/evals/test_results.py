"""Summaries per intent and overall, and the results file a baseline is read from."""

from __future__ import annotations

from pathlib import Path

import pytest

from envelope.evals import results
from envelope.evals.results import ItemResult, ReportError
from envelope.evals.scorers import Score


def item(
    name: str,
    intent: str = "faq",
    *,
    passed: bool = True,
    scores: dict[str, float] | None = None,
    latency_ms: float = 100.0,
    cost_usd: float | None = None,
    status: int | None = 200,
    error: str | None = None,
) -> ItemResult:
    checks = tuple(
        Score(scorer, value, passed, 1.0, "")  # type: ignore[arg-type]  # test data: scorer names from SCORERS
        for scorer, value in (scores or {"contains": 1.0 if passed else 0.0}).items()
    )
    return ItemResult(
        id=name,
        intent=intent,
        file="set.yaml",
        passed=passed,
        score=sum(c.value for c in checks) / len(checks),
        latency_ms=latency_ms,
        checks=checks,
        status=status,
        answer="a",
        error=error,
        cost_usd=cost_usd,
    )


def test_summary_counts_rates_means_and_tail_latency() -> None:
    found = results.summarize(
        [
            item("a", scores={"contains": 1.0, "judge": 0.5}, latency_ms=10, cost_usd=0.002),
            item("b", passed=False, scores={"contains": 0.0}, latency_ms=30, cost_usd=0.004),
            item("c", passed=False, latency_ms=5000, status=None, error="timeout"),
        ]
    )
    assert (found.items, found.passed, found.errors) == (3, 1, 1)
    assert found.pass_rate == pytest.approx(1 / 3)
    assert found.scorers == {"contains": pytest.approx(1 / 3), "judge": 0.5}
    assert found.p95_latency_ms == 30  # the timed-out request has no HTTP answer: not in the latency
    assert found.mean_cost_usd == pytest.approx(0.003)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert results.percentile(values, 0.95) == 95
    assert results.percentile([7.0], 0.95) == 7
    assert results.percentile([], 0.95) is None


def test_report_groups_by_intent_and_round_trips_through_json(tmp_path: Path) -> None:
    run = results.report(
        [item("a", "math"), item("b", "faq", passed=False), item("c", "faq", cost_usd=0.001)],
        created="2025-01-01T00:00:00+00:00",
        base_url="http://gw/v1",
        golden=["g"],
    )
    assert list(run.intents) == ["faq", "math"]
    assert run.intents["faq"].pass_rate == 0.5 and run.overall.pass_rate == pytest.approx(2 / 3)
    path = tmp_path / "deep" / "run.json"
    results.save(run, path)
    assert results.load(path) == run


def test_envelope_facts_read_the_gateway_headers() -> None:
    headers = {
        "x-envelope-model": "m",
        "x-envelope-tier": "S",
        "x-envelope-cost-usd": "0.00012",
        "x-envelope-cache": "miss",
    }
    assert results.envelope_facts(headers) == ("m", "S", 0.00012, "miss")
    assert results.envelope_facts({"x-envelope-cost-usd": "n/a"}) == (None, None, None, None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{", "not an eval results file"),
        ('{"created": 1}', "not an eval results file"),
        ("[]", "not an eval results file"),
    ],
)
def test_a_bad_results_file_is_named(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "base.json"
    path.write_text(text)
    with pytest.raises(ReportError, match=expected) as caught:
        results.load(path)
    assert str(path) in str(caught.value)


def test_a_missing_or_newer_results_file(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="cannot read"):
        results.load(tmp_path / "nowhere.json")
    run = results.report([item("a")], created="t", base_url="u", golden=[])
    path = tmp_path / "run.json"
    results.save(run, path)
    path.write_text(path.read_text().replace('"format": 1', '"format": 2'))
    with pytest.raises(ReportError, match="results format 2"):
        results.load(path)
