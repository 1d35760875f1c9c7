"""Relay a stream to the client chunk by chunk, settling usage as it goes.

A failure after the first byte cannot change the HTTP status any more, so it ends
the stream with an explicit `error` event and no `[DONE]`: the client (the openai
SDK raises on it) never mistakes a truncated answer for a complete one.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable

import msgspec

from envelope.errors import ClientClosed, EnvelopeError, UpstreamFailed
from envelope.pipeline.context import RequestContext
from envelope.pipeline.settle import apply_usage, count_output, price, usage_of
from envelope.wire import ChunkView

_chunk = msgspec.json.Decoder(ChunkView)
DONE = b"data: [DONE]\n\n"


async def relay(ctx: RequestContext, finish: Callable[[RequestContext], Awaitable[None]]) -> AsyncIterator[bytes]:
    assert ctx.events is not None
    usage_seen = False
    ended = False
    last: ChunkView | None = None
    text = ctx.answer_text
    kept = ctx.stream_chunks
    try:
        async for data in ctx.events:
            try:
                chunk = _chunk.decode(data)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise UpstreamFailed(
                    f"Malformed stream chunk from the upstream: {exc}", code="upstream_malformed"
                ) from exc
            if chunk.error is not None:
                raise UpstreamFailed(f"The upstream failed mid-stream: {chunk.error.get('message', chunk.error)}")
            last = chunk
            if kept is not None:
                kept.append(data)
            for choice in chunk.choices:
                if choice.delta is not None and choice.delta.content:
                    if ctx.first_token_at is None:
                        ctx.first_token_at = time.perf_counter()
                    text.append(choice.delta.content)
            if chunk.usage is not None:
                usage_seen = True
                apply_usage(ctx, chunk.usage)
                if not chunk.choices and not ctx.client_wants_usage:
                    continue  # Envelope asked for usage for itself; the client did not
            yield b"data: " + data + b"\n\n"
        if not usage_seen:
            count_output(ctx)
            if ctx.client_wants_usage:  # asked for, but the upstream sends none: Envelope's own count
                yield b"data: " + _usage_chunk(ctx, last) + b"\n\n"
        price(ctx)
        ended = True
        yield DONE
    except EnvelopeError as exc:
        ended = True
        ctx.fail(exc)
        count_output(ctx)
        price(ctx)
        yield b"data: " + exc.encode() + b"\n\n"
    finally:
        if not ended:  # the client went away mid-stream
            ctx.fail(ClientClosed("The client closed the stream before it ended."))
            count_output(ctx)
            price(ctx)
        await finish(ctx)


def _usage_chunk(ctx: RequestContext, last: ChunkView | None) -> bytes:
    return msgspec.json.encode(
        {
            "id": last.id if last and last.id else f"chatcmpl-{ctx.request_id}",
            "object": "chat.completion.chunk",
            "created": last.created if last and last.created else int(ctx.started_wall),
            "model": last.model if last and last.model else ctx.model_name,
            "choices": [],
            "usage": usage_of(ctx),
        }
    )
