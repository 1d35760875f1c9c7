"""Fitting a chat request onto a model, over a real context, with a counter whose template framing makes the
exact recount larger than the shares suggest."""

from __future__ import annotations

from typing import Any

import pytest

from envelope.catalog import ServedModel
from envelope.config.documents import Deployment, ModelDoc, OpenAIProvider, RouteDoc
from envelope.errors import BudgetExceeded
from envelope.pipeline.bind import ChatFitter, bind_envelope
from envelope.pipeline.context import Fit, RequestContext
from envelope.tokens.counter import PromptCount
from envelope.wire import ChatRequest, Message, convert


class FramingCounter:
    """10 tokens a message and 3 to prime the reply, but short conversations get a
    12-token preamble from the template: dropping messages can make the total jump."""

    exact = True

    def text_tokens(self, text: str) -> int:
        return len(text.split())

    def prompt(self, messages: list[Message]) -> PromptCount:
        shares = [10] * len(messages)
        return PromptCount(sum(shares) + 3 + (12 if len(messages) <= 4 else 0), shares)


def fit(ctx: RequestContext, remedies: tuple[str, ...] = ("cap_output",)) -> Fit:
    assert ctx.model is not None
    chosen = ChatFitter(ctx, bind_envelope(ctx)).fit(ctx.model, remedies)
    ctx.use(chosen)
    return chosen


def context(route: RouteDoc, messages: list[dict[str, Any]]) -> RequestContext:
    ctx = RequestContext("r1", "chat", {}, b"")
    ctx.raw = {"model": "m", "messages": messages}
    ctx.chat = convert(ctx.raw, ChatRequest)
    doc = ModelDoc(
        name="m",
        deployments=[Deployment(name="d", provider=OpenAIProvider(type="openai", base_url="http://x/v1", model="x"))],
    )
    ctx.model = ServedModel(doc, [], FramingCounter())
    ctx.route = route
    ctx.route_name = route.name
    return ctx


CONVERSATION = [{"role": "system", "content": "s"}] + [
    {"role": "user" if i % 2 == 0 else "assistant", "content": f"m{i}"} for i in range(6)
]


def test_truncation_recounts_until_the_exact_total_fits() -> None:
    route = RouteDoc(name="trim", max_input_tokens=50, on_input_overflow="truncate")
    ctx = context(route, CONVERSATION)
    fit(ctx)
    assert ctx.input_tokens <= 50
    kept = ctx.upstream_body["messages"]
    assert kept[0]["role"] == "system" and kept[-1] == CONVERSATION[-1]
    # shares alone would keep 4 messages (43 tokens), but with the preamble that is 55:
    # the recount tightens the fit to 3 messages (45 tokens)
    assert len(kept) == 3 and ctx.input_tokens == 45
    assert ctx.degradations == ["input_truncated:4"]


def test_reject_route_refuses_instead() -> None:
    route = RouteDoc(name="strict", max_input_tokens=50, on_input_overflow="reject")
    with pytest.raises(BudgetExceeded, match="accepts at most 50"):
        fit(context(route, CONVERSATION))


def test_truncation_that_cannot_fit_is_refused() -> None:
    route = RouteDoc(name="tiny", max_input_tokens=20, on_input_overflow="truncate")
    with pytest.raises(BudgetExceeded, match="even after dropping"):
        fit(context(route, CONVERSATION))


def test_tools_and_images_make_the_count_inexact() -> None:
    route = RouteDoc(name="r")
    plain = context(route, CONVERSATION[:2])
    fit(plain)
    assert plain.tokens_exact is True
    tools = context(route, CONVERSATION[:2])
    tools.raw["tools"] = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    fit(tools)
    assert tools.tokens_exact is False
    image = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:,"}}]}]
    pictured = context(route, image)
    fit(pictured)
    assert pictured.tokens_exact is False
