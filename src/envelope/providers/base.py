"""The provider port: how Envelope talks to a model, whatever serves it.

Adapters translate every vendor failure into `envelope.errors.UpstreamError`
subclasses at their edge; nothing else escapes them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Bounds for one attempt, in seconds: the whole answer (or the first event of a
    stream), and the longest silence between two stream events."""

    total: float
    idle: float


class Provider(Protocol):
    """One deployment's connection to its model."""

    name: str

    async def chat(self, body: dict[str, Any], timeouts: Timeouts) -> bytes:
        """Send a non-streaming chat completion; return the upstream's JSON bytes."""
        ...

    def chat_stream(self, body: dict[str, Any], timeouts: Timeouts) -> AsyncIterator[bytes]:
        """Send a streaming chat completion; yield each SSE event's data payload.

        Ends after the upstream's `[DONE]`; raises `UpstreamFailed` when the stream
        ends without it (a truncated answer is never a clean end)."""
        ...

    async def embed(self, body: dict[str, Any], timeouts: Timeouts) -> bytes:
        """Send an embeddings request; return the upstream's JSON bytes."""
        ...

    async def close(self) -> None: ...
