"""A streamed answer folded back into one chat completion, so that it can be cached.

The chunks are the upstream's `chat.completion.chunk` documents, in order: each
choice's content deltas are joined, its tool calls merged by index (arguments joined),
its finish reason kept. The usage is the stream's own usage chunk, or `usage` (the
gateway's count) when the upstream sent none. A stream that did not finish every
choice assembles into a completion that `cacheable` refuses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec


def completion(chunks: Sequence[bytes], usage: dict[str, int]) -> bytes | None:
    """The completion the chunks tell, or None if they tell none (no choices, or
    something unreadable)."""
    choices: dict[int, dict[str, Any]] = {}
    head: dict[str, Any] = {}
    told_usage: Any = None
    try:
        for data in chunks:
            chunk: dict[str, Any] = msgspec.json.decode(data)
            if not head:
                head = {k: chunk.get(k) for k in ("id", "created", "model")}
            if chunk.get("usage"):
                told_usage = chunk["usage"]
            for part in chunk.get("choices") or ():
                _fold(choices, part)
    except (msgspec.DecodeError, AttributeError, TypeError, KeyError):
        return None
    if not choices:
        return None
    return msgspec.json.encode(
        {
            **head,
            "object": "chat.completion",
            "choices": [choices[i] for i in sorted(choices)],
            "usage": told_usage or usage,
        }
    )


def _fold(choices: dict[int, dict[str, Any]], part: dict[str, Any]) -> None:
    index = part.get("index", 0)
    choice = choices.get(index)
    if choice is None:
        choice = choices[index] = {
            "index": index,
            "message": {"role": "assistant", "content": None},
            "finish_reason": None,
        }
    message = choice["message"]
    delta = part.get("delta") or {}
    if delta.get("content"):
        message["content"] = (message["content"] or "") + delta["content"]
    for call in delta.get("tool_calls") or ():
        calls = message.setdefault("tool_calls", [])
        at = call.get("index", len(calls))
        while len(calls) <= at:
            calls.append({"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
        merged, function = calls[at], call.get("function") or {}
        merged["id"] = call.get("id") or merged["id"]
        merged["type"] = call.get("type") or merged["type"]
        merged["function"]["name"] += function.get("name") or ""
        merged["function"]["arguments"] += function.get("arguments") or ""
    if part.get("finish_reason"):
        choice["finish_reason"] = part["finish_reason"]
