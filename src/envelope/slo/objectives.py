"""A route's objectives, resolved once from its config, and the verdicts on one request.

Objectives (the SLIs, each a share of good events):

- availability: counted requests answered without a 5xx;
- latency: counted requests (failed ones too) within `latency.p95_ms`;
- ttft: counted streams whose first token came within `latency.ttft_ms`.

A route without a p95 (TTFT) target has no latency (TTFT) objective.
"""

from __future__ import annotations

import itertools
import types
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from envelope.config.documents import LatencyTargets
from envelope.config.slo import RouteSloDoc

Objective = Literal["availability", "latency", "ttft"]
OBJECTIVES: tuple[Objective, ...] = ("availability", "latency", "ttft")


@dataclass(frozen=True, slots=True)
class RouteObjectives:
    """Targets in seconds (None: no such target) and the objective fractions."""

    route: str
    p50_s: float | None = None
    p95_s: float | None = None
    p99_s: float | None = None
    ttft_s: float | None = None
    slo: RouteSloDoc = field(default_factory=RouteSloDoc)

    @classmethod
    def of(cls, route: str, latency: LatencyTargets, slo: RouteSloDoc | None = None) -> RouteObjectives:
        """From a route's `latency` targets and its `slo` document."""

        def seconds(ms: float | None) -> float | None:
            return None if ms is None else ms / 1000.0

        return cls(
            route=route,
            p50_s=seconds(latency.p50_ms),
            p95_s=seconds(latency.p95_ms),
            p99_s=seconds(latency.p99_ms),
            ttft_s=seconds(latency.ttft_ms),
            slo=slo if slo is not None else RouteSloDoc(),
        )

    def target(self, objective: Objective) -> float:
        """The objective's fraction of good events."""
        slo = self.slo
        return slo.availability if objective == "availability" else slo.latency if objective == "latency" else slo.ttft

    def threshold_s(self, objective: Objective) -> float | None:
        """The latency a good event stays within (None for availability)."""
        return self.p95_s if objective == "latency" else self.ttft_s if objective == "ttft" else None

    def has(self, objective: Objective) -> bool:
        return objective == "availability" or self.threshold_s(objective) is not None


class Verdicts(NamedTuple):
    """One request against each objective: True good, False bad, None not an event.
    The gateway counts `envelope_slo_events_total` from these, so Prometheus and the
    engine agree."""

    availability: bool | None
    latency: bool | None
    ttft: bool | None


_CHOICES: tuple[bool | None, ...] = (None, True, False)
# Every possible combination, built once: observing a request allocates nothing.
_VERDICTS = types.MappingProxyType({combo: Verdicts(*combo) for combo in itertools.product(_CHOICES, repeat=3)})


def verdicts(availability: bool | None, latency: bool | None, ttft: bool | None) -> Verdicts:
    return _VERDICTS[availability, latency, ttft]
