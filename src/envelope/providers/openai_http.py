"""Adapter for any OpenAI-compatible HTTP server (OpenAI, vLLM, llama.cpp, Ollama, TGI).

One pooled aiohttp session is shared by every adapter; each call carries its own
timeouts. Vendor failures become `UpstreamError`s here and nowhere else.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec

from envelope.config.documents import OpenAIProvider
from envelope.errors import (
    UpstreamError,
    UpstreamFailed,
    UpstreamRejected,
    UpstreamTimeout,
)
from envelope.providers.base import Timeouts

_encode = msgspec.json.encode


class _ErrorView(msgspec.Struct, forbid_unknown_fields=False):
    error: dict[str, Any] | str | None = None


class OpenAIHTTP:
    """Speaks the OpenAI wire to `base_url`; usable for any compatible server."""

    def __init__(self, name: str, doc: OpenAIProvider, session: aiohttp.ClientSession) -> None:
        self.name = name
        self.model = doc.model
        self.include_usage = doc.include_usage
        self._session = session
        base = doc.base_url.rstrip("/")
        self._chat_url = f"{base}/chat/completions"
        self._embed_url = f"{base}/embeddings"
        self._headers = {"content-type": "application/json"}
        if doc.api_key_env:
            key = os.environ.get(doc.api_key_env)
            if key:
                self._headers["authorization"] = f"Bearer {key}"

    async def chat(self, body: dict[str, Any], timeouts: Timeouts) -> bytes:
        return await self._post(self._chat_url, {**body, "model": self.model, "stream": False}, timeouts)

    async def embed(self, body: dict[str, Any], timeouts: Timeouts) -> bytes:
        return await self._post(self._embed_url, {**body, "model": self.model}, timeouts)

    async def chat_stream(self, body: dict[str, Any], timeouts: Timeouts) -> AsyncIterator[bytes]:
        payload = {**body, "model": self.model, "stream": True}
        if self.include_usage:
            payload["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
        # connect and headers within the attempt's budget; then no silence longer than `idle`
        timeout = aiohttp.ClientTimeout(total=None, connect=timeouts.total, sock_read=timeouts.idle)
        try:
            async with self._session.post(
                self._chat_url, data=_encode(payload), headers=self._headers, timeout=timeout
            ) as resp:
                if resp.status >= 400:
                    raise self._status_error(resp.status, await resp.read())
                async for data in _sse_data(resp.content):
                    if data == b"[DONE]":
                        return
                    yield data
        except UpstreamError:
            raise
        except aiohttp.ClientPayloadError as exc:
            raise UpstreamFailed(
                f"Deployment {self.name!r} broke the connection mid-stream; the answer is truncated.",
                code="stream_truncated",
            ) from exc
        except TimeoutError as exc:
            raise UpstreamTimeout(
                f"Deployment {self.name!r} went silent for more than {timeouts.idle:g}s mid-stream."
            ) from exc
        except (aiohttp.ClientError, OSError, ValueError) as exc:  # ValueError: an over-long line
            raise UpstreamFailed(f"Deployment {self.name!r} stream failed: {_describe(exc)}") from exc
        raise UpstreamFailed(
            f"Deployment {self.name!r} ended its stream without [DONE]; the answer is truncated.",
            code="stream_truncated",
        )

    async def close(self) -> None:
        """The shared session is closed by its owner."""

    async def _post(self, url: str, payload: dict[str, Any], timeouts: Timeouts) -> bytes:
        try:
            async with self._session.post(
                url, data=_encode(payload), headers=self._headers, timeout=aiohttp.ClientTimeout(total=timeouts.total)
            ) as resp:
                body = await resp.read()
                if resp.status >= 400:
                    raise self._status_error(resp.status, body)
                return body
        except UpstreamError:
            raise
        except TimeoutError as exc:
            raise UpstreamTimeout(f"Deployment {self.name!r} did not answer within {timeouts.total:.3g}s.") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamFailed(f"Deployment {self.name!r} failed: {_describe(exc)}") from exc

    def _status_error(self, status: int, body: bytes) -> UpstreamError:
        detail = _error_message(body)
        message = f"Deployment {self.name!r} answered HTTP {status}: {detail}"
        if status == 429:
            return UpstreamFailed(message, code="upstream_rate_limited")
        if status == 408 or status == 504:
            return UpstreamTimeout(message)
        if 400 <= status < 500:
            return UpstreamRejected(message)
        return UpstreamFailed(message)


async def _sse_data(content: aiohttp.StreamReader) -> AsyncIterator[bytes]:
    """Yield the data payload of each server-sent event (multi-line data joined)."""
    lines: list[bytes] = []
    while True:
        line = await content.readline()
        if not line:
            if lines:
                yield b"\n".join(lines)
            return
        line = line.rstrip(b"\r\n")
        if not line:
            if lines:
                yield b"\n".join(lines)
                lines = []
        elif line.startswith(b"data:"):
            value = line[5:]
            lines.append(value[1:] if value.startswith(b" ") else value)
        # comments (":") and other fields (event:, id:, retry:) carry nothing we relay


def _error_message(body: bytes) -> str:
    try:
        view = msgspec.json.decode(body, type=_ErrorView)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return body[:200].decode("utf-8", "replace") or "(empty body)"
    if isinstance(view.error, dict):
        return str(view.error.get("message", view.error))
    if isinstance(view.error, str):
        return view.error
    return body[:200].decode("utf-8", "replace")


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
