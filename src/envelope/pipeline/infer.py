"""Infer: walk the model's deployments in order until one answers within the budget.

Each attempt's timeout is what is left of the request's latency budget, bounded by
the deployment's own limit. A retryable failure (5xx, 429, timeout, refused or broken
connection, malformed answer) is retried on the same deployment up to its `retries`,
with exponential backoff and jitter, while the budget allows; then the walk moves on
to the next deployment. A client-side rejection (upstream 4xx) ends the walk. Every
retry, fallback and skipped deployment is recorded as a degradation.

The walk's order comes from the model's balancing strategy (`core/balance.py`: ordered,
least in flight, latency EWMA, weighted, prefix affinity). Each deployment has a
circuit breaker (`core/breaker.py`, per process): after
`failure_threshold` consecutive failures it opens and the walk skips it for `open_s`,
then lets `probes` requests through to see whether it has recovered.

With `hedge` on a route, the first deployment gets the request and, if it has not
answered after `hedge_after_ms` (default: the route's p95 target), the second gets it
too; the first answer wins — for a stream, the first to send its first event — and
the other is cancelled (`hedged:NAME`).
The upstream may still bill the cancelled request.

When every deployment of the model failed (retryably, or with breakers open) and the
route's policy sets `fallback_tiers`, the walk goes on with the alternates the route
stage fitted — another model of the same tier, then other tiers in preference order —
skipping those whose recent latency says they would not answer within what is left of
the budget (`model_fallback:A->B`, `slo_skip:B`).

For streams, the first event is awaited here, so a failure before any byte is sent
still becomes a proper HTTP error; later failures are the relay's to report.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from typing import TypeGuard, TypeVar

from envelope.catalog import ServedDeployment
from envelope.errors import UpstreamError, UpstreamFailed, UpstreamTimeout
from envelope.pipeline.context import RequestContext
from envelope.pipeline.fleet import Fleet
from envelope.providers.base import Timeouts

T = TypeVar("T")


class Infer:
    name = "infer"

    def __init__(self, fleet: Fleet | None = None, rng: random.Random | None = None) -> None:
        self.fleet = fleet or Fleet()
        self._rng = rng or random.Random()

    async def run(self, ctx: RequestContext) -> None:
        failures: list[UpstreamError] = []
        if await self._serve(ctx, failures):
            return
        routing = ctx.routing
        if routing is not None and routing.fallback_tiers:  # `_serve` raised any failure not worth a retry
            for alternate in list(ctx.alternates):
                if ctx.remaining_s() <= 0:
                    break
                if not self.fleet.within(alternate.model, ctx.remaining_s()):
                    ctx.degradations.append(f"slo_skip:{alternate.model.doc.name}")
                    continue
                assert ctx.model is not None
                previous = ctx.model
                ctx.use(alternate)
                ctx.degradations.append(f"model_fallback:{previous.doc.name}->{alternate.model.doc.name}")
                if await self._serve(ctx, failures):
                    return
        if failures:
            raise failures[-1]
        budget = ctx.envelope.deadline_ms if ctx.envelope else 0
        raise UpstreamTimeout(
            f"No deployment could be tried within the latency budget of {budget:g} ms"
            " (all spent, or every breaker open).",
            code="latency_budget_exhausted",
        )

    async def _serve(self, ctx: RequestContext, failures: list[UpstreamError]) -> bool:
        """Walk the model's deployments (hedging the first two if the route says so);
        True once one answered. A non-retryable failure is raised at once."""
        assert ctx.model is not None and ctx.route is not None
        deployments = self.fleet.order(ctx.model, ctx.chat.messages if ctx.chat else None)
        if ctx.route.hedge and len(deployments) > 1:
            if await self._hedged(ctx, deployments[0], deployments[1], failures):
                return True
            if failures and not failures[-1].retryable:
                raise failures[-1]
            deployments = deployments[2:]  # both hedged deployments failed: walk on from the third
        for deployment in deployments:
            if not self.fleet.allow(deployment, time.monotonic()):
                ctx.degradations.append(f"breaker_open:{deployment.doc.name}")
                continue
            before = len(failures)
            if await self._try_deployment(ctx, deployment, failures):
                return True
            if len(failures) > before:
                if not failures[-1].retryable:
                    raise failures[-1]
                ctx.degradations.append(f"fallback_from:{deployment.doc.name}")
        return False

    async def _try_deployment(
        self, ctx: RequestContext, deployment: ServedDeployment, failures: list[UpstreamError]
    ) -> bool:
        """Attempt a deployment, with its retries; True once it answered."""
        for attempt in range(deployment.doc.retries + 1):
            remaining = ctx.remaining_s()
            if remaining <= 0:
                return False
            timeouts = Timeouts(
                total=min(deployment.doc.timeout_s, remaining), idle=deployment.doc.stream_idle_timeout_s
            )
            ctx.deployment = deployment
            ctx.attempts += 1
            ctx.upstream_started = time.perf_counter()
            try:
                await self._tracked(deployment, self._attempt(ctx, deployment, timeouts))
            except UpstreamError as exc:
                failures.append(exc)
                if not exc.retryable or attempt == deployment.doc.retries:
                    return False
                delay = deployment.doc.backoff_ms / 1000.0 * 2**attempt * (0.5 + self._rng.random())
                if delay >= ctx.remaining_s():
                    return False
                await asyncio.sleep(delay)
                if not self.fleet.allow(deployment, time.monotonic()):
                    return False  # that failure opened it (or a probe failed): no more tries here
                ctx.degradations.append(f"retry:{deployment.doc.name}")
                continue
            return True
        return False

    async def _tracked(self, deployment: ServedDeployment, call: Awaitable[T]) -> T:
        """One upstream call, counted in flight, its outcome fed to the deployment's
        breaker and, on success, its latency to the EWMA."""
        started = time.perf_counter()
        try:
            with self.fleet.attempt(deployment):
                result = await call
        except UpstreamError as exc:
            # an upstream 4xx is the request's fault: the deployment itself is healthy
            self.fleet.record(deployment, ok=not exc.retryable, now=time.monotonic())
            raise
        self.fleet.record(deployment, ok=True, now=time.monotonic())
        self.fleet.observe(deployment, (time.perf_counter() - started) * 1000.0)
        return result

    async def _attempt(self, ctx: RequestContext, deployment: ServedDeployment, timeouts: Timeouts) -> None:
        provider = deployment.provider
        if ctx.stream:
            ctx.events = await _open_stream(provider.chat_stream(ctx.upstream_body, timeouts), timeouts.total)
        else:
            ctx.answer = await self._answer(ctx, deployment, timeouts)

    @staticmethod
    async def _answer(ctx: RequestContext, deployment: ServedDeployment, timeouts: Timeouts) -> bytes:
        if ctx.operation == "embeddings":
            return await deployment.provider.embed(ctx.upstream_body, timeouts)
        return await deployment.provider.chat(ctx.upstream_body, timeouts)

    async def _hedged(
        self, ctx: RequestContext, first: ServedDeployment, second: ServedDeployment, failures: list[UpstreamError]
    ) -> bool:
        """Ask the first deployment; if it has not answered after the hedge delay, ask the
        second too. The first answer wins and the other request is cancelled. True if
        one answered; False (failures recorded) if both failed or the budget ran out."""
        assert ctx.route is not None
        after_ms = ctx.route.hedge_after_ms or ctx.route.latency.p95_ms or 0.0
        now = time.monotonic()
        racers = [d for d in (first, second) if self.fleet.allow(d, now)]
        ctx.degradations.extend(f"breaker_open:{d.doc.name}" for d in (first, second) if d not in racers)
        if not racers or ctx.remaining_s() <= 0:
            return False
        ctx.upstream_started = time.perf_counter()
        tasks = {asyncio.ensure_future(self._race(ctx, racers[0])): racers[0]}
        done, _ = await asyncio.wait(tasks, timeout=min(after_ms / 1000.0, ctx.remaining_s()))
        if not done and len(racers) > 1 and ctx.remaining_s() > 0:
            ctx.degradations.append(f"hedged:{racers[1].doc.name}")
            tasks[asyncio.ensure_future(self._race(ctx, racers[1]))] = racers[1]
        try:
            pending = set(tasks)
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    outcome = task.result()
                    if isinstance(outcome, UpstreamError):
                        failures.append(outcome)
                        ctx.degradations.append(f"fallback_from:{tasks[task].doc.name}")
                        continue
                    ctx.deployment = tasks[task]
                    if isinstance(outcome, bytes):
                        ctx.answer = outcome
                    else:
                        ctx.events = outcome
                    return True
            return False
        finally:
            for task in tasks:
                if not task.done():
                    task.cancel()  # the loser: its answer is not needed
                elif not task.cancelled() and task.exception() is None:
                    outcome = task.result()
                    if _is_stream(outcome) and outcome is not ctx.events:
                        await outcome.aclose()  # opened too, but second: hang up on it
            ctx.attempts += len(tasks)

    async def _race(
        self, ctx: RequestContext, deployment: ServedDeployment
    ) -> bytes | AsyncGenerator[bytes] | UpstreamError:
        """One racer of a hedge: the whole answer, or a stream once its first event came."""
        timeouts = Timeouts(
            total=min(deployment.doc.timeout_s, max(ctx.remaining_s(), 0.001)),
            idle=deployment.doc.stream_idle_timeout_s,
        )
        try:
            if ctx.stream:
                opened = _open_stream(deployment.provider.chat_stream(ctx.upstream_body, timeouts), timeouts.total)
                return await self._tracked(deployment, opened)
            return await self._tracked(deployment, self._answer(ctx, deployment, timeouts))
        except UpstreamError as exc:
            return exc


def _is_stream(outcome: object) -> TypeGuard[AsyncGenerator[bytes]]:
    return isinstance(outcome, AsyncGenerator)


async def _open_stream(events: AsyncIterator[bytes], budget: float) -> AsyncGenerator[bytes]:
    """Wait for the first event within `budget`; hand back a stream that replays it."""
    try:
        async with asyncio.timeout(budget):
            first = await anext(events)
    except StopAsyncIteration:
        raise UpstreamFailed("The upstream ended the stream before sending anything.", code="stream_empty") from None
    except TimeoutError:
        raise UpstreamTimeout(f"No first token within the remaining budget of {budget:.3g}s.") from None
    return _prepend(first, events)


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncGenerator[bytes]:
    try:
        yield first
        async for item in rest:
            yield item
    finally:
        if isinstance(rest, AsyncGenerator):
            await rest.aclose()
