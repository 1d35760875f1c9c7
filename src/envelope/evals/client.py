"""The eval's HTTP client: chat completions sent to a running gateway over aiohttp.

Transport and HTTP failures are translated here into a `Reply` with an error; nothing
above this module sees an aiohttp exception. Every call has an explicit timeout.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp

ROUTE_HEADER = "x-envelope-route"
CACHE_HEADER = "x-envelope-cache-control"
_ENVELOPE_PREFIX = "x-envelope-"
_ERROR_CHARS = 300


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One chat completion to send (non-streaming)."""

    model: str
    messages: tuple[dict[str, Any], ...]
    route: str | None = None
    max_tokens: int | None = None
    response_format: dict[str, Any] | None = None
    temperature: float | None = None

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model, "messages": list(self.messages)}
        if self.max_tokens is not None:
            out["max_tokens"] = self.max_tokens
        if self.response_format is not None:
            out["response_format"] = self.response_format
        if self.temperature is not None:
            out["temperature"] = self.temperature
        return out


@dataclass(frozen=True, slots=True)
class Reply:
    """What came back: the answer text, or an error; the gateway's `x-envelope-*` headers."""

    latency_ms: float
    status: int | None = None  # None: no HTTP answer at all
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None


class Completer(Protocol):
    """Anything that answers a chat request (the gateway client, or a fake in tests)."""

    async def complete(self, request: ChatRequest) -> Reply: ...


class GatewayClient:
    """Chat completions through one gateway, with one API key, over a pooled session."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, api_key: str, *, use_cache: bool) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._url = self._base + "/chat/completions"
        self._headers = {"authorization": f"Bearer {api_key}", "content-type": "application/json"}
        if not use_cache:
            # A cached answer would hide a regression: every item gets a fresh one.
            self._headers[CACHE_HEADER] = "no-store"

    @classmethod
    @asynccontextmanager
    async def open(
        cls, base_url: str, api_key: str, *, timeout_s: float, concurrency: int, use_cache: bool = False
    ) -> AsyncIterator[GatewayClient]:
        timeout = aiohttp.ClientTimeout(total=timeout_s, connect=min(timeout_s, 10.0))
        connector = aiohttp.TCPConnector(limit=max(concurrency, 1) + 2)  # + the judge's calls
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            yield cls(session, base_url, api_key, use_cache=use_cache)

    async def problem(self) -> str | None:
        """Why this gateway cannot be evaluated (unreachable, key refused), or None.

        Asked once before a run, so a wrong URL or key is a usage error, not a run of
        failed items."""
        url = self._base + "/models"
        try:
            async with self._session.get(url, headers=self._headers) as response:
                raw = await response.read()
        except aiohttp.ClientConnectorError as exc:
            return f"cannot connect to {url}: {exc.os_error}"
        except TimeoutError:
            return f"no answer from {url} within the timeout"
        except aiohttp.ClientError as exc:
            return f"{url}: {type(exc).__name__}: {exc}"
        if response.status in (401, 403):
            try:
                document: Any = json.loads(raw)
            except ValueError:
                document = None
            return f"the gateway refused the API key (HTTP {response.status}: {_error_message(document, raw)})"
        return None

    async def complete(self, request: ChatRequest) -> Reply:
        headers = dict(self._headers)
        if request.route:
            headers[ROUTE_HEADER] = request.route
        started = time.perf_counter()
        try:
            async with self._session.post(self._url, json=request.body(), headers=headers) as response:
                raw = await response.read()
                latency_ms = (time.perf_counter() - started) * 1000
                seen = {k.lower(): v for k, v in response.headers.items() if k.lower().startswith(_ENVELOPE_PREFIX)}
                return _reply(response.status, raw, latency_ms, seen)
        except aiohttp.ClientConnectorError as exc:
            return Reply(_since(started), error=f"cannot connect to {self._url}: {exc.os_error}")
        except TimeoutError:
            return Reply(_since(started), error=f"no answer within the timeout ({self._session.timeout.total}s)")
        except aiohttp.ClientError as exc:
            return Reply(_since(started), error=f"{type(exc).__name__}: {exc}")


def _reply(status: int, raw: bytes, latency_ms: float, headers: dict[str, str]) -> Reply:
    try:
        document: Any = json.loads(raw)
    except ValueError:
        document = None
    if status != 200:
        return Reply(latency_ms, status, headers=headers, error=f"HTTP {status}: {_error_message(document, raw)}")
    try:
        content = document["choices"][0]["message"].get("content")
    except (TypeError, KeyError, IndexError, AttributeError):
        return Reply(latency_ms, status, headers=headers, error="HTTP 200 but not a chat completion")
    text = content if isinstance(content, str) else ""
    return Reply(latency_ms, status, text=text, headers=headers)


def _error_message(document: Any, raw: bytes) -> str:
    if isinstance(document, dict) and isinstance(document.get("error"), dict):
        message = document["error"].get("message")
        if isinstance(message, str):
            return message[:_ERROR_CHARS]
    return raw[:_ERROR_CHARS].decode("utf-8", "replace") or "(empty body)"


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
