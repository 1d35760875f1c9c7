"""Recent requests of one population (a controlled route's tier, an experiment's arm):
time, latency and outcome, for p95 and rates over a window. Bounded: at high rates the
window is the last `MAX_RECENT` requests."""

from __future__ import annotations

from collections import deque

import numpy as np

from envelope.core.experiment import Figures

MAX_RECENT = 4096


class Recent:
    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: deque[tuple[float, float, bool, bool]] = deque(maxlen=MAX_RECENT)

    def add(self, at: float, ms: float, *, ok: bool = True, guarded: bool = False) -> None:
        self._seen.append((at, ms, ok, guarded))

    def figures(self, since: float) -> Figures:
        """What the requests since `since` did."""
        rows = [r for r in self._seen if r[0] >= since]
        if not rows:
            return Figures(0, None, 0, 0)
        p95 = float(np.percentile([r[1] for r in rows], 95))
        return Figures(len(rows), p95, sum(not r[2] for r in rows), sum(r[3] for r in rows))

    def clear(self) -> None:
        self._seen.clear()
