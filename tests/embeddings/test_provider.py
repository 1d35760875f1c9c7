"""The MiniLM adapter called directly (no HTTP): OpenAI's embeddings shape, floats and base64."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import numpy as np
import pytest

from envelope.config.documents import MiniLMProvider
from envelope.errors import UpstreamRejected, UpstreamTimeout
from envelope.providers.base import Timeouts
from envelope.providers.minilm import MiniLMEmbeddings

TIMEOUTS = Timeouts(total=60.0, idle=30.0)


@pytest.fixture
async def adapter() -> AsyncIterator[MiniLMEmbeddings]:
    async with aiohttp.ClientSession() as session:
        provider = MiniLMEmbeddings("minilm-local", MiniLMProvider(type="minilm", max_batch=4), session)
        yield provider
        await provider.close()


async def embed(adapter: MiniLMEmbeddings, **body: Any) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(await adapter.embed({"model": "minilm", **body}, TIMEOUTS))
    return answer


async def test_string_input(adapter: MiniLMEmbeddings) -> None:
    answer = await embed(adapter, input="hello world")
    assert answer["object"] == "list"
    assert answer["model"] == "all-MiniLM-L6-v2"
    [item] = answer["data"]
    assert item["object"] == "embedding" and item["index"] == 0
    assert len(item["embedding"]) == 384
    assert abs(np.linalg.norm(item["embedding"]) - 1.0) < 1e-5
    # [CLS] hello world [SEP]
    assert answer["usage"] == {"prompt_tokens": 4, "total_tokens": 4}


async def test_list_input_keeps_order_across_batches(adapter: MiniLMEmbeddings) -> None:
    texts = [f"sentence number {i} about {topic}" for i, topic in enumerate(["cats", "money", "rain"] * 3)]
    answer = await embed(adapter, input=texts)
    assert [item["index"] for item in answer["data"]] == list(range(len(texts)))
    vectors = np.array([item["embedding"] for item in answer["data"]])
    assert vectors.shape == (9, 384)
    alone = await embed(adapter, input=texts[5])
    np.testing.assert_allclose(vectors[5], alone["data"][0]["embedding"], atol=1e-5)
    assert answer["usage"]["prompt_tokens"] > 9 * 5


async def test_base64_is_little_endian_float32(adapter: MiniLMEmbeddings) -> None:
    texts = ["decode me", "and me too"]
    floats = await embed(adapter, input=texts)
    packed = await embed(adapter, input=texts, encoding_format="base64")
    for as_float, as_b64 in zip(floats["data"], packed["data"], strict=True):
        decoded = np.frombuffer(base64.b64decode(as_b64["embedding"]), dtype="<f4")
        assert decoded.shape == (384,)
        np.testing.assert_allclose(decoded, as_float["embedding"], atol=1e-6)
    assert packed["usage"] == floats["usage"]


async def test_concurrent_requests_are_answered_separately(adapter: MiniLMEmbeddings) -> None:
    texts = [f"request {i}" for i in range(6)]
    answers = await asyncio.gather(*(embed(adapter, input=text) for text in texts))
    for text, answer in zip(texts, answers, strict=True):
        alone = await embed(adapter, input=text)
        np.testing.assert_allclose(answer["data"][0]["embedding"], alone["data"][0]["embedding"], atol=1e-5)


async def test_dimensions_384_is_accepted(adapter: MiniLMEmbeddings) -> None:
    answer = await embed(adapter, input="x", dimensions=384)
    assert len(answer["data"][0]["embedding"]) == 384


@pytest.mark.parametrize(
    "body",
    [
        {"input": [1, 2, 3]},
        {"input": [[1, 2], [3]]},
        {"input": []},
        {"input": None},
        {"input": "x", "dimensions": 128},
        {"input": "x", "encoding_format": "int8"},
    ],
)
async def test_unsupported_requests_are_rejected(adapter: MiniLMEmbeddings, body: dict[str, Any]) -> None:
    with pytest.raises(UpstreamRejected):
        await adapter.embed(body, TIMEOUTS)


async def test_token_ids_are_refused_with_the_reason(adapter: MiniLMEmbeddings) -> None:
    with pytest.raises(UpstreamRejected, match="token ids") as info:
        await adapter.embed({"input": [101, 102]}, TIMEOUTS)
    assert info.value.param == "input"


async def test_chat_is_refused(adapter: MiniLMEmbeddings) -> None:
    with pytest.raises(UpstreamRejected, match="embeddings only"):
        await adapter.chat({"messages": []}, TIMEOUTS)
    with pytest.raises(UpstreamRejected, match="embeddings only"):
        async for _ in adapter.chat_stream({"messages": []}, TIMEOUTS):
            pass


async def test_total_timeout_is_enforced(adapter: MiniLMEmbeddings) -> None:
    with pytest.raises(UpstreamTimeout):
        await adapter.embed({"input": "too slow"}, Timeouts(total=1e-4, idle=1.0))
