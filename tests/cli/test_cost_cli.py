"""`envelope report chargeback | forecast` over a seeded SQLite ledger, and `envelope
estimate` over the shipped sample prompts and configs, through typer's CliRunner."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
import typer
from typer.testing import CliRunner

from envelope import catalog
from envelope.cli.estimate import estimate
from envelope.cli.main import app
from envelope.config import loader
from envelope.ledger.record import LedgerRecord
from envelope.store.sql import SQLStore
from tests.store.test_contract import record
from tests.support.processes import write_config

SAMPLE = Path(__file__).parents[2] / "src" / "envelope" / "sample"
PROMPTS = SAMPLE / "estimate" / "prompts.jsonl"
runner = CliRunner()
estimate_app = typer.Typer(pretty_exceptions_enable=False)
estimate_app.command()(estimate)


@pytest.fixture(autouse=True, scope="module")
def _release_tokenizers() -> Iterator[None]:
    """The estimator loads the GGUF vocabulary into the catalog's shared counters; free it
    while the interpreter is whole (llama-cpp's finaliser fails at interpreter exit)."""
    yield
    catalog._COUNTERS.clear()


def ts(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


DOC: dict[str, Any] = {
    "gateway": {
        "chargeback": {
            "plans": [
                {"name": "volume", "type": "tiered", "tiers": [
                    {"up_to": 1_000_000, "price_usd": 1.0}, {"up_to": 10_000_000, "price_usd": 0.8}, {"price_usd": 0.5},
                ]},
                {"name": "answers", "type": "per_query", "per_request_usd": 0.01, "per_tier_usd": {"L": 0.1}},
                {"name": "plus", "type": "at_cost", "markup": 0.25},
            ],
            "default_plan": "plus",
            "tenants": {"acme": "volume"},
            "features": {"search": "answers"},
        }
    },
    "models": [{"name": "m", "deployments": [
        {"name": "d", "provider": {"type": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "x"}}
    ]}],
    "routes": [{"name": "default"}, {"name": "batch"}],
    "tenants": [
        {"name": "acme", "budget": {"period": "monthly", "hard_usd": 250}},
        {"name": "beta"},
    ],
}  # fmt: skip


def row(request_id: str, *, at: float, tenant: str = "acme", feature: str | None = "search", tier: str = "M",
        tokens: int = 0, cost: float = 0.0, status: int = 200, route: str = "default") -> LedgerRecord:  # fmt: skip
    base = record(request_id, tenant=tenant, route=route, feature=feature, cost=cost, status=status, ts=at)
    return msgspec.structs.replace(base, tier=tier, input_tokens=tokens // 2, output_tokens=tokens - tokens // 2)


def seeded(tmp_path: Path, rows: list[LedgerRecord]) -> str:
    path = write_config(tmp_path, json.loads(json.dumps(DOC)))

    async def fill() -> None:
        store = SQLStore(loader.load(path).gateway.database_url)
        await store.open()
        await store.append(rows)
        await store.close()

    asyncio.run(fill())
    return str(path)


def invoke(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.stdout + result.stderr
    return result


def line_of(out: str, group: str) -> list[str]:
    return next(line.split("│")[1:-1] for line in out.splitlines() if line.startswith(f"│ {group} "))


@pytest.fixture
def billed(tmp_path: Path) -> str:
    nov = ts(2026, 11, 3)
    rows = [
        row("a1", at=nov, tokens=6_000_000, cost=3.0, tier="S"),
        row("a2", at=nov + 60, tokens=8_000_000, cost=4.0, tier="L"),
        row("a3", at=nov + 120, tokens=10, cost=0.0, tier="L", status=502),
        row("b1", at=nov, tenant="beta", feature="chat", tokens=1000, cost=0.125),
        row("b2", at=nov, tenant="beta", feature="search", tokens=1000, cost=0.375, route="batch"),
        row("late", at=ts(2026, 12, 1), tokens=5_000_000, cost=100.0),  # December: outside the period
    ]
    return seeded(tmp_path, rows)


def test_chargeback_by_tenant_prices_each_plan(billed: str) -> None:
    out = invoke("report", "chargeback", "--period", "2026-11", "-c", billed).stdout
    # acme: 14,000,010 tokens under the volume plan = 1 + 9 × 0.8 + 4.00001 × 0.5
    acme = [cell.strip() for cell in line_of(out, "acme")]
    assert acme == ["acme", "3", "14,000,010", "7.000000", "10.20", "volume"]
    beta = [cell.strip() for cell in line_of(out, "beta")]
    assert beta == ["beta", "2", "2,000", "0.500000", "0.63", "plus"]  # 0.5 × 1.25 = 0.625, half up
    total = [cell.strip() for cell in line_of(out, "total")]
    assert total[:5] == ["total", "5", "14,002,010", "7.500000", "10.83"]


def test_chargeback_json_csv_and_other_dimensions(billed: str) -> None:
    body = json.loads(
        invoke("report", "chargeback", "--period", "2026-11", "--by", "feature", "--json", "-c", billed).stdout
    )
    assert (body["by"], body["since"], body["until"], body["precision"]) == (
        "feature", "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z", "cents",
    )  # fmt: skip
    lines = {line["group"]: line for line in body["lines"]}
    # search: per query, errors not billed: S 0.01 + L 0.1 (the 502 is free) + beta's M 0.01
    assert lines["search"]["charged_usd"] == 0.12 and lines["search"]["requests"] == 4
    assert lines["search"]["plan"] == "answers" and lines["search"]["errors"] == 1
    assert lines["chat"]["charged_usd"] == 0.16 and lines["chat"]["plan"] == "plus"  # 0.125 × 1.25 = 0.15625
    assert body["total"]["charged_usd"] == 0.28
    text = invoke("report", "chargeback", "--since", "2026-11-01", "--until", "2026-11-04", "--by", "route", "--csv",
                  "-c", billed).stdout  # fmt: skip
    rows = {r["group"]: r for r in csv.DictReader(io.StringIO(text))}
    assert rows["default"]["requests"] == "4" and rows["default"]["provider_cost_usd"] == "7.125"
    assert rows["batch"]["charged_usd"] == "0.47"  # 0.375 × 1.25 = 0.46875


def test_chargeback_bad_input_exits_2(billed: str) -> None:
    for args, said in [
        (["--period", "2026-13"], "month 13"),
        (["--period", "last month"], "bad period"),
        (["--since", "2026-11-05", "--until", "2026-11-01"], "empty"),
        (["--period", "2026-11", "--since", "2026-11-01"], "not both"),
        (["--json", "--csv"], "not both"),
    ]:
        result = runner.invoke(app, ["report", "chargeback", *args, "-c", billed])
        assert result.exit_code == 2 and said in result.stderr, (args, result.stderr)
        assert isinstance(result.exception, SystemExit)  # no traceback
    assert runner.invoke(app, ["report", "chargeback", "--by", "model", "-c", billed]).exit_code == 2


def test_forecast_projects_the_budget(tmp_path: Path) -> None:
    start = ts(2026, 11, 1)
    rows = [row(f"{d}-{i}", at=start + d * 86400 + i * 3600, cost=0.5) for d in range(14) for i in range(20)]
    cfg = seeded(tmp_path, rows)  # 10 USD a day, 140 by November 15
    (f,) = json.loads(invoke("report", "forecast", "--at", "2026-11-15", "--json", "-c", cfg).stdout)
    assert f["tenant"] == "acme" and f["status"] == "at_risk"
    assert f["spent_usd"] == pytest.approx(140.0)
    assert f["rate_usd_per_day"] == pytest.approx(10.0)
    assert f["projected_usd"] == pytest.approx(300.0)
    assert f["exhausted_at"] == "2026-11-26T00:00:00Z"  # 250 - 140 = 110 more at 10 a day
    table = invoke("report", "forecast", "--at", "2026-11-15", "-c", cfg).stdout
    assert "at_risk" in table and "2026-11-26T00:00" in table and "beta" not in table  # beta has no budget
    (early,) = json.loads(invoke("report", "forecast", "--at", "2026-11-03", "--json", "-c", cfg).stdout)
    assert early["spent_usd"] == pytest.approx(20.0) and early["buckets"] == 2  # too few for a trend
    assert early["projected_usd"] == pytest.approx(20.0 + 28 * 10.0) and early["status"] == "at_risk"
    (late,) = json.loads(invoke("report", "forecast", "--at", "2026-11-29", "--json", "-c", cfg).stdout)
    assert late["status"] == "ok" and late["exhausted_at"] is None  # quiet since the 15th: no pace


def test_forecast_bad_input_exits_2(tmp_path: Path) -> None:
    cfg = seeded(tmp_path, [])
    for args, said in [
        (["--tenant", "ghost"], "unknown tenant 'ghost'"),
        (["--tenant", "beta"], "no budget"),
        (["--at", "soon"], "ISO 8601"),
    ]:
        result = runner.invoke(app, ["report", "forecast", *args, "-c", cfg])
        assert result.exit_code == 2 and said in result.stderr, (args, result.stderr)


def test_a_ledger_that_cannot_be_read_exits_1_with_the_reason(tmp_path: Path) -> None:
    document = json.loads(json.dumps(DOC))
    document["gateway"]["database_url"] = "postgresql+asyncpg://nobody@127.0.0.1:9/none"  # nothing listens on 9
    cfg = str(write_config(tmp_path, document))
    for args, said in [
        (["report", "forecast"], "cannot report"),
        (["report", "chargeback", "--period", "2026-11"], "cannot report"),
        (
            ["estimate", "--prompts", str(PROMPTS), "--qps", "1", "--route", "default", "--output-from-ledger"],
            "cannot estimate",
        ),
    ]:
        result = runner.invoke(app, [*args, "-c", cfg])
        assert result.exit_code == 1, (args, result.stdout, result.stderr)
        assert said in result.stderr and "the ledger's database failed" in result.stderr, (args, result.stderr)


def estimated(*args: str) -> dict[str, Any]:
    result = runner.invoke(estimate_app, ["--prompts", str(PROMPTS), "--json", *args])
    assert result.exit_code == 0, result.stdout + result.stderr
    body: dict[str, Any] = json.loads(result.stdout)
    return body


def by_preview(body: dict[str, Any], start: str) -> dict[str, Any]:
    return next(p for p in body["prompts"] if p["preview"].startswith(start))


def test_estimate_with_the_sample_config() -> None:
    """The sample config serves everything from SmolLM2 (tier S): the seed policy still
    says L for a high-risk prompt, and the served tier is the nearest one it has."""
    body = estimated("--qps", "5", "--route", "default", "-c", str(SAMPLE / "envelope.yaml"), "--tenant", "default")
    assert body["classifier"] == "model" and len(body["prompts"]) == 20
    threat = by_preview(body, "This is unacceptable. If you do not refund me")
    assert threat["risk"] >= 0.7 and threat["policy_tier"] == "L" and "high-risk" in threat["rules"]
    assert threat["model"] == "smollm2" and "tier_unavailable:L->S" in threat["degradations"]
    assert threat["tokens_exact"]  # the GGUF's own tokenizer
    totals = body["totals"]
    mean = sum(p["cost_usd"] for p in body["prompts"]) / 20
    assert totals["cost_per_request"] == pytest.approx(mean)
    assert totals["cost_per_day"] == pytest.approx(mean * 5 * 86400)
    assert totals["requests_per_day"] == 432_000 and totals["cache_hit_rate"] == 0
    assert body["budget"] is None


def test_estimate_with_three_tiers_against_a_budget() -> None:
    body = estimated("--qps", "2", "-c", str(SAMPLE / "estimate" / "tiers.yaml"), "--tenant", "acme",
                     "--output-tokens", "150", "--cache-hit-rate", "0.2")  # fmt: skip
    threat = by_preview(body, "This is unacceptable. If you do not refund me")
    assert (threat["policy_tier"], threat["tier"], threat["model"]) == ("L", "L", "gpt-4o")
    hello = by_preview(body, "Hi there")
    assert (hello["policy_tier"], hello["model"], hello["intent"]) == ("S", "smollm2", "greeting")
    fixed = by_preview(body, "Translate into French")
    assert fixed["output_tokens"] == 30  # its own estimate wins over --output-tokens
    assert by_preview(body, "Do you ship")["output_tokens"] == 150
    for p in body["prompts"]:
        assert p["cost_usd"] == pytest.approx(_price(p), rel=1e-9)
    totals = body["totals"]
    mean = sum(p["cost_usd"] for p in body["prompts"]) / 20
    assert totals["cost_per_day"] == pytest.approx(mean * 2 * 86400 * 0.8)
    assert {m["model"] for m in totals["mix"]} == {"smollm2", "gpt-4o-mini", "gpt-4o"}
    budget = body["budget"]
    assert budget["hard_usd"] == 500 and budget["days_to_hard"] == pytest.approx(500 / totals["cost_per_day"])


PRICES = {"smollm2": (0.02, 0.08), "gpt-4o-mini": (0.15, 0.60), "gpt-4o": (2.50, 10.00)}


def _price(plan: dict[str, Any]) -> float:
    price_in, price_out = PRICES[plan["model"]]
    return float(plan["input_tokens"] * price_in + plan["output_tokens"] * price_out) / 1e6


def test_estimate_table_says_its_assumptions() -> None:
    result = runner.invoke(estimate_app, ["--prompts", str(PROMPTS), "--qps", "5", "--route", "default",
                                          "-c", str(SAMPLE / "envelope.yaml")])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "$/day" in out and "432,000" in out and "smollm2" in out
    assert "cache-hit rate 0% (assumed; --cache-hit-rate)" in out
    assert "assume all of max_tokens is used" in out


def test_estimate_bad_input_exits_2(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok"}\n{"promt": "typo"}\n')
    sample = ["-c", str(SAMPLE / "envelope.yaml")]
    for args, said in [
        (["--prompts", str(tmp_path / "missing.jsonl"), "--qps", "1", "--route", "default"], "cannot read"),
        (["--prompts", str(empty), "--qps", "1", "--route", "default"], "no prompts"),
        (["--prompts", str(bad), "--qps", "1", "--route", "default"], "line 2"),
        (["--prompts", str(PROMPTS), "--qps", "0", "--route", "default"], "--qps must be positive"),
        (["--prompts", str(PROMPTS), "--qps", "-3", "--route", "default"], "--qps must be positive"),
        (["--prompts", str(PROMPTS), "--qps", "1", "--route", "nowhere"], "unknown route 'nowhere'"),
        (["--prompts", str(PROMPTS), "--qps", "1", "--tenant", "ghost"], "unknown tenant 'ghost'"),
        (["--prompts", str(PROMPTS), "--qps", "1"], "give --route"),
        (["--prompts", str(PROMPTS), "--qps", "1", "--route", "default", "--cache-hit-rate", "1"], "cache-hit-rate"),
    ]:
        result = runner.invoke(estimate_app, [*args, *sample])
        assert result.exit_code == 2 and said in result.stderr, (args, result.stderr)
        assert isinstance(result.exception, SystemExit)


def test_estimate_reads_expected_output_from_the_ledger(tmp_path: Path) -> None:
    now = datetime.now(UTC).timestamp()
    rows = [
        msgspec.structs.replace(row(str(i), at=now - 3600, tier="M"), model="m", output_tokens=tokens)
        for i, tokens in enumerate([40, 60, 80])
    ]
    rows.append(msgspec.structs.replace(row("err", at=now - 60, status=502), model="m", output_tokens=0))
    rows.append(msgspec.structs.replace(row("old", at=now - 30 * 86400), model="m", output_tokens=900))  # too old
    cfg = seeded(tmp_path, rows)
    result = runner.invoke(
        estimate_app, ["--prompts", str(PROMPTS), "--qps", "1", "--route", "default", "--output-from-ledger",
                       "--json", "-c", cfg],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["classifier"] == "off"  # the route has no policy
    free = [p for p in body["prompts"] if "output_tokens" not in _line_of(p["preview"])]
    assert free and all((p["output_tokens"], p["output_source"]) == (60, "ledger") for p in free)


def _line_of(preview: str) -> str:
    """The sample file's line for a prompt preview (to tell which give their own output_tokens)."""
    stem = preview.rstrip("…")
    return next(line for line in PROMPTS.read_text().splitlines() if stem in line)
