"""Bind: the request's envelope (route limits tightened by headers), its input
counted with the model's tokenizer and fitted to the cap, and its output allowance."""

from __future__ import annotations

from typing import Any

from envelope.core.envelope import Envelope, bind, fit_messages, parse_overrides, plan_output
from envelope.core.pricing import worst_case_usd
from envelope.errors import BudgetExceeded
from envelope.pipeline.context import RequestContext
from envelope.tokens.counter import PromptCount
from envelope.wire import ChatRequest, embedding_inputs

PINNED_ROLES = frozenset({"system", "developer"})


def _bind_envelope(ctx: RequestContext) -> Envelope:
    h = ctx.headers
    overrides = parse_overrides(
        h.get("x-envelope-latency-budget-ms"), h.get("x-envelope-cost-budget"), h.get("x-envelope-mode")
    )
    assert ctx.route is not None
    envelope = bind(ctx.route, overrides)
    ctx.envelope = envelope
    ctx.deadline = ctx.started + envelope.deadline_ms / 1000.0
    return envelope


class BindChat:
    name = "bind"

    async def run(self, ctx: RequestContext) -> None:
        envelope = _bind_envelope(ctx)
        request, model = ctx.chat, ctx.model
        assert request is not None and model is not None
        counter = model.counter
        count = counter.prompt(request.messages)
        messages: list[Any] = ctx.raw["messages"]
        if count.total > envelope.max_input_tokens:
            if not envelope.truncate_input:
                raise BudgetExceeded(
                    f"The input has {count.total} tokens; route {ctx.route_name!r} accepts at most "
                    f"{envelope.max_input_tokens}.",
                    param="messages",
                    code="input_tokens_exceeded",
                )
            messages, count = _truncate(request, messages, count, envelope, ctx)
        ctx.input_tokens = count.total
        ctx.tokens_exact = counter.exact and not _uncounted_parts(ctx.raw)
        requested = request.max_completion_tokens if request.max_completion_tokens is not None else request.max_tokens
        plan = plan_output(
            envelope,
            requested=requested,
            input_tokens=count.total,
            context_window=model.doc.context_window,
            prices=model.doc.prices,
        )
        ctx.max_tokens = plan.max_tokens
        ctx.worst_case_usd = plan.worst_case_usd
        ctx.degradations.extend(plan.degradations)
        body = dict(ctx.raw)
        body["messages"] = messages
        body.pop("max_completion_tokens", None)
        body["max_tokens"] = plan.max_tokens
        ctx.upstream_body = body


def _uncounted_parts(raw: dict[str, Any]) -> bool:
    """Whether the prompt holds parts the counters do not price (tool schemas, tool
    calls, images): the count is then a lower bound, and labelled inexact."""
    if raw.get("tools") or raw.get("functions"):
        return True
    for message in raw["messages"]:
        if message.get("tool_calls") or message.get("function_call"):
            return True
        content = message.get("content")
        if isinstance(content, list) and any(part.get("type") != "text" for part in content):
            return True
    return False


def _truncate(
    request: ChatRequest, messages: list[Any], count: PromptCount, envelope: Envelope, ctx: RequestContext
) -> tuple[list[Any], PromptCount]:
    """Drop the oldest unpinned messages until the exact recount fits the cap.

    Shares are each message's part of the count; a chat template may frame the kept
    messages a little differently, so the fit is recounted and tightened if needed."""
    assert ctx.model is not None
    pinned = [m.role in PINNED_ROLES for m in request.messages]
    shares, overhead = count.per_message, count.overhead
    for _ in range(len(messages)):
        keep = fit_messages(shares, pinned, overhead=overhead, cap=envelope.max_input_tokens)
        if keep is None:
            break
        kept = [request.messages[i] for i in keep]
        recount = ctx.model.counter.prompt(kept)
        if recount.total <= envelope.max_input_tokens:
            ctx.degradations.append(f"input_truncated:{len(messages) - len(keep)}")
            return [messages[i] for i in keep], recount
        overhead += recount.total - envelope.max_input_tokens  # tighten by what the recount overshot
    raise BudgetExceeded(
        f"The input does not fit route {ctx.route_name!r}'s cap of {envelope.max_input_tokens} tokens even "
        "after dropping every older message; shorten the system prompt or the last message.",
        param="messages",
        code="input_tokens_exceeded",
    )


class BindEmbeddings:
    name = "bind"

    async def run(self, ctx: RequestContext) -> None:
        envelope = _bind_envelope(ctx)
        request, model = ctx.embedding, ctx.model
        assert request is not None and model is not None
        counter = model.counter
        tokens = [counter.text_tokens(t) if isinstance(t, str) else len(t) for t in embedding_inputs(request.input)]
        for i, n in enumerate(tokens):
            if n > envelope.max_input_tokens:
                raise BudgetExceeded(
                    f"Input {i} has {n} tokens; route {ctx.route_name!r} accepts at most {envelope.max_input_tokens}.",
                    param="input",
                    code="input_tokens_exceeded",
                )
        ctx.input_tokens = sum(tokens)
        ctx.tokens_exact = counter.exact
        ctx.worst_case_usd = worst_case_usd(model.doc.prices, input_tokens=ctx.input_tokens, max_output_tokens=0)
        if envelope.cost_ceiling_usd is not None and ctx.worst_case_usd > envelope.cost_ceiling_usd:
            raise BudgetExceeded(
                f"Embedding {ctx.input_tokens} tokens costs ${ctx.worst_case_usd:.6f}, over the ceiling "
                f"${envelope.cost_ceiling_usd:.6f}.",
                code="cost_ceiling_exceeded",
            )
        ctx.upstream_body = dict(ctx.raw)
