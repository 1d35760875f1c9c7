"""The shape every stage has: built once with its options, then run per request."""

from __future__ import annotations

from typing import Protocol

from envelope.pipeline.context import RequestContext


class Stage(Protocol):
    """Reads and extends the context; raises an `EnvelopeError` to answer early."""

    name: str

    async def run(self, ctx: RequestContext) -> None: ...


class Finisher(Protocol):
    """Runs once a request is over (answered, streamed to the end, or failed)."""

    async def finish(self, ctx: RequestContext) -> None: ...
