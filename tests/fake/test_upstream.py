"""The fake upstream speaks OpenAI's wire to the official SDK and injects each fault."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import openai
import pytest
from openai import AsyncOpenAI

from envelope.fake.upstream import Fault, parse_fault, serve

CHAT: dict[str, Any] = {"model": "fake-model", "messages": [{"role": "user", "content": "Say hello in a few words."}]}


@pytest.fixture
async def base() -> AsyncIterator[str]:
    server = await serve("127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.close()


@pytest.fixture
async def client(base: str) -> AsyncIterator[AsyncOpenAI]:
    sdk = AsyncOpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0, timeout=5.0)
    yield sdk
    await sdk.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        yield session


def _events(text: str) -> list[str]:
    return [block.removeprefix("data: ") for block in text.split("\n\n") if block]


# --- normal behaviour through the openai SDK ---------------------------------------------


async def test_chat_non_stream(client: AsyncOpenAI) -> None:
    reply = await client.chat.completions.create(model="my-model", messages=[{"role": "user", "content": "x" * 40}])
    assert reply.model == "my-model"
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content == " ".join(["word"] * 16)
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens, reply.usage.total_tokens) == (11, 16, 27)


async def test_chat_max_tokens_caps_reply(client: AsyncOpenAI) -> None:
    reply = await client.chat.completions.create(model="m", messages=[], max_tokens=3)
    assert reply.choices[0].message.content == "word word word"
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None and reply.usage.completion_tokens == 3
    big = await client.chat.completions.create(model="m", messages=[], max_completion_tokens=1000)
    assert big.usage is not None and big.usage.completion_tokens == 64
    assert big.choices[0].finish_reason == "stop"


async def test_chat_stream_with_usage(client: AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="fake-model",
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    content = [c for c in chunks if c.choices]
    assert len(content) == 20
    assert content[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in content) == " ".join(["word"] * 16)
    assert [c.choices[0].finish_reason for c in content] == [None] * 19 + ["stop"]
    usage = chunks[-1]
    assert usage.choices == [] and usage.usage is not None
    assert usage.usage.completion_tokens == 16
    assert len({c.id for c in chunks}) == 1


async def test_stream_without_include_usage_has_no_usage_chunk(client: AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(model="m", messages=[], stream=True, max_tokens=2)
    chunks = [chunk async for chunk in stream]
    assert all(c.choices and c.usage is None for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "word word"
    assert chunks[-1].choices[0].finish_reason == "length"


async def test_embeddings_are_deterministic_unit_vectors(client: AsyncOpenAI) -> None:
    first = await client.embeddings.create(model="emb", input=["alpha", "beta"])  # base64 by default
    again = await client.embeddings.create(model="emb", input="alpha", encoding_format="float")
    assert [d.index for d in first.data] == [0, 1]
    vector = first.data[0].embedding
    assert len(vector) == 8
    assert math.isclose(sum(v * v for v in vector), 1.0, rel_tol=1e-5)
    assert again.data[0].embedding == pytest.approx(vector, abs=1e-6)
    assert first.data[1].embedding != pytest.approx(vector, abs=1e-3)
    assert first.usage.prompt_tokens == 4


async def test_models(client: AsyncOpenAI) -> None:
    ids = [model.id async for model in client.models.list()]
    assert "fake-model" in ids


async def test_client_mistakes_are_4xx(base: str, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{base}/v1/chat/completions", data=b'{"model":') as bad:
        assert bad.status == 400
        assert "error" in await bad.json()
    async with http.post(f"{base}/v1/chat/completions", json={**CHAT, "max_tokens": 0}) as zero:
        assert zero.status == 400
    async with http.get(f"{base}/v1/chat/completions") as wrong_method:
        assert wrong_method.status == 405
    async with http.get(f"{base}/v2/nothing") as missing:
        assert missing.status == 404
    async with http.get(f"{base}/fault/explode/v1/models") as unknown_fault:
        assert unknown_fault.status == 404


async def test_keep_alive_and_pipelining(base: str) -> None:
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    request = f"GET /v1/models HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    writer.write(request * 3)  # three pipelined requests in one write
    for _ in range(3):
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
        assert head.startswith(b"HTTP/1.1 200")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        assert json.loads(await reader.readexactly(length))["object"] == "list"
    writer.close()
    await writer.wait_closed()


# --- faults ---------------------------------------------------------------------------------


def test_parse_fault() -> None:
    assert parse_fault("status-503") == Fault("status", status=503)
    assert parse_fault("slow-first-token-250") == Fault("slow-first-token", delay_s=0.25)
    assert parse_fault("delay-10") == Fault("delay", delay_s=0.01)
    assert parse_fault("hang") == Fault("hang")
    assert parse_fault("status-200") is None
    assert parse_fault("delay-x") is None
    assert parse_fault("boom") is None


@pytest.mark.parametrize("status", [400, 429, 500, 503])
async def test_status_faults(base: str, http: aiohttp.ClientSession, status: int) -> None:
    for method, route in (("POST", "chat/completions"), ("POST", "embeddings"), ("GET", "models")):
        async with http.request(method, f"{base}/fault/status-{status}/v1/{route}", json=CHAT) as response:
            assert response.status == status
            error = (await response.json())["error"]
            assert set(error) == {"message", "type", "param", "code"}


async def test_status_fault_through_sdk(base: str) -> None:
    async with AsyncOpenAI(base_url=f"{base}/fault/status-503/v1", api_key="x", max_retries=0) as sdk:
        with pytest.raises(openai.InternalServerError) as raised:
            await sdk.chat.completions.create(model="m", messages=[])
    assert raised.value.status_code == 503


async def test_hang_never_answers(base: str, http: aiohttp.ClientSession) -> None:
    with pytest.raises(asyncio.TimeoutError):
        async with http.post(
            f"{base}/fault/hang/v1/chat/completions", json=CHAT, timeout=aiohttp.ClientTimeout(total=0.3)
        ) as response:
            await response.read()


async def test_delay(base: str, http: aiohttp.ClientSession) -> None:
    for stream in (False, True):
        started = time.perf_counter()
        async with http.post(f"{base}/fault/delay-200/v1/chat/completions", json={**CHAT, "stream": stream}) as r:
            assert r.status == 200
            assert time.perf_counter() - started >= 0.19  # headers too are late
            await r.read()


async def test_slow_first_token(base: str, http: aiohttp.ClientSession) -> None:
    started = time.perf_counter()
    # headers at once, the first event after a second (wide apart: a loaded machine is slow to schedule)
    async with http.post(f"{base}/fault/slow-first-token-1000/v1/chat/completions", json={**CHAT, "stream": True}) as r:
        headers_at = time.perf_counter() - started
        first = await r.content.readuntil(b"\n\n")
        first_at = time.perf_counter() - started
        rest = await r.read()
    assert headers_at < 0.6 and first_at >= 0.99
    assert first.startswith(b"data: {") and rest.endswith(b"data: [DONE]\n\n")
    started = time.perf_counter()
    async with http.post(f"{base}/fault/slow-first-token-200/v1/chat/completions", json=CHAT) as r:
        await r.json()
    assert time.perf_counter() - started >= 0.19


async def test_cut_stream_is_incomplete(base: str, http: aiohttp.ClientSession) -> None:
    received = b""
    with pytest.raises(aiohttp.ClientPayloadError):
        async with http.post(f"{base}/fault/cut/v1/chat/completions", json={**CHAT, "stream": True}) as r:
            assert r.status == 200
            async for piece in r.content.iter_any():
                received += piece
    events = _events(received.decode())
    assert len(events) == 2 and "[DONE]" not in events
    assert json.loads(events[0])["choices"][0]["delta"]["role"] == "assistant"


async def test_cut_stream_through_sdk(base: str) -> None:
    async with AsyncOpenAI(base_url=f"{base}/fault/cut/v1", api_key="x", max_retries=0) as sdk:
        stream = await sdk.chat.completions.create(model="m", messages=[], stream=True)
        seen = 0
        with pytest.raises(openai.APIError):
            async for _ in stream:
                seen += 1
    assert seen == 2


async def test_cut_non_stream_is_short(base: str, http: aiohttp.ClientSession) -> None:
    with pytest.raises(aiohttp.ClientPayloadError):
        async with http.post(f"{base}/fault/cut/v1/chat/completions", json=CHAT) as r:
            assert r.status == 200
            await r.read()


async def test_malformed(base: str, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{base}/fault/malformed/v1/chat/completions", json=CHAT) as r:
        assert r.status == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(await r.read())
    async with http.post(f"{base}/fault/malformed/v1/chat/completions", json={**CHAT, "stream": True}) as r:
        assert r.status == 200
        assert _events((await r.read()).decode()) == ["{not json", "[DONE]"]
    async with http.post(f"{base}/fault/malformed/v1/embeddings", json={"input": "a"}) as r:
        with pytest.raises(json.JSONDecodeError):
            json.loads(await r.read())


async def test_no_usage(base: str, http: aiohttp.ClientSession) -> None:
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    async with http.post(f"{base}/fault/no-usage/v1/chat/completions", json=body) as r:
        events = _events((await r.read()).decode())
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert len(chunks) == 20 and all(c["choices"] and "usage" not in c for c in chunks)
