"""The classifier in the chain: real MiniLM embeddings and the shipped weights steer the
seed rules (simple → S, high risk → L); its verdict is in the headers and the ledger;
when the embedding is late, the risk rules still apply and the request says so."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.support.processes import FakeUpstream, Gateway, start_gateway


def model(name: str, tier: str, url: str) -> dict[str, Any]:
    return {
        "name": name,
        "tier": tier,
        "tokenizer": {"type": "tiktoken"},
        "deployments": [{"name": f"{name}-0", "provider": {"type": "openai", "base_url": url, "model": "fake"}}],
    }


SEED = {
    "name": "seed",
    "rules": [
        {"name": "high-risk", "when": {"risk": {"gte": 0.7}}, "then": {"tier": "L", "min_tier": "L"}},
        {
            "name": "simple",
            "when": {"intent": ["greeting", "faq"], "complexity": ["low"], "risk": {"lt": 0.3}},
            "then": {"tier": "S"},
        },
    ],
}


@pytest.fixture(scope="module")
def gateway(fake_upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    url = fake_upstream.url()
    doc = {
        "gateway": {"classifier": {"timeout_ms": 2000}},
        "models": [model("small", "S", url), model("medium", "M", url), model("large", "L", url)],
        "policies": [SEED],
        "routes": [
            {"name": "default", "policy": "seed", "quality_tier": "M"},
            {"name": "tagged", "classify": True, "quality_tier": "M"},  # classified, no policy
            {"name": "unclassified", "quality_tier": "M"},
        ],
        "tenants": [{"name": "acme"}],
    }
    gw = start_gateway(tmp_path_factory.mktemp("classify"), doc, env={"OPENBLAS_NUM_THREADS": "1"})
    yield gw
    gw.stop()


def ask(gw: Gateway, text: str, route: str = "default") -> Any:
    c = openai.OpenAI(
        base_url=gw.base_url, api_key=gw.key, max_retries=0, timeout=20, default_headers={"x-envelope-route": route}
    )
    return c.chat.completions.with_raw_response.create(model="auto", messages=[{"role": "user", "content": text}])


def test_a_simple_greeting_goes_to_tier_s(gateway: Gateway) -> None:
    raw = ask(gateway, "hi there, thanks for the help earlier!")
    h = raw.headers
    assert (h["x-envelope-intent"], h["x-envelope-complexity"]) == ("greeting", "low")
    assert float(h["x-envelope-risk"]) < 0.3 and h["x-envelope-risk-flags"] == "none"
    assert (h["x-envelope-tier"], h["x-envelope-rules"]) == ("S", "simple")
    row = gateway.ledger_row(h["x-envelope-request-id"])
    assert (row["intent"], row["complexity"], row["tier"], row["rules"]) == ("greeting", "low", "S", "simple")
    assert row["classify_ms"] > 0 and row["risk"] < 0.3


def test_a_legal_threat_is_high_risk_and_goes_to_tier_l(gateway: Gateway) -> None:
    raw = ask(gateway, "My landlord kept my whole deposit. I want to sue him - can I take him to small claims court?")
    h = raw.headers
    assert h["x-envelope-intent"] == "legal"
    assert float(h["x-envelope-risk"]) >= 0.7 and "legal" in h["x-envelope-risk-flags"].split(",")
    assert (h["x-envelope-tier"], h["x-envelope-rules"]) == ("L", "high-risk")


def test_personal_data_raises_the_risk_of_an_ordinary_request(gateway: Gateway) -> None:
    raw = ask(gateway, "Please update my card on file to 4111 1111 1111 1111, exp 09/29.")
    h = raw.headers
    assert "pii" in h["x-envelope-risk-flags"].split(",") and float(h["x-envelope-risk"]) >= 0.8
    assert h["x-envelope-tier"] == "L"


def test_a_prompt_seen_before_is_not_embedded_again(gateway: Gateway) -> None:
    text = "what's the capital of Australia?"
    first, second = ask(gateway, text), ask(gateway, text)
    assert first.headers["x-envelope-intent"] == second.headers["x-envelope-intent"] == "faq"
    assert first.headers["x-envelope-risk"] == second.headers["x-envelope-risk"]
    ms = [gateway.ledger_row(r.headers["x-envelope-request-id"])["classify_ms"] for r in (first, second)]
    assert ms[1] < ms[0] / 10  # a dictionary lookup against a forward pass


def test_a_route_may_classify_without_a_policy(gateway: Gateway) -> None:
    raw = ask(gateway, "write a haiku about autumn rain", route="tagged")
    assert raw.headers["x-envelope-intent"] == "creative"
    assert raw.headers["x-envelope-tier"] == "M" and "x-envelope-rules" not in raw.headers


def test_routes_that_do_not_need_it_are_not_classified(gateway: Gateway) -> None:
    raw = ask(gateway, "hello", route="unclassified")
    assert "x-envelope-intent" not in raw.headers
    assert gateway.ledger_row(raw.headers["x-envelope-request-id"])["intent"] is None


def test_a_late_embedding_leaves_the_risk_rules_in_force(fake_upstream: FakeUpstream, tmp_path: Any) -> None:
    url = fake_upstream.url()
    doc = {
        "gateway": {"classifier": {"timeout_ms": 0.001}},  # no embedding arrives in a microsecond
        "models": [model("medium", "M", url), model("large", "L", url)],
        "policies": [SEED],
        "routes": [{"name": "default", "policy": "seed", "quality_tier": "M"}],
        "tenants": [{"name": "acme"}],
    }
    gw = start_gateway(tmp_path, doc)
    try:
        raw = ask(gw, "I will sue you and your company, my lawyer is ready")
        h = raw.headers
        assert "classifier_unavailable" in h["x-envelope-degradations"].split(",")
        assert h["x-envelope-intent"] == "unknown" and "legal" in h["x-envelope-risk-flags"]
        assert h["x-envelope-tier"] == "L"  # the risk rule alone lifted it
        plain = ask(gw, "hello")
        assert plain.headers["x-envelope-tier"] == "M"  # unknown intent: the 'simple' rule does not hold
    finally:
        gw.stop()
