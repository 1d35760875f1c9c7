"""The replay runner: recorded requests (`ledger/samples.py`) sent again to two gateways,
the baseline config's and the candidate's, and their answers compared.

Each sample goes to both gateways at the same moment (which one is sent first
alternates), at most `concurrency` samples in flight: a slow moment of the machine or
of an upstream hits both sides alike. Requests are sent as recorded — messages and
parameters, never streamed — under the sample's tenant and route, with
`x-envelope-cache-control: no-store` (`evals/client.py`). The comparison itself is
pure (`replay_gate.py`); this module does the sending, measures answer similarity
with MiniLM and writes the JSON report.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import msgspec

from envelope.evals.client import ChatRequest, GatewayClient, Reply
from envelope.evals.grader import TextEncoder
from envelope.evals.replay_gate import Comparison, Finding, Outcome, Pair, Thresholds, Verdict
from envelope.evals.results import envelope_facts
from envelope.store.records import PayloadSample

LATENCY_HEADER = "x-envelope-latency-ms"
_NOT_REPLAYED = ("stream", "stream_options")  # replay compares whole answers
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


@dataclass(frozen=True, slots=True)
class ReplayRequest(ChatRequest):
    """A recorded chat request: its body is the document as the client sent it (PII
    redacted), whatever parameters it set, not only those `ChatRequest` names."""

    document: Mapping[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return dict(self.document)


@dataclass(frozen=True, slots=True)
class Replayable:
    sample: PayloadSample
    request: ReplayRequest


@dataclass(frozen=True, slots=True)
class Target:
    """A gateway to replay against: its OpenAI base URL and an API key per tenant."""

    base_url: str
    keys: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """What `--output` writes."""

    created: str  # ISO 8601, UTC
    baseline: str  # what the baseline was: a path, or "version N"
    candidate: str
    thresholds: Thresholds
    samples: int  # read from the store
    skipped: dict[str, int]  # why → how many samples were not replayed
    passed: bool
    findings: tuple[Finding, ...]
    overall: Comparison
    routes: tuple[Comparison, ...]
    pairs: tuple[Pair, ...]


def parse_since(text: str, now: datetime) -> float:
    """A `--since` value as a Unix time: a duration back from `now` (`90s`, `30m`, `24h`,
    `7d`, `2w`) or an ISO 8601 time (UTC unless it names a zone). ValueError otherwise."""
    match = _DURATION.match(text)
    if match:
        return now.timestamp() - float(match.group(1)) * _UNITS[match.group(2)]
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is neither a duration (30m, 24h, 7d) nor an ISO 8601 time") from None
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).timestamp()


def request_of(sample: PayloadSample) -> ReplayRequest:
    """The request to send again for a sample; ValueError if its stored JSON is not a chat request."""
    try:
        raw: Any = json.loads(sample.request)
    except ValueError as exc:
        raise ValueError(f"sample {sample.request_id}: request is not JSON") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("messages"), list) or not raw["messages"]:
        raise ValueError(f"sample {sample.request_id}: request has no messages")
    document = {k: v for k, v in raw.items() if k not in _NOT_REPLAYED}
    model = document.setdefault("model", "auto")
    return ReplayRequest(
        model=str(model), messages=tuple(document["messages"]), route=sample.route or None, document=document
    )


def replayable(
    samples: Sequence[PayloadSample], baseline_tenants: Collection[str], candidate_tenants: Collection[str]
) -> tuple[list[Replayable], dict[str, int]]:
    """The samples both configs can serve, as requests; and why the others were skipped
    (a tenant one of the configs does not know, a request that cannot be read), counted."""
    kept: list[Replayable] = []
    skipped: dict[str, int] = {}

    def skip(reason: str) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1

    for sample in samples:
        if sample.tenant not in baseline_tenants:
            skip(f"tenant {sample.tenant!r} is not in the baseline config")
        elif sample.tenant not in candidate_tenants:
            skip(f"tenant {sample.tenant!r} is not in the candidate config")
        else:
            try:
                kept.append(Replayable(sample, request_of(sample)))
            except ValueError:
                skip("the recorded request cannot be read")
    return kept, dict(sorted(skipped.items()))


def outcome(reply: Reply) -> Outcome:
    """One side's reply as the gate sees it; latency from the gateway's header when it sent one."""
    model, tier, cost_usd, _ = envelope_facts(reply.headers)
    try:
        latency_ms = float(reply.headers[LATENCY_HEADER])
    except (KeyError, ValueError):
        latency_ms = reply.latency_ms
    return Outcome(
        latency_ms=round(latency_ms, 3),
        status=reply.status,
        error=reply.error if reply.error is not None or reply.text is not None else "no answer",
        cost_usd=cost_usd,
        model=model,
        tier=tier,
    )


async def send(
    items: Sequence[Replayable],
    baseline: Target,
    candidate: Target,
    *,
    concurrency: int,
    timeout_s: float,
    on_done: Callable[[], None] | None = None,
) -> list[tuple[Reply, Reply]]:
    """Each item to both gateways at once, at most `concurrency` items in flight; the
    (baseline, candidate) replies in the items' order.

    First, unmeasured, each route's first item warms both gateways up: the one-off costs
    of a fresh process (connection pools, models loaded on first use, a local model's
    server starting) would otherwise land on whichever side met them first."""
    timeout = aiohttp.ClientTimeout(total=timeout_s, connect=min(timeout_s, 10.0))
    connector = aiohttp.TCPConnector(limit=2 * max(concurrency, 1) + 2)
    gate = asyncio.Semaphore(max(concurrency, 1))
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        clients = [
            {
                tenant: GatewayClient(session, target.base_url, key, use_cache=False)
                for tenant, key in target.keys.items()
            }
            for target in (baseline, candidate)
        ]

        async def one(index: int, item: Replayable, *, measured: bool = True) -> tuple[Reply, Reply]:
            base, cand = (side[item.sample.tenant] for side in clients)
            first, second = (base, cand) if index % 2 == 0 else (cand, base)
            async with gate:
                early, late = await asyncio.gather(first.complete(item.request), second.complete(item.request))
            if on_done is not None and measured:
                on_done()
            return (early, late) if index % 2 == 0 else (late, early)

        firsts = {item.sample.route: item for item in reversed(items)}  # the first item of each route
        await asyncio.gather(*(one(i, item, measured=False) for i, item in enumerate(firsts.values())))
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(i, item)) for i, item in enumerate(items)]
    return [task.result() for task in tasks]


def needs_encoder(replies: Sequence[tuple[Reply, Reply]]) -> bool:
    """Whether any pair of answers differs (identical answers need no model)."""
    return any(_texts(b, c) is not None and b.text != c.text for b, c in replies)


async def similarities(replies: Sequence[tuple[Reply, Reply]], encoder: TextEncoder | None) -> list[float | None]:
    """The cosine of each pair's answers: 1.0 when identical, None unless both answered.

    `encoder` may be None only when `needs_encoder` is False."""
    found: list[float | None] = [None] * len(replies)
    differ: list[tuple[int, str, str]] = []
    for i, (base, cand) in enumerate(replies):
        texts = _texts(base, cand)
        if texts is None:
            continue
        if texts[0] == texts[1]:
            found[i] = 1.0
        else:
            differ.append((i, *texts))
    if not differ:
        return found
    if encoder is None:
        raise ValueError("answers differ: an encoder is needed to compare them")
    vectors = await encoder.vectors([d[1] for d in differ] + [d[2] for d in differ])
    for k, (i, _, _) in enumerate(differ):
        found[i] = min(max(float(vectors[k] @ vectors[len(differ) + k]), -1.0), 1.0)
    return found


def pairs_of(
    items: Sequence[Replayable], replies: Sequence[tuple[Reply, Reply]], scores: Sequence[float | None]
) -> list[Pair]:
    return [
        Pair(item.sample.request_id, item.sample.route, outcome(base), outcome(cand), score)
        for item, (base, cand), score in zip(items, replies, scores, strict=True)
    ]


def report(
    verdict: Verdict,
    pairs: Sequence[Pair],
    *,
    baseline: str,
    candidate: str,
    thresholds: Thresholds,
    samples: int,
    skipped: Mapping[str, int],
    created: datetime,
) -> ReplayReport:
    return ReplayReport(
        created=created.astimezone(UTC).isoformat(timespec="seconds"),
        baseline=baseline,
        candidate=candidate,
        thresholds=thresholds,
        samples=samples,
        skipped=dict(skipped),
        passed=verdict.passed,
        findings=verdict.regressions,
        overall=verdict.overall,
        routes=verdict.routes,
        pairs=tuple(pairs),
    )


def save(run: ReplayReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(msgspec.json.format(msgspec.json.encode(run), indent=2) + b"\n")


def _texts(base: Reply, cand: Reply) -> tuple[str, str] | None:
    if base.error is not None or cand.error is not None or base.text is None or cand.text is None:
        return None
    return base.text, cand.text
