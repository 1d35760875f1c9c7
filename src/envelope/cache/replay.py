"""A cached chat completion, told again as an OpenAI stream (for `stream: true` hits).

Each choice becomes one chunk carrying its whole message (role, content, tool calls)
and one carrying its finish reason; then a usage chunk, which the relay passes on only
if the client asked for usage. The relay adds `data: ` framing and `[DONE]`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec


def chunks(answer: bytes) -> list[bytes]:
    completion: dict[str, Any] = msgspec.json.decode(answer)
    head = {
        "id": completion.get("id", "chatcmpl-cached"),
        "object": "chat.completion.chunk",
        "created": completion.get("created", 0),
        "model": completion.get("model", ""),
    }
    out: list[bytes] = []
    for i, choice in enumerate(completion.get("choices", [])):
        index = choice.get("index", i)
        message = choice.get("message") or {}
        delta: dict[str, Any] = {"role": message.get("role", "assistant"), "content": message.get("content")}
        if message.get("tool_calls"):
            delta["tool_calls"] = [{"index": j, **call} for j, call in enumerate(message["tool_calls"])]
        out.append(_encode(head, [{"index": index, "delta": delta, "finish_reason": None}]))
        out.append(_encode(head, [{"index": index, "delta": {}, "finish_reason": choice.get("finish_reason")}]))
    if completion.get("usage") is not None:
        out.append(msgspec.json.encode({**head, "choices": [], "usage": completion["usage"]}))
    return out


async def stream(answer: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks(answer):
        yield chunk


def _encode(head: dict[str, Any], choices: list[dict[str, Any]]) -> bytes:
    return msgspec.json.encode({**head, "choices": choices})
