"""A scripted OpenAI-compatible upstream (a stand-in, on real HTTP) for tests that must
choose what the model says — a toxic answer, a leak, invalid JSON — and see what the
gateway sent it (redacted prompts, retrieved context, re-asks).

Answers: the first rule whose key occurs in the user messages' text gives the content
(a list of contents is served in turn, the last one repeating); else `default`.
`failures` makes the upstream answer 503 a number of times to requests containing a text.
Every request body received is kept in `received`. `delays` makes the upstream slow for
one upstream model name (`delays["medium"] = 0.3`), and can be changed while it serves. Streams are sent as SSE in three
content chunks and a usage chunk when asked for.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.processes import free_port


@dataclass
class ScriptedUpstream:
    port: int
    rules: dict[str, str | list[str]] = field(default_factory=dict)
    default: str = "ok"
    received: list[dict[str, Any]] = field(default_factory=list)
    delays: dict[str, float] = field(default_factory=dict)  # upstream model name → seconds before answering
    failures: dict[str, int] = field(default_factory=dict)  # text in the prompt → answer 503 this many times first

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def answer_for(self, body: dict[str, Any]) -> str:
        said = [m.get("content") for m in body["messages"] if m.get("role") == "user"]
        text = " ".join(c if isinstance(c, str) else json.dumps(c) for c in said)
        for key, answer in self.rules.items():
            if key in text:
                if isinstance(answer, list):
                    return answer.pop(0) if len(answer) > 1 else answer[0]
                return answer
        return self.default

    def failing(self, body: dict[str, Any]) -> str | None:
        """The `failures` key this request matches while it has failures left."""
        text = json.dumps(body["messages"])
        return next((key for key, left in self.failures.items() if left > 0 and key in text), None)

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.received.append(body)
        delay = self.delays.get(body.get("model", ""), 0.0)
        if delay > 0:
            await asyncio.sleep(delay)
        failing = self.failing(body)
        if failing is not None:
            self.failures[failing] -= 1
            return web.json_response({"error": {"message": "scripted outage", "type": "server_error"}}, status=503)
        content = self.answer_for(body)
        prompt = sum(len(str(m.get("content") or "")) for m in body["messages"]) // 4 + 1
        usage = {"prompt_tokens": prompt, "completion_tokens": len(content.split()) + 1}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        head = {"id": "chatcmpl-scripted", "created": 1, "model": body.get("model", "x")}
        if not body.get("stream"):
            message = {"role": "assistant", "content": content}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            return web.json_response({**head, "object": "chat.completion", "choices": [choice], "usage": usage})
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        third = max(1, len(content) // 3)
        pieces = [content[:third], content[third : 2 * third], content[2 * third :]]
        for i, piece in enumerate(pieces):
            delta: dict[str, Any] = {"content": piece}
            if i == 0:
                delta["role"] = "assistant"
            choice = {"index": 0, "delta": delta, "finish_reason": "stop" if i == 2 else None}
            await response.write(_event({**head, "object": "chat.completion.chunk", "choices": [choice]}))
        if (body.get("stream_options") or {}).get("include_usage"):
            await response.write(_event({**head, "object": "chat.completion.chunk", "choices": [], "usage": usage}))
        await response.write(b"data: [DONE]\n\n")
        return response


def _event(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data).encode() + b"\n\n"


@contextmanager
def scripted_upstream() -> Iterator[ScriptedUpstream]:
    """A scripted upstream serving on a free port from a thread of its own."""
    upstream = ScriptedUpstream(free_port())
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", upstream.chat)
    runner = web.AppRunner(app)

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", upstream.port).start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield upstream
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
