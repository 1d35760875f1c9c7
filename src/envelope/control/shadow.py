"""Shadow traffic: once a request of a route with `shadow` has been answered, the shadow
model is asked the same, in the background, and both answers are kept for comparison
offline (`envelope experiments shadow`).

Off the request's path: the finisher only starts a task (at most `max_in_flight` per
route; more are dropped and counted, never queued). Not billed: the shadow call takes no
admission, no budget reservation and writes no ledger row; its cost is stored beside the
primary's in `shadow_results`. Answers are stored with their PII redacted and cut to
`MAX_TEXT` characters.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

import msgspec

from envelope.catalog import Catalog
from envelope.config.control import ShadowDoc
from envelope.control.transitions import store
from envelope.core.pricing import cost_usd
from envelope.errors import UpstreamError
from envelope.guardrails.pii import PiiDetector, redact
from envelope.pipeline.context import RequestContext
from envelope.providers.base import Timeouts
from envelope.store.records import ShadowRecord
from envelope.telemetry.metrics import Metrics
from envelope.wire import CompletionView

MAX_TEXT = 2000
_completion = msgspec.json.Decoder(CompletionView)


ShadowLog = Callable[[ShadowRecord], Awaitable[None]]


class Shadows:
    """The shadow finisher; long-lived (its tasks outlive a config activation)."""

    def __init__(
        self,
        metrics: Metrics,
        write: ShadowLog | None,
        *,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self._metrics = metrics
        self._write = write
        self._draw = draw
        self._catalog: Catalog | None = None
        self._pii: PiiDetector | None = None
        self._tasks: dict[str, set[asyncio.Task[None]]] = {}

    def configure(self, catalog: Catalog) -> None:
        self._catalog = catalog

    async def finish(self, ctx: RequestContext) -> None:
        route = ctx.route
        if route is None or route.shadow is None or ctx.chat is None or self._catalog is None:
            return
        doc = route.shadow
        if ctx.status != 200 or ctx.answered or not ctx.upstream_body or self._draw() >= doc.share:
            return  # only fresh answers: a cache hit or a failure has nothing to compare
        running = self._tasks.setdefault(route.name, set())
        if len(running) >= doc.max_in_flight:
            self._metrics.shadows.labels(route.name, doc.model, "dropped").inc()
            return
        task = asyncio.create_task(self._shadow(ctx, doc, self._catalog), name="envelope-shadow")
        running.add(task)
        task.add_done_callback(running.discard)

    async def close(self) -> None:
        tasks = [t for running in self._tasks.values() for t in running]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _shadow(self, ctx: RequestContext, doc: ShadowDoc, catalog: Catalog) -> None:
        served = catalog.models[doc.model]
        body = {k: v for k, v in ctx.upstream_body.items() if k not in ("stream", "stream_options")}
        started = time.perf_counter()
        status, text, output_tokens, cost = "ok", "", 0, 0.0
        try:
            answer = await served.deployments[0].provider.chat(body, Timeouts(doc.timeout_s, doc.timeout_s))
            completion = _completion.decode(answer)
            message = completion.choices[0].message if completion.choices else None
            text = (message.content or "") if message is not None else ""
            usage = completion.usage
            if usage is not None:
                output_tokens = usage.completion_tokens
                cost = cost_usd(served.doc.prices, input_tokens=usage.prompt_tokens, output_tokens=output_tokens)
        except UpstreamError as exc:
            status = exc.code or "upstream_error"
        except (msgspec.DecodeError, msgspec.ValidationError):
            status = "malformed"
        shadow_ms = (time.perf_counter() - started) * 1000.0
        self._metrics.shadows.labels(ctx.route_name, doc.model, "ok" if status == "ok" else "error").inc()
        record = ShadowRecord(
            request_id=ctx.request_id,
            ts=ctx.started_wall,
            tenant=ctx.tenant,
            route=ctx.route_name,
            primary_model=ctx.model_name,
            shadow_model=doc.model,
            status=status,
            primary_ms=ctx.latency_ms,
            shadow_ms=shadow_ms,
            primary_cost_usd=ctx.cost_usd,
            shadow_cost_usd=cost,
            primary_output_tokens=ctx.output_tokens,
            shadow_output_tokens=output_tokens,
            primary_text=await self._kept(ctx.answer_content()),
            shadow_text=await self._kept(text),
        )
        await store(self._write, record)

    async def _kept(self, text: str) -> str:
        """What is stored of an answer: PII redacted, at most MAX_TEXT characters."""
        if self._pii is None:  # built once, off the event loop (a fraction of a second of CPU)
            self._pii = await asyncio.to_thread(PiiDetector)
        text = text[:MAX_TEXT]
        return redact(text, self._pii.find(text))
