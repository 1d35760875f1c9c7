"""`envelope replay` as a user runs it: a gateway keeps samples of real traffic (sent
with the openai SDK, PII redacted), then the CLI, in its own process, replays them
against the recorded config and a candidate — the same config, a slower model, dearer
prices — through two gateway processes of its own, all before the scripted upstream."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml

from envelope.bench.processes import issue_tenant_keys
from tests.support.processes import start_gateway
from tests.support.scripted import ScriptedUpstream, scripted_upstream

EMAIL = "jane.doe@example.com"
REQUESTS = 20  # 14 of acme on the default route, 6 of globex on the support route


def documents(upstream_url: str, *, upstream_model: str = "x", price: float = 1.0) -> dict[str, Any]:
    model = {
        "name": "m",
        "tier": "M",
        "prices": {"input_per_1m": 100.0 * price, "output_per_1m": 200.0 * price},
        "deployments": [
            {"name": "m-0", "provider": {"type": "openai", "base_url": upstream_url, "model": upstream_model}}
        ],
    }
    return {
        "models": [model],
        "routes": [{"name": "default", "cache": {"exact": True}}, {"name": "support"}],
        "tenants": [{"name": "acme"}, {"name": "globex", "default_route": "support"}],
    }


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    with scripted_upstream() as scripted:
        scripted.rules.update({"capital": "The capital of France is Paris.", "refund": "Refunds take 5 days."})
        yield scripted


@pytest.fixture(scope="module")
def recorded(upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The recording gateway's config, after it sampled every request and stopped."""
    document = documents(upstream.url)
    document["gateway"] = {"ledger": {"batch_size": 100, "flush_interval_ms": 20, "sample_payloads": 1.0}}
    gateway = start_gateway(tmp_path_factory.mktemp("recording"), document)
    try:
        globex = issue_tenant_keys(gateway, ["globex"])["globex"]
        acme = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0)
        support = openai.OpenAI(base_url=gateway.base_url, api_key=globex, max_retries=0)
        for i in range(14):
            prompt = f"Question {i}: what is the capital of France?"
            if i == 0:
                prompt = f"Mail me at {EMAIL}: what is the capital of France?"
            answer = acme.chat.completions.create(
                model="m", messages=[{"role": "user", "content": prompt}], max_tokens=32, temperature=0
            )
            assert answer.choices[0].message.content == "The capital of France is Paris."
        for i in range(6):
            support.chat.completions.create(model="m", messages=[{"role": "user", "content": f"refund {i}?"}])
        samples = _samples(gateway.db, REQUESTS)
    finally:
        gateway.stop()
    assert len(samples) == REQUESTS
    assert {(s["tenant"], s["route"]) for s in samples} == {("acme", "default"), ("globex", "support")}
    first = next(s for s in samples if "Mail me" in s["request"])
    assert EMAIL not in first["request"] and "<EMAIL_ADDRESS>" in first["request"]
    assert json.loads(first["request"])["max_tokens"] == 32 and first["answer"] == "The capital of France is Paris."
    yield gateway.directory / "envelope.yaml"


def _samples(db: Path, wanted: int, timeout: float = 15.0) -> list[dict[str, Any]]:
    """The payload samples table, waiting for the sampler's background flush."""
    deadline = time.monotonic() + timeout
    while True:
        with sqlite3.connect(db) as conn:
            conn.row_factory = sqlite3.Row
            try:
                rows = [dict(r) for r in conn.execute("SELECT * FROM payload_samples ORDER BY ts")]
            except sqlite3.OperationalError:
                rows = []
        if len(rows) >= wanted or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def candidate(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "candidate.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def envelope_replay(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENVELOPE_")}
    return subprocess.run(
        [sys.executable, "-m", "envelope.cli.main", "replay", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


def test_the_same_config_passes(recorded: Path, upstream: ScriptedUpstream, tmp_path: Path) -> None:
    report = tmp_path / "replay.json"
    same = candidate(tmp_path, documents(upstream.url))
    redacted = len(_redacted(upstream))
    out = envelope_replay(str(same), "-c", str(recorded), "--output", str(report))  # baseline: active version
    assert out.returncode == 0, out.stdout + out.stderr
    assert "baseline (version 1)" in flat(out.stderr)
    assert "no regression" in out.stdout
    result = json.loads(report.read_text())
    assert result["passed"] and result["findings"] == [] and result["samples"] == REQUESTS
    assert result["overall"]["requests"] == REQUESTS and result["overall"]["similarity"] == 1.0
    routes = {r["scope"]: r for r in result["routes"]}
    assert routes["default"]["requests"] == 14 and routes["default"]["gated"]
    assert routes["support"]["requests"] == 6 and not routes["support"]["gated"]  # fewer than 10
    assert result["overall"]["candidate"]["tiers"] == {"M": 1.0}
    replayed = _redacted(upstream)[redacted:]
    # Once per side, twice: the route's first sample also warms each gateway up, unmeasured.
    assert len(replayed) == 4 and not any(body.get("stream") for body in replayed)


def _redacted(upstream: ScriptedUpstream) -> list[dict[str, Any]]:
    """Requests the upstream got with the e-mail address as the sample keeps it: replayed ones."""
    return [body for body in upstream.received if any("<EMAIL_ADDRESS>" in str(m) for m in body["messages"])]


def test_a_slower_model_fails_on_p95(recorded: Path, upstream: ScriptedUpstream, tmp_path: Path) -> None:
    upstream.delays["slow"] = 0.3  # only the candidate's deployment asks for "slow"
    slow = candidate(tmp_path, documents(upstream.url, upstream_model="slow"))
    out = envelope_replay(str(slow), "-c", str(recorded))
    assert out.returncode == 1, out.stdout + out.stderr
    text = flat(out.stdout)
    assert "REGRESSION" in text and "default: p95 latency" in text and "all: p95 latency" in text
    assert "cost" not in text.split("REGRESSION: ")[1]


def test_dearer_prices_fail_on_cost(recorded: Path, upstream: ScriptedUpstream, tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    baseline = candidate(tmp_path / "base", documents(upstream.url))
    # The candidate also drops tenant globex: its samples are skipped and counted.
    dear = documents(upstream.url, price=3.0)
    dear["tenants"] = [{"name": "acme"}]
    report = tmp_path / "replay.json"
    out = envelope_replay(
        str(candidate(tmp_path, dear)), "-c", str(recorded), "--baseline", str(baseline), "--output", str(report)
    )
    assert out.returncode == 1, out.stdout + out.stderr
    text = flat(out.stdout)
    assert "all: mean cost per request" in text and "(+200%; allowed +10%)" in text
    assert "p95" not in text.split("REGRESSION: ")[1]
    assert "skipped 6 sample(s): tenant 'globex' is not in the candidate config" in flat(out.stderr)
    result = json.loads(report.read_text())
    assert not result["passed"] and {f["rule"] for f in result["findings"]} == {"cost"}
    assert result["overall"]["requests"] == 14 and result["baseline"] == str(baseline)


def test_no_samples_is_a_usage_error(tmp_path: Path) -> None:
    empty = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    out = envelope_replay(str(tmp_path / "missing.yaml"), "--database", empty)
    assert out.returncode == 2  # the candidate does not exist
    config = candidate(tmp_path, documents("http://127.0.0.1:9/v1"))
    out = envelope_replay(str(config), "--database", empty)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "no payload samples" in flat(out.stderr) and "sample_payloads" in flat(out.stderr)
