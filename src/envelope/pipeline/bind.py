"""Bind: the request's envelope (route limits tightened by headers), and the fitting of
a chat request onto one model — its input counted with that model's tokenizer and
fitted to the cap, its output allowance and worst-case cost planned.

For chat, `BindEnvelope` sets the envelope and deadline before anything that spends
time (the classifier); the route stage then fits the request onto each candidate
model it considers (`ChatFitter`). Embeddings, which are not routed, are bound to the
model they name by `BindEmbeddings`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from envelope.catalog import Catalog, ServedModel
from envelope.config.documents import Mode
from envelope.core.envelope import Envelope, OutputPlan, bind, fit_messages, parse_overrides, plan_output
from envelope.core.pricing import affordable_input_tokens, worst_case_usd
from envelope.errors import BudgetExceeded
from envelope.pipeline.context import Fit, RequestContext
from envelope.tokens.counter import PromptCount, TokenCounter
from envelope.wire import ChatRequest, Message, embedding_inputs

PINNED_ROLES = frozenset({"system", "developer"})


def bind_envelope(ctx: RequestContext, tenant_mode: Mode | None = None) -> Envelope:
    h = ctx.headers
    overrides = parse_overrides(
        h.get("x-envelope-latency-budget-ms"), h.get("x-envelope-cost-budget"), h.get("x-envelope-mode")
    )
    assert ctx.route is not None
    envelope = bind(ctx.route, overrides, tenant_mode)
    ctx.envelope = envelope
    ctx.deadline = ctx.started + envelope.deadline_ms / 1000.0
    return envelope


class BindEnvelope:
    """Chat: the envelope, with the mode from the request, else the tenant, else the route."""

    name = "bind"

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    async def run(self, ctx: RequestContext) -> None:
        tenant = self._catalog.tenants.get(ctx.tenant)
        bind_envelope(ctx, tenant.mode if tenant else None)


class ChatFitter:
    """Fits one chat request onto candidate models; counts are shared between models
    with the same tokenizer, so trying several candidates costs little more than one."""

    __slots__ = ("_counts", "_ctx", "_envelope", "_messages", "_request", "_requested", "_uncounted")

    def __init__(self, ctx: RequestContext, envelope: Envelope) -> None:
        assert ctx.chat is not None
        self._ctx = ctx
        self._envelope = envelope
        self._request: ChatRequest = ctx.chat
        self._messages: list[Any] = ctx.raw["messages"]
        self._uncounted = _uncounted_parts(ctx.raw)
        self._counts: dict[int, PromptCount] = {}
        r = self._request
        self._requested = r.max_completion_tokens if r.max_completion_tokens is not None else r.max_tokens

    def fit(self, model: ServedModel, remedies: Collection[str] = ("cap_output",)) -> Fit:
        """The request on `model`, or BudgetExceeded saying which limit it cannot meet.

        `remedies` may hold `shrink_context` (drop older messages until the projected cost
        fits the ceiling) and `cap_output` (cap max_tokens to what the ceiling affords)."""
        envelope, counter = self._envelope, model.counter
        count = self._count(counter)
        messages, degradations = self._messages, []
        if count.total > envelope.max_input_tokens:
            if not envelope.truncate_input:
                raise BudgetExceeded(
                    f"The input has {count.total} tokens; route {self._ctx.route_name!r} accepts at most "
                    f"{envelope.max_input_tokens}.",
                    param="messages",
                    code="input_tokens_exceeded",
                )
            messages, count, dropped = self._truncate(counter, count, envelope.max_input_tokens)
            degradations.append(f"input_truncated:{dropped}")
        try:
            plan = self._plan(model, count.total, cap_by_cost=False)
        except BudgetExceeded as exc:
            if exc.code != "cost_ceiling_exceeded":
                raise
            shrunk = self._shrink(model, counter, count) if "shrink_context" in remedies else None
            if shrunk is not None:
                messages, count, dropped, plan = shrunk
                degradations.append(f"context_shrunk:{dropped}")
            elif "cap_output" in remedies:
                plan = self._plan(model, count.total, cap_by_cost=True)
            else:
                raise
        body = dict(self._ctx.raw)
        body["messages"] = messages
        body.pop("max_completion_tokens", None)
        body["max_tokens"] = plan.max_tokens
        return Fit(
            model=model,
            body=body,
            input_tokens=count.total,
            tokens_exact=counter.exact and not self._uncounted,
            max_tokens=plan.max_tokens,
            worst_case_usd=plan.worst_case_usd,
            degradations=(*degradations, *plan.degradations),
        )

    def _count(self, counter: TokenCounter) -> PromptCount:
        count = self._counts.get(id(counter))
        if count is None:
            count = self._counts[id(counter)] = counter.prompt(self._request.messages)
        return count

    def _plan(self, model: ServedModel, input_tokens: int, *, cap_by_cost: bool) -> OutputPlan:
        return plan_output(
            self._envelope,
            requested=self._requested,
            input_tokens=input_tokens,
            context_window=model.doc.context_window,
            prices=model.doc.prices,
            cap_by_cost=cap_by_cost,
        )

    def _shrink(
        self, model: ServedModel, counter: TokenCounter, count: PromptCount
    ) -> tuple[list[Any], PromptCount, int, OutputPlan] | None:
        """Drop older messages until the projected cost fits the ceiling; None if it cannot."""
        ceiling = self._envelope.cost_ceiling_usd
        assert ceiling is not None
        output = min(self._requested or self._envelope.max_output_tokens, self._envelope.max_output_tokens)
        cap = affordable_input_tokens(model.doc.prices, max_output_tokens=output, ceiling_usd=ceiling)
        cap = min(cap, self._envelope.max_input_tokens)
        try:
            messages, shrunk, dropped = self._truncate(counter, count, cap)
            return messages, shrunk, dropped, self._plan(model, shrunk.total, cap_by_cost=False)
        except BudgetExceeded:
            return None

    def _truncate(self, counter: TokenCounter, count: PromptCount, cap: int) -> tuple[list[Any], PromptCount, int]:
        """Drop the oldest unpinned messages until the exact recount fits `cap`.

        Shares are each message's part of the count; a chat template may frame the kept
        messages a little differently, so the fit is recounted and tightened if needed."""
        request, messages = self._request, self._messages
        pinned = [m.role in PINNED_ROLES for m in request.messages]
        shares, overhead = count.per_message, count.overhead
        for _ in range(len(messages)):
            keep = fit_messages(shares, pinned, overhead=overhead, cap=cap)
            if keep is None or len(keep) == len(messages):
                break
            kept: list[Message] = [request.messages[i] for i in keep]
            recount = counter.prompt(kept)
            if recount.total <= cap:
                return [messages[i] for i in keep], recount, len(messages) - len(keep)
            overhead += recount.total - cap  # tighten by what the recount overshot
        raise BudgetExceeded(
            f"The input does not fit {cap} tokens even after dropping every older message; "
            "shorten the system prompt or the last message.",
            param="messages",
            code="input_tokens_exceeded",
        )


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


class BindEmbeddings:
    name = "bind"

    async def run(self, ctx: RequestContext) -> None:
        envelope = bind_envelope(ctx)
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
