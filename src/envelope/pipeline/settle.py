"""Settle: read what the upstream used and price it.

Upstream-reported usage wins; where there is none, output is counted with the
model's tokenizer (and marked inexact if that tokenizer is only an estimate).
"""

from __future__ import annotations

import msgspec

from envelope.core.pricing import cost_usd
from envelope.errors import UpstreamFailed
from envelope.pipeline.context import RequestContext
from envelope.wire import CompletionView, EmbeddingView, Usage

_completion = msgspec.json.Decoder(CompletionView)
_embedding = msgspec.json.Decoder(EmbeddingView)


class Settle:
    """After a non-streaming answer: usage and cost (streams settle in the relay)."""

    name = "settle"

    async def run(self, ctx: RequestContext) -> None:
        if ctx.stream or ctx.answer is None:
            return
        try:
            if ctx.operation == "embeddings":
                view = _embedding.decode(ctx.answer)
                if view.usage is not None:
                    apply_usage(ctx, Usage(prompt_tokens=view.usage.prompt_tokens))
            else:
                completion = _completion.decode(ctx.answer)
                if completion.usage is not None:
                    apply_usage(ctx, completion.usage)
                else:  # only then is the text needed: Envelope counts it
                    ctx.answer_text = [c.message.content for c in completion.choices if c.message and c.message.content]
                    count_output(ctx)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            name = ctx.deployment.doc.name if ctx.deployment else "?"
            raise UpstreamFailed(
                f"Deployment {name!r} answered with malformed JSON: {exc}", code="upstream_malformed"
            ) from exc
        price(ctx)


def apply_usage(ctx: RequestContext, usage: Usage) -> None:
    if usage.prompt_tokens:
        ctx.input_tokens = usage.prompt_tokens
        ctx.tokens_exact = True
    ctx.output_tokens = usage.completion_tokens
    ctx.output_exact = True


def usage_of(ctx: RequestContext) -> dict[str, int]:
    """The request's token counts in OpenAI's `usage` shape."""
    return {
        "prompt_tokens": ctx.input_tokens,
        "completion_tokens": ctx.output_tokens,
        "total_tokens": ctx.input_tokens + ctx.output_tokens,
    }


def count_output(ctx: RequestContext) -> None:
    if ctx.model is None:  # a cache hit on `auto`: no model was chosen; the cached usage stands
        return
    counter = ctx.model.counter
    ctx.output_tokens = counter.text_tokens("".join(ctx.answer_text))
    ctx.output_exact = counter.exact


def price(ctx: RequestContext) -> None:
    if ctx.model is None or ctx.cache_hit:  # a cache hit costs nothing upstream
        return
    earlier = ctx.guarded.earlier_usd if ctx.guarded is not None else 0.0  # re-asked attempts
    ctx.cost_usd = earlier + cost_usd(
        ctx.model.doc.prices,
        input_tokens=ctx.input_tokens,
        output_tokens=ctx.output_tokens,
        cached_tokens=ctx.cached_tokens,
    )
