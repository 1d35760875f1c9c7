"""Shadow results compared (pure): per route and shadow model, how the shadow fared
against the primary it shadowed — errors, latency, cost, and how alike the answers were."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from envelope.store.records import ShadowRecord


@dataclass(frozen=True, slots=True)
class ShadowSummary:
    route: str
    primary_models: tuple[str, ...]
    shadow_model: str
    calls: int
    errors: int
    primary_p50_ms: float
    primary_p95_ms: float
    shadow_p50_ms: float | None
    shadow_p95_ms: float | None
    primary_cost_usd: float
    shadow_cost_usd: float
    identical: int  # answers word for word the same (after trimming)
    mean_similarity: float | None  # of the answered pairs, when similarities were given


def summarize(records: Sequence[ShadowRecord], similarity: Sequence[float | None]) -> list[ShadowSummary]:
    """`similarity[i]` is the answers' similarity of `records[i]` (None: not measured)."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, record in enumerate(records):
        groups.setdefault((record.route, record.shadow_model), []).append(i)
    out = []
    for (route, shadow), members in sorted(groups.items()):
        rows = [records[i] for i in members]
        answered = [i for i in members if records[i].status == "ok"]
        shadow_ms = [records[i].shadow_ms for i in answered]
        primary_ms = [r.primary_ms for r in rows]
        measured = [s for i in answered if (s := similarity[i]) is not None]
        out.append(
            ShadowSummary(
                route=route,
                primary_models=tuple(sorted({r.primary_model for r in rows})),
                shadow_model=shadow,
                calls=len(rows),
                errors=len(rows) - len(answered),
                primary_p50_ms=float(np.percentile(primary_ms, 50)),
                primary_p95_ms=float(np.percentile(primary_ms, 95)),
                shadow_p50_ms=float(np.percentile(shadow_ms, 50)) if shadow_ms else None,
                shadow_p95_ms=float(np.percentile(shadow_ms, 95)) if shadow_ms else None,
                primary_cost_usd=sum(r.primary_cost_usd for r in rows),
                shadow_cost_usd=sum(r.shadow_cost_usd for r in rows),
                identical=sum(records[i].primary_text.strip() == records[i].shadow_text.strip() for i in answered),
                mean_similarity=float(np.mean(measured)) if measured else None,
            )
        )
    return out
