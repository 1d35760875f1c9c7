"""The eval's HTTP client against a real aiohttp server: headers sent and read, and every
failure turned into a reply with an error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from envelope.evals.client import ChatRequest, GatewayClient
from tests.support.processes import free_port


class Upstream:
    def __init__(self) -> None:
        self.seen: list[tuple[dict[str, str], dict[str, Any]]] = []

    async def chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.seen.append((dict(request.headers), body))
        said = body["messages"][-1]["content"]
        if said == "slow":
            await asyncio.sleep(2)
        if said == "bad":
            return web.json_response(
                {"error": {"message": "max_tokens is absurd", "type": "invalid_request_error"}}, status=400
            )
        if said == "odd":
            return web.json_response({"hello": "world"})
        completion = {"choices": [{"index": 0, "message": {"role": "assistant", "content": f"re: {said}"}}]}
        headers = {"x-envelope-model": "m", "x-envelope-cost-usd": "0.001", "server-timing": "x"}
        return web.json_response(completion, headers=headers)

    async def models(self, request: web.Request) -> web.Response:
        if request.headers.get("authorization") != "Bearer good":
            return web.json_response({"error": {"message": "Invalid API key."}}, status=401)
        return web.json_response({"object": "list", "data": []})


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Upstream]]:
    upstream = Upstream()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", upstream.chat)
    app.router.add_get("/v1/models", upstream.models)
    async with TestServer(app, host="127.0.0.1") as test_server:
        yield str(test_server.make_url("/v1")), upstream


async def test_an_answer_with_its_envelope_headers_and_the_headers_sent(server: tuple[str, Upstream]) -> None:
    url, upstream = server
    async with GatewayClient.open(url, "good", timeout_s=5, concurrency=2) as client:
        assert await client.problem() is None
        reply = await client.complete(
            ChatRequest("auto", ({"role": "user", "content": "hi"},), route="r", max_tokens=7)
        )
    assert (reply.status, reply.text, reply.error) == (200, "re: hi", None)
    assert reply.headers == {"x-envelope-model": "m", "x-envelope-cost-usd": "0.001"}
    assert reply.latency_ms > 0
    headers, body = upstream.seen[0]
    assert headers["x-envelope-route"] == "r" and headers["x-envelope-cache-control"] == "no-store"
    assert headers["Authorization"] == "Bearer good"
    assert body == {"model": "auto", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 7}


async def test_the_cache_may_be_allowed(server: tuple[str, Upstream]) -> None:
    url, upstream = server
    async with GatewayClient.open(url, "good", timeout_s=5, concurrency=1, use_cache=True) as client:
        await client.complete(ChatRequest("auto", ({"role": "user", "content": "hi"},)))
    assert "x-envelope-cache-control" not in upstream.seen[0][0]
    assert "x-envelope-route" not in upstream.seen[0][0]


async def test_http_errors_and_odd_bodies_are_errors(server: tuple[str, Upstream]) -> None:
    url, _ = server
    async with GatewayClient.open(url, "good", timeout_s=5, concurrency=1) as client:
        bad = await client.complete(ChatRequest("auto", ({"role": "user", "content": "bad"},)))
        odd = await client.complete(ChatRequest("auto", ({"role": "user", "content": "odd"},)))
    assert (bad.status, bad.text, bad.error) == (400, None, "HTTP 400: max_tokens is absurd")
    assert (odd.status, odd.error) == (200, "HTTP 200 but not a chat completion")


async def test_a_timeout_is_an_error(server: tuple[str, Upstream]) -> None:
    url, _ = server
    async with GatewayClient.open(url, "good", timeout_s=0.3, concurrency=1) as client:
        slow = await client.complete(ChatRequest("auto", ({"role": "user", "content": "slow"},)))
    assert slow.status is None and slow.error is not None and "timeout" in slow.error
    assert 250 < slow.latency_ms < 1500


async def test_a_refused_key_or_no_gateway_is_a_problem_before_the_run(server: tuple[str, Upstream]) -> None:
    url, _ = server
    async with GatewayClient.open(url, "wrong", timeout_s=5, concurrency=1) as client:
        assert await client.problem() == "the gateway refused the API key (HTTP 401: Invalid API key.)"
    nowhere = f"http://127.0.0.1:{free_port()}/v1"
    async with GatewayClient.open(nowhere, "good", timeout_s=5, concurrency=1) as client:
        problem = await client.problem()
        reply = await client.complete(ChatRequest("auto", ({"role": "user", "content": "hi"},)))
    assert problem is not None and problem.startswith(f"cannot connect to {nowhere}/models")
    assert reply.status is None and reply.error is not None and reply.error.startswith("cannot connect")
