"""`envelope bench`: the gateway's own cost, beside the direct-upstream baseline.

One run starts the fake upstream (it answers at once; see envelope.fake.upstream), an
OTLP sink, and one `envelope serve` worker in front of the fake with every stage of
this build on (auth, envelope binding with tiktoken counting, cost planning, ledger,
metrics, 1% of requests traced to the sink). For each mode (non-streaming, streaming
with 20 chunks) it loads the upstream directly, then through the gateway, with the
same connections and requests, and reports:

- req/s and p50/p99 latency of each, and the latency the gateway adds;
- gateway CPU per request: CPU seconds of the gateway's process tree during the run
  (from /proc, so independent of the load generator's own cost) / requests served.

Closed-loop runs saturate the gateway's one core, so their latency is mostly queueing.
The added latency that matters is measured at a fixed offered rate below capacity
(`--rate`, open loop, latency counted from each request's scheduled send time).
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import msgspec

from envelope.bench.cpu import measure_tree_cpu
from envelope.bench.load import LoadResult, run_load
from envelope.bench.processes import FakeUpstream, GatewayProcess, free_port, start_fake_upstream, start_gateway

PROMPT = "You are a support assistant. A customer asks: how do I reset my password on the mobile app?"


@dataclass(frozen=True, slots=True)
class Settings:
    connections: int = 64
    duration_s: float = 5.0
    warmup: int = 500
    trace_ratio: float = 0.01
    rate: float | None = 1000.0
    admission: str = "memory"  # memory | redis | off
    classifier: bool = True  # also a row through a route that classifies every request


@dataclass(frozen=True, slots=True)
class Row:
    """One mode's figures: the direct baseline and the gateway, from the same run."""

    mode: str
    direct: LoadResult
    gateway: LoadResult
    gateway_cpu_ms: float
    upstream_cpu_us_direct: float
    upstream_cpu_us_gateway: float

    @property
    def added_p50_ms(self) -> float:
        return self.gateway.p50_ms - self.direct.p50_ms

    @property
    def added_p99_ms(self) -> float:
        return self.gateway.p99_ms - self.direct.p99_ms


# Limits far above what a run can reach: every admission path runs, nothing is refused.
_UNREACHED = {"rpm": 10**9, "tpm": 10**12, "concurrency": 10**6}
ADMISSION_STORES = {"memory": "memory://", "redis": "redis://127.0.0.1:6379/15"}


def bench_config(
    upstream: FakeUpstream, otlp_port: int, trace_ratio: float, admission: str = "memory"
) -> dict[str, Any]:
    tenant: dict[str, Any] = {"name": "bench", "default_feature": "bench"}
    # The policy's rules on the classifier's verdict are read but do not hold here
    # (classify: false): the embedding's cost is measured apart, on the "classified" route.
    route: dict[str, Any] = {
        "name": "default",
        "max_output_tokens": 256,
        "cost_ceiling_usd": 0.01,
        "policy": "bench",
        "classify": False,
        # the closed loop measures every request: adaptive control (a target never breached
        # here), and, on by default, the SLO engine, payload sampling and the registry
        "latency": {"p95_ms": 5000},
        "adaptive": {},
    }
    gateway: dict[str, Any] = {
        "ledger": {"batch_size": 500, "flush_interval_ms": 250},
        "telemetry": {"otlp_endpoint": f"http://127.0.0.1:{otlp_port}/v1/traces", "sample_ratio": trace_ratio},
        # every request is embedded, as if each prompt were new (the bench sends one prompt)
        "classifier": {"cache_entries": 0},
        "control": {"spend": {"threshold": 0.99}},
    }
    if admission != "off":
        tenant |= {"limits": _UNREACHED, "key_limits": _UNREACHED, "budget": {"period": "daily", "hard_usd": 1e9}}
        route["limits"] = _UNREACHED
        gateway["admission"] = {
            "store_url": ADMISSION_STORES[admission],
            "capacity": {t: {"concurrency": 10**6, "queue": 0} for t in ("S", "M", "L")},
        }
    classified = {k: v for k, v in route.items() if k != "name"} | {"name": "classified", "classify": True}
    cached = {k: v for k, v in route.items() if k != "name"} | {"name": "cached", "cache": {"exact": True}}
    return {
        "gateway": gateway,
        "models": [_model(name, tier, price, upstream) for name, tier, price in BENCH_MODELS],
        "policies": [BENCH_POLICY],
        "routes": [route, classified, cached],
        "tenants": [tenant],
    }


# Three tiers on the fake upstream; requests say "model": "auto" and the policy routes them.
BENCH_MODELS = (("small", "S", 0.15), ("medium", "M", 2.5), ("large", "L", 10.0))
# The seed rules; every request passes all of them (none of the first three matches),
# and the catch-all makes the route fit alternates in the other tiers for each request.
BENCH_POLICY: dict[str, Any] = {
    "name": "bench",
    "rules": [
        {"name": "high-risk", "when": {"risk": {"gte": 0.7}}, "then": {"tier": "L"}},
        {"name": "tight-latency", "when": {"latency_budget_ms": {"lt": 800}}, "then": {"tier": "S"}},
        {"name": "simple", "when": {"intent": ["greeting", "faq"], "complexity": ["low"]}, "then": {"tier": "S"}},
        {
            "name": "defaults",
            "then": {
                "over_budget": ["shrink_context", "lower_tier", "cap_output"],
                "capacity": ["wait", "next_tier"],
                "fallback_tiers": True,
            },
        },
    ],
}


def _model(name: str, tier: str, price: float, upstream: FakeUpstream) -> dict[str, Any]:
    return {
        "name": name,
        "tier": tier,
        "context_window": 128000,
        "tokenizer": {"type": "tiktoken", "encoding": "o200k_base"},
        "prices": {"input_per_1m": price, "output_per_1m": 4 * price},
        "deployments": [
            {"name": f"fake-{name}", "provider": {"type": "openai", "base_url": upstream.url(), "model": "fake-model"}}
        ],
    }


def request_body(stream: bool, max_tokens: int | None = 16) -> bytes:
    """`max_tokens` 16: the fake stops at the limit (finish_reason "length"), an answer the
    cache does not keep; None lets the route's cap apply and the fake finish ("stop")."""
    body: dict[str, Any] = {"model": "auto", "messages": [{"role": "user", "content": PROMPT}]}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if stream:
        body["stream"] = True
    return msgspec.json.encode(body)


@contextmanager
def otlp_sink() -> Iterator[int]:
    """A local OTLP/HTTP endpoint that accepts and drops traces, so tracing costs what it would."""

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield port
    finally:
        server.shutdown()


async def _load(
    port: int, path: str, body: bytes, stream: bool, headers: dict[str, str], settings: Settings, rate: float | None
) -> LoadResult:
    return await run_load(
        host="127.0.0.1",
        port=port,
        path=path,
        body=body,
        headers={"content-type": "application/json", **headers},
        connections=settings.connections,
        requests=None,
        duration_s=settings.duration_s,
        stream=stream,
        warmup=settings.warmup,
        rate=rate,
    )


def _measure(
    pid: int, port: int, body: bytes, stream: bool, headers: dict[str, str], s: Settings, rate: float | None
) -> tuple[LoadResult, float]:
    with measure_tree_cpu(pid) as cpu:
        result = asyncio.run(_load(port, "/v1/chat/completions", body, stream, headers, s, rate))
    return result, cpu.seconds


def bench_mode(
    upstream: FakeUpstream,
    gateway: GatewayProcess,
    stream: bool,
    s: Settings,
    rate: float | None = None,
    route: str = "default",
) -> Row:
    # hits need an answer the cache keeps: one the fake finishes ("stop"), not one cut at max_tokens
    body = request_body(stream, max_tokens=None if route == "cached" else 16)
    direct, up_direct = _measure(upstream.proc.pid, upstream.port, body, stream, {}, s, rate)
    auth = {"authorization": f"Bearer {gateway.key}", "x-envelope-route": route}
    with measure_tree_cpu(upstream.proc.pid) as up_cpu:
        through, gw_cpu = _measure(gateway.proc.pid, gateway.port, body, stream, auth, s, rate)
    # CPU spans include the warm-up requests; count them too
    served = through.count + s.warmup
    mode = "streaming (20 chunks)" if stream else "non-streaming"
    if route == "classified":
        mode += " + classifier"
    elif route == "cached":
        mode += ", exact-cache hits"
    return Row(
        mode=mode if rate is None else f"{mode} at {rate:g} req/s",
        direct=direct,
        gateway=through,
        gateway_cpu_ms=gw_cpu * 1000.0 / max(served, 1),
        upstream_cpu_us_direct=up_direct * 1e6 / max(direct.count + s.warmup, 1),
        upstream_cpu_us_gateway=up_cpu.seconds * 1e6 / max(served, 1),
    )


def run(settings: Settings, modes: tuple[bool, ...] = (False, True)) -> list[Row]:
    upstream = start_fake_upstream()
    try:
        with otlp_sink() as otlp_port, tempfile.TemporaryDirectory(prefix="envelope-bench-") as tmp:
            gateway = start_gateway(
                Path(tmp),
                bench_config(upstream, otlp_port, settings.trace_ratio, settings.admission),
                env={"OPENBLAS_NUM_THREADS": "1"},
            )
            try:
                rows = [bench_mode(upstream, gateway, stream, settings) for stream in modes]
                if settings.rate is not None:
                    rows.append(bench_mode(upstream, gateway, False, settings, settings.rate))
                rows.append(bench_mode(upstream, gateway, False, settings, route="cached"))
                if settings.classifier:
                    rows.append(bench_mode(upstream, gateway, False, settings, route="classified"))
                return rows
            finally:
                gateway.stop()
    finally:
        upstream.stop()
