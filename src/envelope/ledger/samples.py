"""Sampled payloads: a share of chat requests kept whole — the request as the client sent
it and the answer — with their PII redacted, for `envelope replay` to send again to a
candidate config.

Off the hot path: the finisher draws and, for a sampled request, keeps a few references;
redaction (Presidio patterns, ≈ 0.3 ms) and the write happen in a background flush,
in batches, every `flush_interval_s`. A sample is a convenience, not a record: when the
store is away the batch is dropped (and counted in the log), unlike ledger rows.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

import msgspec

from envelope.guardrails.pii import PiiDetector, redact
from envelope.pipeline.context import RequestContext
from envelope.store.ports import SampleStore
from envelope.store.records import PayloadSample
from envelope.ticker import Ticker

log = logging.getLogger("envelope.ledger")

MAX_PENDING = 1000  # samples waiting for a flush; more are dropped
_KEPT_PARAMS = (
    "model",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "response_format",
    "tools",
    "tool_choice",
    "seed",
    "stream",
)


class Sampler:
    """The account observer that keeps `rate` of chat requests (authenticated, answered or
    failed upstream — not refused for the client's own mistakes)."""

    def __init__(
        self,
        store: SampleStore,
        rate: float,
        *,
        flush_interval_s: float = 1.0,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self._store = store
        self._rate = rate
        self._draw = draw
        self._pending: list[RequestContext] = []
        self._pii: PiiDetector | None = None
        self._ticker = Ticker("payload-samples", flush_interval_s, self.flush)

    def observe(self, ctx: RequestContext) -> None:
        if self._rate <= 0 or ctx.chat is None or ctx.key is None or 400 <= ctx.status < 500:
            return
        if self._draw() >= self._rate or len(self._pending) >= MAX_PENDING:
            return
        self._pending.append(ctx)  # finished: nothing changes it any more

    async def start(self) -> None:
        """Build the PII detector now (a fraction of a second of CPU, off the event loop),
        not at the first flush under load; then flush every interval."""
        if self._rate > 0 and self._pii is None:
            self._pii = await asyncio.to_thread(PiiDetector)
        self._ticker.start()

    async def close(self) -> None:
        await self._ticker.close()
        await self.flush()

    async def flush(self) -> int:
        """Redact and write what is waiting; the number written."""
        if not self._pending:
            return 0
        batch, self._pending = self._pending, []
        samples = await asyncio.to_thread(self._redacted, batch)
        try:
            await self._store.add_samples(samples)
        except Exception as exc:  # whatever the store raised: samples are a convenience
            log.warning("%d payload samples dropped: the store refused them (%s)", len(samples), exc)
            return 0
        return len(samples)

    def _redacted(self, batch: list[RequestContext]) -> list[PayloadSample]:
        if self._pii is None:
            self._pii = PiiDetector()
        return [self._sample(p) for p in batch]

    def _sample(self, ctx: RequestContext) -> PayloadSample:
        # the request as the client sent it (before redaction or added context); parsed once already
        sent: dict[str, Any] = msgspec.json.decode(ctx.body)
        request = {k: sent[k] for k in _KEPT_PARAMS if k in sent}
        request["messages"] = [self._message(m) for m in sent.get("messages", [])]
        return PayloadSample(
            request_id=ctx.request_id,
            ts=ctx.started_wall,
            tenant=ctx.tenant,
            route=ctx.route_name,
            feature=ctx.feature,
            config_version=ctx.config_version,
            request=msgspec.json.encode(request).decode(),
            answer=self._clean(ctx.answer_content()),
            status=ctx.status,
            model=ctx.model_name,
            tier=ctx.model.doc.tier if ctx.model else None,
            latency_ms=ctx.latency_ms,
            ttft_ms=ctx.ttft_ms,
            cost_usd=ctx.cost_usd,
            cache=ctx.cache,
        )

    def _message(self, message: Any) -> Any:
        if not isinstance(message, dict):
            return message
        content = message.get("content")
        if isinstance(content, str):
            return {**message, "content": self._clean(content)}
        if isinstance(content, list):
            parts = [
                {**p, "text": self._clean(p["text"])} if isinstance(p, dict) and isinstance(p.get("text"), str) else p
                for p in content
            ]
            return {**message, "content": parts}
        return message

    def _clean(self, text: str) -> str:
        assert self._pii is not None
        return redact(text, self._pii.find(text))
