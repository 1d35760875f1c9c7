"""The scenario's client side: sends the workload to a gateway at its scheduled times
(open loop, real HTTP through aiohttp) and reads what the gateway says of itself.

Each request is sent when it is due, whatever earlier requests are doing: a pool with
no connection limit, so no request waits for a connection on the client's side, and
latency is counted from the scheduled time (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from envelope.bench.scenario_summary import Control, Outcome
from envelope.bench.scenario_workload import ScenarioRequest

SYSTEM_PROMPTS = {
    "support": "You are the support assistant of an online shop and software service. Answer briefly.",
    "assistant": "You are a careful assistant for complex tasks. Show your reasoning when it helps.",
    "risk": "You answer legal and medical questions for a claims team. Be precise and flag uncertainty.",
}


def body(request: ScenarioRequest) -> dict[str, Any]:
    messages = [
        {"role": "system", "content": SYSTEM_PROMPTS[request.route]},
        {"role": "user", "content": request.text},
    ]
    return {"model": "auto", "messages": messages, "max_tokens": request.max_tokens}


async def drive(
    root: str, keys: Mapping[str, str], requests: Sequence[ScenarioRequest], *, timeout_s: float
) -> list[Outcome]:
    """Send every request at its time (`at_s` after the start); the outcomes in workload order."""
    loop = asyncio.get_running_loop()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout_s)) as session:
        start = loop.time() + 0.2
        tasks = []
        for request in requests:
            due = start + request.at_s
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            tasks.append(asyncio.create_task(_send(session, root, keys[request.tenant], request, due)))
        return list(await asyncio.gather(*tasks))


async def warm_up(root: str, keys: Mapping[str, str], requests: Sequence[ScenarioRequest]) -> None:
    """A few requests, one at a time and not counted, so that first-request costs
    (connections, the embedding runtime's first pass) are not in the figures."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        for request in requests:
            await _send(session, root, keys[request.tenant], request, asyncio.get_running_loop().time())


async def _send(session: aiohttp.ClientSession, root: str, key: str, request: ScenarioRequest, due: float) -> Outcome:
    loop = asyncio.get_running_loop()
    headers = {"authorization": f"Bearer {key}", "x-envelope-route": request.route}
    status, error, found = 0, None, {}
    try:
        async with session.post(f"{root}/v1/chat/completions", json=body(request), headers=headers) as response:
            await response.read()
            status = response.status
            found = {k.lower(): v for k, v in response.headers.items() if k.lower().startswith("x-envelope-")}
    except (aiohttp.ClientError, TimeoutError) as exc:
        error = type(exc).__name__
    degradations = found.get("x-envelope-degradations", "none")
    return Outcome(
        index=request.index,
        route=request.route,
        kind=request.kind,
        high_risk=request.high_risk,
        in_burst=request.in_burst,
        status=status,
        latency_ms=(loop.time() - due) * 1000,
        tier=found.get("x-envelope-tier"),
        cache=found.get("x-envelope-cache"),
        cost_usd=float(found.get("x-envelope-cost-usd", 0) or 0),
        degradations=tuple(d for d in degradations.split(",") if d and d != "none"),
        error=error,
    )


async def control(root: str, admin_key: str, since: float) -> Control:
    """Downgrade time (`envelope_downgraded_seconds_total`, every route) and the transitions
    the gateway recorded since `since` (epoch seconds)."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        async with session.get(f"{root}/metrics") as response:
            metrics = await response.text()
        headers = {"authorization": f"Bearer {admin_key}"}
        async with session.get(
            f"{root}/admin/control/transitions", params={"since": str(since)}, headers=headers
        ) as response:
            response.raise_for_status()
            found = (await response.json())["data"]
    seconds = sum(
        float(value) for value in re.findall(r"^envelope_downgraded_seconds_total\{[^}]*\} (\S+)$", metrics, re.M)
    )
    latency = [t for t in found if t.get("kind") == "latency"]
    lines = tuple(
        f"{t['ts'] - since:5.1f} s {t['scope']} {t['direction']} {t['from_level']}->{t['to_level']}: {t['reason']}"
        for t in found
    )
    return Control(
        downgraded_s=seconds,
        downgrades=sum(t["direction"] == "down" for t in latency),
        recoveries=sum(t["direction"] == "up" for t in latency),
        transitions=lines,
    )
