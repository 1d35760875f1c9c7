"""The exact cache's key and its rules of admission, as pure functions.

Two requests share a key when everything that shapes the answer is the same: the
tenant (a cached answer never crosses tenants), the route and its config version, the
performance mode and cost ceiling (they choose the model and cap the output), the
model asked for, every sampling parameter, tools and response format, and the messages
— each message's text normalised (Unicode NFC, surrounding whitespace trimmed). Fields
that do not shape the answer (`stream`, `stream_options`, `user`, `metadata`, …) are
left out, so a stream and a non-stream of one request share an entry.

The key is a BLAKE2b digest of a canonical (sorted-keys) JSON; the tenant stays
readable in front so one tenant's entries can be purged together.
"""

from __future__ import annotations

import hashlib
import unicodedata
from typing import Any

import msgspec
from pydantic import BaseModel

from envelope.wire import CompletionView

# Request fields that do not change the answer.
NOT_IN_KEY = frozenset({"stream", "stream_options", "user", "metadata", "store", "service_tier", "parallel_tool_calls"})
COMPLETE = frozenset({"stop", "tool_calls", "function_call"})

_encoder = msgspec.json.Encoder(order="sorted")


def request_key(raw: dict[str, Any], *, tenant: str, scope: tuple[str, ...]) -> str:
    """`tenant:digest` of the request. `scope` holds what the gateway decides besides the
    body (route, config version, mode, cost ceiling)."""
    shaped = {k: v for k, v in raw.items() if k not in NOT_IN_KEY}
    shaped["messages"] = [_normalised(m) for m in raw["messages"]]
    digest = hashlib.blake2b(_encoder.encode([tenant, scope, shaped]), digest_size=16).hexdigest()
    return f"{tenant}:{digest}"


def cacheable(completion: CompletionView) -> bool:
    """Only whole answers: every choice finished on its own (not cut by `length` or a
    content filter) and said something."""
    return bool(completion.choices) and all(
        c.finish_reason in COMPLETE and c.message is not None and (c.message.content or c.finish_reason != "stop")
        for c in completion.choices
    )


def _normalised(message: Any) -> Any:
    if not isinstance(message, dict):
        return message
    content = message.get("content")
    if isinstance(content, str):
        return {**message, "content": unicodedata.normalize("NFC", content).strip()}
    if isinstance(content, list):
        parts = [
            {**p, "text": unicodedata.normalize("NFC", p["text"]).strip()}
            if isinstance(p, dict) and isinstance(p.get("text"), str)
            else p
            for p in content
        ]
        return {**message, "content": parts}
    return message


def config_version(*documents: BaseModel) -> str:
    """A digest of the documents that shape a route's answers (the route, its policy, its
    models): any change to them — a new prompt version, model, price or rule — starts
    the route on fresh keys, so stale answers are never served."""
    text = "\n".join(doc.model_dump_json() for doc in documents)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
