"""Parse: the body becomes a typed request naming a served model the route allows, or `auto`."""

from __future__ import annotations

from envelope.catalog import AUTO, Catalog
from envelope.errors import InvalidRequest
from envelope.pipeline.context import RequestContext
from envelope.wire import ChatRequest, EmbeddingRequest, convert, decode_object, embedding_inputs


class ParseChat:
    name = "parse"

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    async def run(self, ctx: RequestContext) -> None:
        ctx.raw = decode_object(ctx.body)
        request: ChatRequest = convert(ctx.raw, ChatRequest)
        if not request.messages:
            raise InvalidRequest("'messages' must hold at least one message.", param="messages", code="invalid_value")
        if request.n != 1:
            raise InvalidRequest("Only n=1 is supported.", param="n", code="unsupported_value")
        assert ctx.route is not None
        if request.model != AUTO:  # a named model; with "auto" the route stage chooses one
            model = self._catalog.model(request.model, ctx.route)
            if model.doc.embedding:
                raise InvalidRequest(f"Model {request.model!r} serves embeddings, not chat.", param="model")
            ctx.model = model
        ctx.chat = request
        ctx.stream = request.stream
        ctx.client_wants_usage = request.stream_options is not None and request.stream_options.include_usage


class ParseEmbeddings:
    name = "parse"

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    async def run(self, ctx: RequestContext) -> None:
        ctx.raw = decode_object(ctx.body)
        request: EmbeddingRequest = convert(ctx.raw, EmbeddingRequest)
        if not request.input or any(not item for item in embedding_inputs(request.input)):
            raise InvalidRequest("'input' must not be empty.", param="input", code="invalid_value")
        assert ctx.route is not None
        model = self._catalog.model(request.model, ctx.route)
        if not model.doc.embedding:
            raise InvalidRequest(f"Model {request.model!r} serves chat, not embeddings.", param="model")
        ctx.embedding = request
        ctx.model = model
