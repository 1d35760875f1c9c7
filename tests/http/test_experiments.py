"""Experiments end to end through a real gateway with the openai SDK: a weighted A/B split,
a canary rolled back automatically when its candidate is slow, and shadow traffic that is
kept for comparison but never billed. The upstream is scripted (tests/support/scripted.py,
real HTTP) so the test can make one model slow and see what each model was asked."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.support.processes import Gateway, start_gateway
from tests.support.scripted import ScriptedUpstream, scripted_upstream

EMAIL = "jane.doe@example.com"


def config(upstream: ScriptedUpstream) -> dict[str, Any]:
    def model(name: str, tier: str = "M") -> dict[str, Any]:
        provider = {"type": "openai", "base_url": upstream.url, "model": name}
        return {
            "name": name,
            "tier": tier,
            "prices": {"input_per_1m": 1.0, "output_per_1m": 2.0},
            "deployments": [{"name": f"{name}-0", "provider": provider}],
        }

    return {
        "gateway": {"control": {"interval_s": 0.1}},
        "models": [model("medium"), model("slow"), model("small", "S"), model("other"), model("large", "L")],
        "policies": [{"name": "to-large", "rules": [{"name": "large", "then": {"tier": "L"}}]}],
        "routes": [
            {
                "name": "default",
                "models": ["medium", "slow"],
                "experiment": {
                    "name": "slow-candidate",
                    "kind": "canary",
                    "unit": "request",
                    "arms": [{"name": "control", "weight": 50}, {"name": "candidate", "weight": 50, "model": "slow"}],
                    "rollback": {"min_requests": 5, "window_s": 60, "max_p95_ratio": 1.5},
                },
            },
            {
                "name": "ab",
                "models": ["medium", "small", "other", "large"],
                "experiment": {
                    "name": "split",
                    "arms": [
                        {"name": "a", "weight": 2},
                        {"name": "b", "weight": 1, "quality_tier": "S"},
                        {"name": "c", "weight": 1, "policy": "to-large"},  # another policy: a policy version's trial
                    ],
                    "unit": "request",
                },
            },
            {"name": "shadowed", "models": ["medium", "other"], "shadow": {"model": "other"}},
        ],
        "tenants": [{"name": "acme", "default_route": "default"}],
    }


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    with scripted_upstream() as scripted:
        yield scripted


@pytest.fixture(scope="module")
def gateway(upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = start_gateway(tmp_path_factory.mktemp("experiments"), config(upstream))
    yield gw
    gw.stop()


def ask(client: openai.OpenAI, route: str, text: str = "hello") -> Any:
    return client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": text}], extra_headers={"x-envelope-route": route}
    )


def test_a_slow_canary_is_rolled_back(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    upstream.delays["slow"] = 0.2
    client = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0)
    served: list[str] = []
    labels = 'experiment="slow-candidate",route="default"'
    deadline = time.monotonic() + 30
    while gateway.metric("envelope_experiment_rollbacks_total", labels) < 1:
        assert time.monotonic() < deadline, f"no rollback; served {Counter(served)}"
        served.append(ask(client, "default").headers["x-envelope-model"])
    assert {"medium", "slow"} <= set(served)  # both arms served before the rollback
    after = [ask(client, "default").headers["x-envelope-model"] for _ in range(20)]
    assert after == ["medium"] * 20
    weight = 'arm="candidate",experiment="slow-candidate",route="default"'
    assert gateway.metric("envelope_experiment_weight", weight) == 0

    rows = [r for r in gateway.ledger(wait_for=len(served) + 20) if r["route"] == "default"]
    arms = {r["model"]: r["experiment"] for r in rows}
    assert arms == {"medium": "slow-candidate:control", "slow": "slow-candidate:candidate"}
    with sqlite3.connect(gateway.db) as db:
        stored = db.execute("SELECT scope, kind, reason FROM control_transitions").fetchall()
    assert [(s, k) for s, k, _ in stored] == [("experiment:default/slow-candidate", "canary")]
    assert "candidate rolled back: p95" in stored[0][2]


def test_an_ab_split_follows_the_weights(gateway: Gateway) -> None:
    client = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0)
    answers = [ask(client, "ab").headers for _ in range(160)]
    tiers = Counter(h["x-envelope-tier"] for h in answers)
    assert set(tiers) == {"M", "S", "L"}
    assert 0.12 < tiers["S"] / 160 < 0.4 and 0.12 < tiers["L"] / 160 < 0.4  # a quarter of the weight each
    arms = {h["x-envelope-tier"]: h["x-envelope-experiment"] for h in answers}
    assert arms == {"M": "split:a", "S": "split:b", "L": "split:c"}


def test_shadow_traffic_is_compared_not_billed(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    upstream.rules["shadow me"] = f"Write to {EMAIL}."
    client = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0)
    before = len(upstream.received)
    raw = ask(client, "shadowed", "shadow me please")
    assert raw.headers["x-envelope-model"] == "medium"
    deadline = time.monotonic() + 10
    while gateway.metric("envelope_shadow_requests_total", 'model="other",outcome="ok",route="shadowed"') < 1:
        assert time.monotonic() < deadline, "the shadow call was not made"
        time.sleep(0.05)
    asked = [b["model"] for b in upstream.received[before:]]
    assert sorted(asked) == ["medium", "other"]
    request_id = raw.headers["x-envelope-request-id"]
    row = gateway.ledger_row(request_id)
    assert row["model"] == "medium"
    assert [r for r in gateway.ledger() if r["model"] == "other"] == []  # no ledger row, nothing billed
    deadline = time.monotonic() + 10
    while True:
        with sqlite3.connect(gateway.db) as db:
            stored = db.execute(
                "SELECT primary_model, shadow_model, status, primary_text, shadow_text, shadow_cost_usd "
                "FROM shadow_results WHERE request_id = ?",
                (request_id,),
            ).fetchall()
        if stored or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(stored) == 1
    primary, shadow, status, primary_text, shadow_text, cost = stored[0]
    assert (primary, shadow, status) == ("medium", "other", "ok")
    assert EMAIL not in primary_text and EMAIL not in shadow_text and "<EMAIL_ADDRESS>" in shadow_text
    assert cost > 0


def test_envelope_experiments_shadow_compares_them(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    client = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0)
    for i in range(3):
        ask(client, "shadowed", f"compare {i}")
    deadline = time.monotonic() + 10
    while gateway.metric("envelope_shadow_requests_total", 'model="other",outcome="ok",route="shadowed"') < 4:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)  # the last result's write
    shown = subprocess.run(
        [
            str(Path(sys.executable).parent / "envelope"),
            "experiments",
            "shadow",
            "-c",
            str(gateway.directory / "envelope.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    row = next(line for line in shown.splitlines() if "shadowed" in line)
    assert "medium" in row and "other" in row
    assert re.search(r"│\s*4\s*│\s*0\s*│", row), shown  # four calls, no errors
    assert "4/4" in row and "1.000" in row  # the scripted upstream answers both models alike
