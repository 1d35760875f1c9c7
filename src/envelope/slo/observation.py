"""One finished request as the SLO engine sees it, and the one rule that says which
answers count against availability."""

from __future__ import annotations

import msgspec


class Observation(msgspec.Struct, frozen=True, gc=False):
    """A finished request. `ts` is wall-clock seconds (the engine's clock); durations are
    seconds. Build it with `from_status` so that `ok` and `counted` follow `outcome`.

    - `counted`: the request counts towards the objectives at all (client errors do not).
    - `ok`: it was answered without a server-side or upstream failure.
    - `attempts`: upstream attempts made (0 for cache hits and coalesced followers).
    - `fallback`: it was served by a fallback model.
    """

    route: str
    tenant: str
    tier: str | None
    ts: float
    latency_s: float
    ttft_s: float | None = None
    ok: bool = True
    counted: bool = True
    cost_usd: float = 0.0
    cache_hit: bool = False
    fallback: bool = False
    attempts: int = 1

    @classmethod
    def from_status(
        cls,
        status: int,
        *,
        route: str,
        tenant: str,
        tier: str | None,
        ts: float,
        latency_s: float,
        ttft_s: float | None = None,
        cost_usd: float = 0.0,
        cache_hit: bool = False,
        fallback: bool = False,
        attempts: int = 1,
    ) -> Observation:
        ok, counted = outcome(status)
        return cls(
            route=route,
            tenant=tenant,
            tier=tier,
            ts=ts,
            latency_s=latency_s,
            ttft_s=ttft_s,
            ok=ok,
            counted=counted,
            cost_usd=cost_usd,
            cache_hit=cache_hit,
            fallback=fallback,
            attempts=attempts,
        )


def outcome(status: int) -> tuple[bool, bool]:
    """(ok, counted) of an HTTP status: the one place this is decided.

    4xx (including 429 refusals by a limit and 499, the client went away) is the
    request's doing and excluded from the objectives; shedding shows in its own metric.
    5xx (502 upstream failed, 503 unavailable, 504 the budget ran out) is bad.
    """
    if 400 <= status < 500:
        return True, False
    return status < 500, True
