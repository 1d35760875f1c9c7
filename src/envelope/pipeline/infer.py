"""Infer: walk the model's deployments in order until one answers within the budget.

Each attempt's timeout is what is left of the request's latency budget, bounded by
the deployment's own limit. A retryable failure moves on to the next deployment
(recorded as a degradation); a client-side rejection does not. For streams, the
first event is awaited here, so a failure before any byte is sent still becomes a
proper HTTP error; later failures are the relay's to report.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from envelope.catalog import ServedDeployment
from envelope.errors import UpstreamError, UpstreamFailed, UpstreamTimeout
from envelope.pipeline.context import RequestContext
from envelope.providers.base import Timeouts


class Infer:
    name = "infer"

    async def run(self, ctx: RequestContext) -> None:
        assert ctx.model is not None
        failures: list[UpstreamError] = []
        for deployment in ctx.model.deployments:
            remaining = ctx.remaining_s()
            if remaining <= 0:
                break
            timeouts = Timeouts(
                total=min(deployment.doc.timeout_s, remaining), idle=deployment.doc.stream_idle_timeout_s
            )
            ctx.deployment = deployment
            ctx.attempts += 1
            ctx.upstream_started = time.perf_counter()
            try:
                await self._attempt(ctx, deployment, timeouts)
            except UpstreamError as exc:
                failures.append(exc)
                if not exc.retryable:
                    raise
                ctx.degradations.append(f"fallback_from:{deployment.doc.name}")
                continue
            return
        if failures:
            raise failures[-1]
        budget = ctx.envelope.deadline_ms if ctx.envelope else 0
        raise UpstreamTimeout(
            f"The latency budget of {budget:g} ms was spent before any attempt.",
            code="latency_budget_exhausted",
        )

    async def _attempt(self, ctx: RequestContext, deployment: ServedDeployment, timeouts: Timeouts) -> None:
        provider = deployment.provider
        if ctx.operation == "embeddings":
            ctx.answer = await provider.embed(ctx.upstream_body, timeouts)
        elif ctx.stream:
            ctx.events = await _open_stream(provider.chat_stream(ctx.upstream_body, timeouts), timeouts.total)
        else:
            ctx.answer = await provider.chat(ctx.upstream_body, timeouts)


async def _open_stream(events: AsyncIterator[bytes], budget: float) -> AsyncIterator[bytes]:
    """Wait for the first event within `budget`; hand back a stream that replays it."""

    try:
        async with asyncio.timeout(budget):
            first = await anext(events)
    except StopAsyncIteration:
        raise UpstreamFailed("The upstream ended the stream before sending anything.", code="stream_empty") from None
    except TimeoutError:
        raise UpstreamTimeout(f"No first token within the remaining budget of {budget:.3g}s.") from None
    return _prepend(first, events)


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for item in rest:
        yield item
