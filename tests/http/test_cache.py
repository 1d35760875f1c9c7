"""The exact cache through a real gateway: repeated requests are answered from the
cache (JSON and as a proper SSE stream), never across tenants, never with a cut or
degraded answer; identical requests in flight share one upstream call; purge drops
entries. The upstream is the fake (it counts nothing, so hits are seen in headers)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.support.processes import FakeUpstream, Gateway, start_gateway


@pytest.fixture(scope="module")
def gateway(fake_upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    def model(name: str, mode: str = "") -> dict[str, Any]:
        return {
            "name": name,
            "tokenizer": {"type": "tiktoken"},
            "prices": {"input_per_1m": 1.0, "output_per_1m": 2.0},
            "deployments": [
                {"name": f"{name}-0", "provider": {"type": "openai", "base_url": fake_upstream.url(mode), "model": "x"}}
            ],
        }

    doc = {
        "models": [model("m"), model("slow", "delay-700")],
        "routes": [
            {"name": "default", "max_output_tokens": 100, "cache": {"exact": True}},
            {"name": "uncached", "max_output_tokens": 100},
        ],
        "tenants": [{"name": "acme"}, {"name": "beta"}],
    }
    gw = start_gateway(tmp_path_factory.mktemp("cache"), doc)
    yield gw
    gw.stop()


def ask(gw: Gateway, text: str, key: str | None = None, route: str = "default", **params: Any) -> Any:
    c = openai.OpenAI(
        base_url=gw.base_url,
        api_key=key or gw.key,
        max_retries=0,
        timeout=20,
        default_headers={"x-envelope-route": route},
    )
    return c.chat.completions.with_raw_response.create(
        model=params.pop("model", "m"), messages=[{"role": "user", "content": text}], **params
    )


def test_a_repeated_request_is_answered_from_the_cache(gateway: Gateway) -> None:
    first = ask(gateway, "what is a cache?")
    second = ask(gateway, "  what is a cache?\n")  # the same after normalisation
    assert first.headers["x-envelope-cache"] == "miss" and second.headers["x-envelope-cache"] == "exact"
    assert second.parse().choices[0].message.content == first.parse().choices[0].message.content
    assert second.headers["x-envelope-cost-usd"] == "0" and first.headers["x-envelope-cost-usd"] != "0"
    row = gateway.ledger_row(second.headers["x-envelope-request-id"])
    assert (row["cache"], row["cost_usd"], row["deployment"]) == ("exact", 0.0, None)
    assert row["output_tokens"] == first.parse().usage.completion_tokens


def test_other_parameters_or_routes_do_not_hit(gateway: Gateway) -> None:
    ask(gateway, "parameters matter")
    assert ask(gateway, "parameters matter", temperature=0.5).headers["x-envelope-cache"] == "miss"
    assert ask(gateway, "parameters matter", route="uncached").headers["x-envelope-cache"] == "off"


def test_never_a_hit_across_tenants(gateway: Gateway) -> None:
    beta = gateway.admin("/admin/keys", {"tenant": "beta"})["key"]
    assert ask(gateway, "tenant secrets").headers["x-envelope-cache"] == "miss"
    assert ask(gateway, "tenant secrets").headers["x-envelope-cache"] == "exact"
    assert ask(gateway, "tenant secrets", key=beta).headers["x-envelope-cache"] == "miss"


def test_cut_or_degraded_answers_are_not_kept(gateway: Gateway) -> None:
    # max_tokens=5: the fake stops at the limit (finish_reason "length"): not a whole answer
    ask(gateway, "cut short", max_tokens=5)
    assert ask(gateway, "cut short", max_tokens=5).headers["x-envelope-cache"] == "miss"
    # over the route's cap: capped (a degradation), so not kept either
    capped = ask(gateway, "capped", max_tokens=500)
    assert "max_tokens_capped" in capped.headers["x-envelope-degradations"]
    assert ask(gateway, "capped", max_tokens=500).headers["x-envelope-cache"] == "miss"


def test_a_stream_is_served_from_the_cache_as_sse(gateway: Gateway) -> None:
    whole = ask(gateway, "stream me").parse().choices[0].message.content
    c = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0, timeout=20)
    raw = c.chat.completions.with_raw_response.create(
        model="m",
        messages=[{"role": "user", "content": "stream me"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    assert raw.headers["x-envelope-cache"] == "exact"
    assert raw.headers["content-type"].startswith("text/event-stream")
    chunks = list(raw.parse())
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == whole
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_identical_requests_in_flight_share_one_upstream_call(gateway: Gateway) -> None:
    answers: list[Any] = []

    def one() -> None:
        answers.append(ask(gateway, "together", model="slow"))

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    kinds = sorted(a.headers["x-envelope-cache"] for a in answers)
    assert kinds == ["coalesced", "coalesced", "coalesced", "miss"]
    assert len({a.parse().choices[0].message.content for a in answers}) == 1


def test_purge_drops_entries(gateway: Gateway) -> None:
    ask(gateway, "purge me")
    assert ask(gateway, "purge me").headers["x-envelope-cache"] == "exact"
    assert gateway.admin("/admin/cache/purge", {"tenant": "acme"})["purged"] >= 1
    assert ask(gateway, "purge me").headers["x-envelope-cache"] == "miss"


def test_the_client_can_refresh_or_bypass_the_cache(gateway: Gateway) -> None:
    def asked(text: str, control: str) -> Any:
        c = openai.OpenAI(
            base_url=gateway.base_url,
            api_key=gateway.key,
            max_retries=0,
            timeout=20,
            default_headers={"x-envelope-cache-control": control},
        )
        return c.chat.completions.with_raw_response.create(model="m", messages=[{"role": "user", "content": text}])

    ask(gateway, "refresh me")
    assert ask(gateway, "refresh me").headers["x-envelope-cache"] == "exact"
    assert asked("refresh me", "no-cache").headers["x-envelope-cache"] == "miss"  # went upstream, kept the answer
    assert asked("never kept", "no-store").headers["x-envelope-cache"] == "bypass"
    assert ask(gateway, "never kept").headers["x-envelope-cache"] == "miss"
    with pytest.raises(openai.BadRequestError) as bad:
        asked("x", "sometimes")
    assert bad.value.status_code == 400 and "x-envelope-cache-control" in str(bad.value)
