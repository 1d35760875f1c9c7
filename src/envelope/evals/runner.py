"""The runner: every golden item through the gateway, graded, with bounded concurrency.

An item whose request fails (an HTTP error, a timeout, no connection) is a failed
item: its error is recorded and each of its checks is scored 0, not scored.
Results come back in the items' order, whatever order the answers arrive in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from envelope.evals.client import ChatRequest, Completer, Reply
from envelope.evals.golden import GoldenItem
from envelope.evals.grader import Grader
from envelope.evals.results import ItemResult, envelope_facts
from envelope.evals.scorers import item_passed, item_score, unscored


@dataclass(frozen=True, slots=True)
class RunOptions:
    """What an item does not say for itself."""

    model: str = "auto"
    route: str | None = None
    temperature: float | None = None  # None: the model's default
    concurrency: int = 4


def request_for(item: GoldenItem, options: RunOptions) -> ChatRequest:
    return ChatRequest(
        model=item.model or options.model,
        messages=item.messages,
        route=item.route or options.route,
        max_tokens=item.max_tokens,
        response_format=item.response_format,
        temperature=item.temperature if item.temperature is not None else options.temperature,
    )


async def run(
    items: Sequence[GoldenItem],
    completer: Completer,
    grader: Grader,
    *,
    options: RunOptions,
    on_done: Callable[[ItemResult], None] | None = None,
) -> list[ItemResult]:
    """Send and grade every item; at most `options.concurrency` at a time."""
    gate = asyncio.Semaphore(max(options.concurrency, 1))

    async def one(item: GoldenItem) -> ItemResult:
        async with gate:
            reply = await completer.complete(request_for(item, options))
            result = await _graded(item, reply, grader)
        if on_done is not None:
            on_done(result)
        return result

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(item)) for item in items]
    return [task.result() for task in tasks]


async def _graded(item: GoldenItem, reply: Reply, grader: Grader) -> ItemResult:
    model, tier, cost_usd, cache = envelope_facts(reply.headers)
    if reply.error is not None or reply.text is None:
        error = reply.error or "no answer"
        checks = tuple(unscored(check, "no answer to score") for check in item.checks)
    else:
        error = None
        checks = await grader.grade(item, reply.text)
    return ItemResult(
        id=item.id,
        intent=item.intent,
        file=item.file,
        passed=error is None and item_passed(checks),
        score=item_score(checks),
        latency_ms=round(reply.latency_ms, 3),
        checks=checks,
        status=reply.status,
        answer=reply.text,
        error=error,
        model=model,
        tier=tier,
        cost_usd=cost_usd,
        cache=cache,
        headers=reply.headers,
    )
