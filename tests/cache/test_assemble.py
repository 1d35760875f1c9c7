"""A streamed answer folded back into the completion the cache keeps."""

from __future__ import annotations

import msgspec

from envelope.cache import assemble
from envelope.core.cache_key import cacheable
from envelope.wire import CompletionView

USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


def chunk(choices: list[dict], **extra: object) -> bytes:
    return msgspec.json.encode({"id": "c1", "created": 7, "model": "m", "choices": choices, **extra})


def test_content_deltas_join_and_the_finish_reason_is_kept() -> None:
    chunks = [
        chunk([{"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "finish_reason": None}]),
        chunk([{"index": 0, "delta": {"content": "lo"}, "finish_reason": None}]),
        chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}]),
        chunk([], usage={"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}),
    ]
    whole = msgspec.json.decode(assemble.completion(chunks, USAGE))
    assert whole["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}
    ]
    assert whole["usage"]["prompt_tokens"] == 4  # the stream's own usage wins
    assert whole["id"] == "c1" and whole["object"] == "chat.completion"
    assert cacheable(msgspec.json.decode(assemble.completion(chunks, USAGE), type=CompletionView))


def test_tool_call_fragments_merge_by_index() -> None:
    chunks = [
        chunk(
            [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "t1",
                                "type": "function",
                                "function": {"name": "get_", "arguments": '{"ci'},
                            }
                        ]
                    },
                }
            ]
        ),
        chunk(
            [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [{"index": 0, "function": {"name": "weather", "arguments": 'ty":"Oslo"}'}}]
                    },
                }
            ]
        ),
        chunk([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]),
    ]
    whole = msgspec.json.decode(assemble.completion(chunks, USAGE))
    call = whole["choices"][0]["message"]["tool_calls"][0]
    assert call == {"id": "t1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}
    assert whole["usage"] == USAGE  # none in the stream: the gateway's count


def test_an_unfinished_or_empty_stream_is_not_a_cacheable_answer() -> None:
    cut = [chunk([{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}])]
    assert not cacheable(msgspec.json.decode(assemble.completion(cut, USAGE), type=CompletionView))
    assert assemble.completion([], USAGE) is None
    assert assemble.completion([b"not json"], USAGE) is None
