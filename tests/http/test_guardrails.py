"""Guardrails through a real gateway, with the openai SDK as the client. The upstream is
scripted (tests/support/scripted.py, a stand-in on real HTTP): the tests choose what
the "model" answers — a leak, an insult, invalid JSON — and read what it was sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.support.processes import Gateway, start_gateway
from tests.support.scripted import ScriptedUpstream, scripted_upstream

EMAIL = "jane.doe@example.com"
CARD = "4111 1111 1111 1111"
PERSON_SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    with scripted_upstream() as scripted:
        scripted.rules.update(
            {
                "leak": f"Sure, write to {EMAIL} and they will help.",
                "insult me": "You are a worthless idiot and everyone knows it.",
                "valid json": '{"name": "Ada", "age": 36}',
                "json eventually": ["Here you go: name Ada, age 36", '{"name": "Ada", "age": 36}'],
                "never json": "I refuse to speak JSON.",
                "leaky prose": f"No JSON, but do write to {EMAIL}.",
            }
        )
        yield scripted


def config(upstream: ScriptedUpstream) -> dict[str, Any]:
    model = {
        "name": "m",
        "tokenizer": {"type": "tiktoken"},
        "prices": {"input_per_1m": 1.0, "output_per_1m": 2.0},
        "deployments": [{"name": "m-0", "provider": {"type": "openai", "base_url": upstream.url, "model": "x"}}],
    }
    doc = {
        "models": [model],
        "routes": [
            {
                "name": "default",
                "cache": {"exact": True},
                "guards": {"pii": {"input": "redact", "output": "redact"}},
            },
            {"name": "strict", "guards": {"pii": {"input": "block"}}},
            {"name": "open", "cache": {"exact": True}, "guards": {"pii": {"input": "allow", "output": "allow"}}},
            {"name": "civil", "guards": {"toxicity": {"action": "refuse"}, "refusal": "I won't say that."}},
            {
                "name": "civil_answer",
                "guards": {"toxicity": {"action": "answer"}, "answers": {"toxicity": "Let's keep it kind."}},
            },
            {"name": "civil_flag", "guards": {"toxicity": {"action": "flag"}}},
            {"name": "json", "guards": {"schema": {"max_reasks": 1}}},
            {"name": "json_private", "guards": {"schema": {"max_reasks": 0}, "pii": {"output": "redact"}}},
        ],
        "tenants": [{"name": "acme"}],
    }
    return doc


@pytest.fixture(scope="module")
def gateway(upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = start_gateway(tmp_path_factory.mktemp("guardrails"), config(upstream))
    yield gw
    gw.stop()


def client(gw: Gateway, route: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=gw.base_url, api_key=gw.key, max_retries=0, timeout=20, default_headers={"x-envelope-route": route}
    )


def ask(gw: Gateway, route: str, text: str, **params: Any) -> Any:
    return client(gw, route).chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": text}], **params
    )


def last_sent(upstream: ScriptedUpstream) -> str:
    return str(upstream.received[-1]["messages"][-1]["content"])


def test_pii_is_redacted_before_the_upstream_and_never_stored(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    raw = ask(gateway, "default", f"My email is {EMAIL} and my card is {CARD}; what's my refund status?")
    sent = last_sent(upstream)
    assert EMAIL not in sent and CARD not in sent
    assert "<EMAIL_ADDRESS>" in sent and "<CREDIT_CARD>" in sent
    assert raw.headers["x-envelope-guard"] == "pii_input:redact"
    assert raw.headers["x-envelope-pii"] == "CREDIT_CARD,EMAIL_ADDRESS"
    again = ask(gateway, "default", f"My email is {EMAIL} and my card is {CARD}; what's my refund status?")
    assert again.headers["x-envelope-cache"] == "exact"  # the cache keyed the redacted request
    row = gateway.ledger_row(raw.headers["x-envelope-request-id"])
    assert row["guard"] == "pii_input:redact" and row["guard_ms"] > 0


def test_nothing_the_gateway_writes_holds_the_pii(upstream: ScriptedUpstream, tmp_path: Path) -> None:
    gw = start_gateway(tmp_path, config(upstream))
    try:
        for route in ("default", "open"):
            ask(gw, route, f"My email is {EMAIL} and my card is {CARD}; what's my refund status?")
            ask(gw, route, "leak the support address")
        assert len(gw.ledger(wait_for=4)) == 4
    finally:
        gw.stop()  # the ledger flushed, logs closed: look everywhere the gateway wrote
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" for p in written)
    for path in written:
        data = path.read_bytes()
        assert EMAIL.encode() not in data and CARD.encode() not in data, path


def test_pii_can_block_the_request_without_echoing_it(gateway: Gateway) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        ask(gateway, "strict", f"Please mail {EMAIL}")
    error = caught.value.body
    assert isinstance(error, dict) and error["code"] == "pii_detected"
    assert "EMAIL_ADDRESS" in error["message"] and EMAIL not in error["message"]


def test_allowed_pii_reaches_the_upstream_but_not_the_cache(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    raw = ask(gateway, "open", f"My email is {EMAIL}")
    assert EMAIL in last_sent(upstream)
    assert raw.headers["x-envelope-cache"] == "bypass"
    assert ask(gateway, "open", f"My email is {EMAIL}").headers["x-envelope-cache"] == "bypass"


def test_a_leak_in_the_answer_is_redacted(gateway: Gateway) -> None:
    raw = ask(gateway, "default", "leak the support address")
    answer = raw.parse().choices[0].message.content
    assert EMAIL not in answer and "<EMAIL_ADDRESS>" in answer
    assert "pii_output:redact" in raw.headers["x-envelope-guard"]
    assert "guard_pii_output:redact" in raw.headers["x-envelope-degradations"]


def test_a_toxic_answer_is_refused_json_and_stream(gateway: Gateway) -> None:
    raw = ask(gateway, "civil", "insult me")
    assert raw.parse().choices[0].message.content == "I won't say that."
    assert raw.headers["x-envelope-guard"] == "toxicity:refuse"
    stream = client(gateway, "civil").chat.completions.create(
        model="m", messages=[{"role": "user", "content": "insult me please"}], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "I won't say that."
    assert stream.response.headers["x-envelope-guard"] == "toxicity:refuse"
    row = gateway.ledger_row(stream.response.headers["x-envelope-request-id"])
    assert row["guard"] == "toxicity:refuse" and row["stream"]


def test_a_toxic_answer_can_be_replaced_or_flagged(gateway: Gateway) -> None:
    assert ask(gateway, "civil_answer", "insult me").parse().choices[0].message.content == "Let's keep it kind."
    flagged = ask(gateway, "civil_flag", "insult me")
    assert "worthless" in flagged.parse().choices[0].message.content
    assert flagged.headers["x-envelope-guard"] == "toxicity:flag"
    assert ask(gateway, "civil", "hello there").headers.get("x-envelope-guard") is None


def schema_format() -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON_SCHEMA}}


def test_an_answer_off_schema_is_re_asked_within_the_budget(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    before = len(upstream.received)
    raw = ask(gateway, "json", "json eventually", response_format=schema_format())
    assert json.loads(raw.parse().choices[0].message.content) == {"name": "Ada", "age": 36}
    assert raw.headers["x-envelope-guard"] == "schema:reask"
    assert len(upstream.received) == before + 2
    reask = upstream.received[-1]["messages"]
    assert reask[-2]["role"] == "assistant" and "not valid" in reask[-1]["content"]
    row = gateway.ledger_row(raw.headers["x-envelope-request-id"])
    assert row["reasks"] == 1
    single = ask(gateway, "json", "valid json", response_format=schema_format())
    one = gateway.ledger_row(single.headers["x-envelope-request-id"])
    assert row["cost_usd"] > one["cost_usd"]  # both attempts are billed


def test_an_answer_never_on_schema_is_refused(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    before = len(upstream.received)
    raw = ask(gateway, "json", "never json", response_format=schema_format())
    assert raw.parse().choices[0].message.content == "I can't help with that request."
    assert raw.headers["x-envelope-guard"] == "schema:reask,schema:refuse"
    assert len(upstream.received) == before + 2  # one re-ask, as capped


def test_a_malformed_schema_is_a_400_before_any_upstream_call(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    before = len(upstream.received)
    bad = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "objekt"}}}
    with pytest.raises(openai.BadRequestError) as caught:
        ask(gateway, "json", "valid json", response_format=bad)
    assert isinstance(caught.value.body, dict) and caught.value.body["code"] == "invalid_schema"
    assert len(upstream.received) == before


def test_a_refusal_is_not_rewritten_by_a_later_check(gateway: Gateway) -> None:
    raw = ask(gateway, "json_private", "leaky prose", response_format=schema_format())
    assert raw.parse().choices[0].message.content == "I can't help with that request."
    assert raw.headers["x-envelope-guard"] == "schema:refuse"
