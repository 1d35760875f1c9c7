"""The scenario benchmark's upstream: a stand-in for three real model tiers, on real HTTP.

It is not a model. It answers OpenAI chat completions with filler words, but it takes
the time a served model of each tier would take and serves only so many requests at
once, so that the gateway in front of it meets what it meets in production: a small
model that is fast and cheap, a large one that is slow, expensive and short of
capacity, and queues that build when a burst arrives.

Per upstream model name (the deployment's `provider.model`), a `TierProfile` gives:

- `slots`: requests served at once; the rest wait in a first-come, first-served queue
  (the wait counts in the latency the gateway sees, as a busy inference server's would);
- the service time of one request: `first_token_ms` + prompt tokens / `prefill_tps`
  + answer tokens / `decode_tps`.

The answer's length depends on the prompt, deterministically (the same prompt gets the
same answer, as a cache expects): about 40 tokens plus 0.8 per prompt token, ±25 %
from a hash of the prompt, at most 600, cut at `max_tokens` (then `finish_reason` is
"length", else "stop"). Token counts are the fake upstream's: prompt characters / 4 + 1.

`GET /stats` gives, per model, the requests served and the most in service and waiting
at once. Streams are not served (400): the scenario sends none.

Run: `python -m envelope.bench.scenario_upstream --port N`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

MAX_ANSWER_TOKENS: Final = 600


@dataclass(frozen=True, slots=True)
class TierProfile:
    """One tier's stand-in model: its speed, its capacity and (for the gateway's config) its prices."""

    tier: str
    model: str
    first_token_ms: float
    prefill_tps: float
    decode_tps: float
    slots: int
    input_per_1m: float
    output_per_1m: float

    def service_s(self, prompt_tokens: int, answer_tokens: int) -> float:
        """Seconds one request holds a slot."""
        return (self.first_token_ms / 1000) + prompt_tokens / self.prefill_tps + answer_tokens / self.decode_tps


# Speeds loosely like hosted small / mid / frontier models; prices per 1M tokens like
# public list prices of such models (notional, USD).
PROFILES: Final = (
    TierProfile("S", "scenario-small", 40, 8000, 400, 32, 0.15, 0.60),
    TierProfile("M", "scenario-medium", 150, 3000, 120, 8, 2.50, 10.00),
    TierProfile("L", "scenario-large", 350, 1500, 50, 24, 10.00, 40.00),
)


def prompt_tokens(messages: Sequence[Any]) -> int:
    """Characters of every message's text / 4 + 1 (as the fake upstream counts)."""
    chars = 0
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            chars += sum(len(str(part.get("text") or "")) for part in content if isinstance(part, dict))
    return chars // 4 + 1


def answer_tokens(prompt: str, prompt_count: int) -> int:
    """The answer's natural length in tokens, before `max_tokens`: deterministic per prompt."""
    digest = hashlib.blake2b(prompt.encode(), digest_size=2).digest()
    jitter = 0.75 + 0.5 * int.from_bytes(digest, "big") / 0xFFFF
    return max(1, min(MAX_ANSWER_TOKENS, round((40 + 0.8 * prompt_count) * jitter)))


@dataclass(slots=True)
class _Tier:
    profile: TierProfile
    gate: asyncio.Semaphore
    served: int = 0
    busy: int = 0
    waiting: int = 0
    peak_busy: int = 0
    peak_waiting: int = 0


class ScenarioUpstream:
    """The aiohttp application's state: one gate per model."""

    def __init__(self, profiles: Sequence[TierProfile] = PROFILES) -> None:
        self._tiers = {p.model: _Tier(p, asyncio.Semaphore(p.slots)) for p in profiles}
        self._ids = itertools.count(1)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_get("/v1/models", self.models)
        app.router.add_get("/stats", self.stats)
        return app

    async def chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        tier = self._tiers.get(str(body.get("model", "")))
        if tier is None:
            return _error(404, f"unknown model {body.get('model')!r}; known: {', '.join(self._tiers)}")
        if body.get("stream"):
            return _error(400, "the scenario upstream does not stream")
        messages = body.get("messages") or []
        prompt = prompt_tokens(messages)
        text = "\n".join(str(m.get("content")) for m in messages if isinstance(m, dict))
        natural = answer_tokens(text, prompt)
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        words = min(natural, int(limit)) if limit else natural
        await self._serve(tier, tier.profile.service_s(prompt, words))
        finish = "length" if limit and natural > int(limit) else "stop"
        return web.json_response(
            {
                "id": f"chatcmpl-scenario-{next(self._ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": tier.profile.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": " ".join(["word"] * words)},
                        "finish_reason": finish,
                    }
                ],
                "usage": {"prompt_tokens": prompt, "completion_tokens": words, "total_tokens": prompt + words},
            }
        )

    async def _serve(self, tier: _Tier, seconds: float) -> None:
        """Hold one of the tier's slots for `seconds`, after waiting for one if all are busy."""
        queued = tier.gate.locked()
        if queued:
            tier.waiting += 1
            tier.peak_waiting = max(tier.peak_waiting, tier.waiting)
        try:
            await tier.gate.acquire()
        finally:
            if queued:
                tier.waiting -= 1
        tier.busy += 1
        tier.peak_busy = max(tier.peak_busy, tier.busy)
        try:
            await asyncio.sleep(seconds)
            tier.served += 1
        finally:
            tier.busy -= 1
            tier.gate.release()

    async def models(self, request: web.Request) -> web.Response:
        data = [{"id": name, "object": "model", "created": 0, "owned_by": "scenario"} for name in self._tiers]
        return web.json_response({"object": "list", "data": data})

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                name: {
                    "tier": t.profile.tier,
                    "slots": t.profile.slots,
                    "served": t.served,
                    "peak_busy": t.peak_busy,
                    "peak_waiting": t.peak_waiting,
                }
                for name, t in self._tiers.items()
            }
        )


def _error(status: int, message: str) -> web.Response:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return web.json_response({"error": {"message": message, "type": kind, "param": None, "code": None}}, status=status)


async def _serve_until_signalled(host: str, port: int) -> None:
    runner = web.AppRunner(ScenarioUpstream().app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"listening on {host}:{port}", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: `python -m envelope.bench.scenario_upstream [--host H] [--port N]`."""
    parser = argparse.ArgumentParser(
        prog="python -m envelope.bench.scenario_upstream",
        description="The scenario benchmark's stand-in upstream: three tiers with per-tier latency and capacity.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args(argv)
    asyncio.run(_serve_until_signalled(args.host, args.port))


if __name__ == "__main__":
    main()
