"""The exact cache's key and its rules of admission, as pure functions.

Two requests share a key when everything that shapes the answer is the same: the
tenant (a cached answer never crosses tenants), the route and its config version, the
performance mode and cost ceiling (they choose the model and cap the output), the
model asked for, every sampling parameter, tools and response format, and the messages
— each message's text normalised (Unicode NFC, surrounding whitespace trimmed). Fields
that do not shape the answer (`stream`, `stream_options`, `user`, `metadata`, …) are
left out, so a stream and a non-stream of one request share an entry.

The key is a BLAKE2b digest of a canonical (sorted-keys) JSON; tenant and route stay
readable in front (`tenant:route:digest`, each escaped) so one tenant's or one route's
entries can be purged together.

The semantic cache's *partition* is the same digest taken without the question (the
last message, from the user): requests in one partition differ only in how the
question is worded, so they may share an answer if the questions mean the same.
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


def request_key(raw: dict[str, Any], *, tenant: str, route: str, scope: tuple[str, ...]) -> str:
    """`tenant:route:digest` of the request. `scope` holds what the gateway decides
    besides the body (config version, mode, cost ceiling)."""
    shaped = {k: v for k, v in raw.items() if k not in NOT_IN_KEY}
    shaped["messages"] = [_normalised(m) for m in raw["messages"]]
    return _named(tenant, route, _encoder.encode([tenant, route, scope, shaped]))


def partition(
    raw: dict[str, Any], *, tenant: str, route: str, scope: tuple[str, ...], max_chars: int
) -> tuple[str, str] | None:
    """(partition, question) of a request the semantic cache may answer: its last
    message is the user's, plain text of at most `max_chars`. None otherwise — a long
    question (a document to summarise, say) is only ever answered by the exact cache."""
    messages = raw["messages"]
    last = messages[-1] if messages else None
    if not isinstance(last, dict) or last.get("role") != "user":
        return None
    question = _text(last.get("content"))
    if question is None or not question or len(question) > max_chars:
        return None
    shaped = {k: v for k, v in raw.items() if k not in NOT_IN_KEY}
    shaped["messages"] = [_normalised(m) for m in messages[:-1]]
    return _named(tenant, route, _encoder.encode(["semantic", tenant, route, scope, shaped])), question


def label(name: str) -> str:
    """A tenant or route name as it appears in keys: `%` and `:` escaped, so the parts
    of `tenant:route:digest` split cleanly whatever the names hold."""
    return name.replace("%", "%25").replace(":", "%3A")


def owned(key: str, tenant: str | None, route: str | None) -> bool:
    """Whether a key or partition (`tenant:route:digest`) belongs to `tenant` and/or
    `route` (None: any)."""
    owner, name, _ = key.split(":", 2)
    return (tenant is None or owner == label(tenant)) and (route is None or name == label(route))


def _named(tenant: str, route: str, canonical: bytes) -> str:
    return f"{label(tenant)}:{label(route)}:{hashlib.blake2b(canonical, digest_size=16).hexdigest()}"


def _text(content: Any) -> str | None:
    """A message's whole text, if it is only text."""
    if isinstance(content, str):
        return unicodedata.normalize("NFC", content).strip()
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        return unicodedata.normalize("NFC", " ".join(str(p.get("text", "")) for p in content)).strip()
    return None


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
