"""Adapter for the built-in embedder: all-MiniLM-L6-v2 in process (ONNX Runtime or numpy, no torch).

The model loads on first use and concurrent requests share forward passes
(`embeddings/embedder.py`). Answers are OpenAI's embeddings JSON, floats or base64
(little-endian float32, what the `openai` SDK asks for by default).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import msgspec

from envelope.config.documents import MiniLMProvider
from envelope.embeddings.embedder import MODEL_NAME, Embedder, Row
from envelope.embeddings.minilm import MiniLM, ModelNotInstalled
from envelope.errors import (
    UpstreamFailed,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from envelope.providers.base import Timeouts


class _Item(msgspec.Struct, kw_only=True):
    object: str = "embedding"
    index: int
    embedding: list[float] | str


class _Usage(msgspec.Struct):
    prompt_tokens: int
    total_tokens: int


class _Answer(msgspec.Struct, kw_only=True):
    object: str = "list"
    data: list[_Item]
    model: str = MODEL_NAME
    usage: _Usage


@dataclass(frozen=True, slots=True)
class _Request:
    texts: list[str]
    as_base64: bool


class MiniLMEmbeddings:
    """Serves embeddings with all-MiniLM-L6-v2; chat is refused."""

    def __init__(self, name: str, doc: MiniLMProvider, session: aiohttp.ClientSession) -> None:
        self.name = name
        self.embedder = Embedder(doc.max_batch, doc.runtime)

    async def embed(self, body: dict[str, Any], timeouts: Timeouts) -> bytes:
        request = self._parse(body)
        try:
            async with asyncio.timeout(timeouts.total):
                rows = await self.embedder.embed(request.texts)
        except TimeoutError as exc:
            raise UpstreamTimeout(f"Deployment {self.name!r} did not embed within {timeouts.total:.3g}s.") from exc
        except ModelNotInstalled as exc:
            raise UpstreamUnavailable(str(exc), code="embedding_model_missing") from exc
        except (OSError, KeyError) as exc:
            raise UpstreamUnavailable(f"Deployment {self.name!r} could not load {MODEL_NAME}: {exc}") from exc
        except (ValueError, TypeError, RuntimeError, MemoryError) as exc:
            raise UpstreamFailed(f"Deployment {self.name!r} could not embed: {exc}") from exc
        return _encode_answer(rows, as_base64=request.as_base64)

    async def chat(self, body: dict[str, Any], timeouts: Timeouts) -> bytes:
        raise self._chat_refused()

    async def chat_stream(self, body: dict[str, Any], timeouts: Timeouts) -> AsyncIterator[bytes]:
        raise self._chat_refused()
        yield b""  # unreachable; makes this an async generator like the protocol's

    async def close(self) -> None:
        await self.embedder.close()

    def _parse(self, body: dict[str, Any]) -> _Request:
        dimensions = body.get("dimensions")
        if dimensions is not None and dimensions != MiniLM.dimensions:
            raise UpstreamRejected(
                f"{MODEL_NAME} gives {MiniLM.dimensions}-dimensional vectors only; "
                f"dimensions={dimensions!r} is not supported.",
                param="dimensions",
            )
        encoding = body.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            raise UpstreamRejected(
                f"encoding_format must be 'float' or 'base64', not {encoding!r}.", param="encoding_format"
            )
        return _Request(_texts(body.get("input")), as_base64=encoding == "base64")

    def _chat_refused(self) -> UpstreamRejected:
        return UpstreamRejected(f"Deployment {self.name!r} ({MODEL_NAME}) serves embeddings only.")


def _texts(value: object) -> list[str]:
    """The request's `input` as a list of strings; token-id arrays are refused."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return value
    if isinstance(value, list) and value and all(isinstance(item, int | list) for item in value):
        raise UpstreamRejected(
            f"{MODEL_NAME} takes text, not token ids: its WordPiece vocabulary differs from the client's tokenizer.",
            param="input",
        )
    raise UpstreamRejected("input must be a string or a non-empty list of strings.", param="input")


def _encode_answer(rows: list[Row], *, as_base64: bool) -> bytes:
    data = [_Item(index=i, embedding=_vector_field(row, as_base64)) for i, row in enumerate(rows)]
    tokens = sum(row.tokens for row in rows)
    return msgspec.json.encode(_Answer(data=data, usage=_Usage(prompt_tokens=tokens, total_tokens=tokens)))


def _vector_field(row: Row, as_base64: bool) -> list[float] | str:
    if as_base64:
        return base64.b64encode(row.vector.astype("<f4", copy=False).tobytes()).decode("ascii")
    values: list[float] = row.vector.tolist()
    return values
