"""Load balancing across a model's deployments: the order in which the walk tries them.

Pure: the caller passes in each deployment's live figures and a random draw.

- `ordered`: as declared (a primary and its fallbacks).
- `least_inflight`: fewest requests in flight relative to weight first.
- `ewma`: lowest expected wait first — latency EWMA × (in flight + 1); deployments with
  no latency yet go first, so each is measured.
- `weighted`: the first pick is random in proportion to weight; the rest by weight.
- `prefix_affinity`: requests sharing a prompt prefix go to the same deployment
  (rendezvous hashing, so adding or removing one moves only its share), for KV-cache
  reuse — unless that deployment has `max_imbalance` more requests in flight than the
  least loaded one, when the request goes to the least loaded instead.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Literal

Strategy = Literal["ordered", "least_inflight", "ewma", "weighted", "prefix_affinity"]


@dataclass(frozen=True, slots=True)
class Candidate:
    name: str
    weight: float = 1.0
    in_flight: int = 0
    ewma_ms: float | None = None


def order(
    strategy: Strategy,
    candidates: list[Candidate],
    *,
    draw: float = 0.0,
    prefix: int | None = None,
    max_imbalance: int = 4,
) -> list[int]:
    """Indices of `candidates` in the order to try them. `draw` is uniform in [0, 1)."""
    indices = list(range(len(candidates)))
    if strategy == "ordered" or len(candidates) < 2:
        return indices
    if strategy == "least_inflight":
        return _least_loaded(candidates)
    if strategy == "ewma":
        return sorted(indices, key=lambda i: _expected_wait(candidates[i]))
    if strategy == "weighted":
        return _weighted(candidates, draw)
    return _affinity(candidates, prefix, max_imbalance)


def prefix_key(text: str) -> int:
    """A stable hash of a prompt prefix (the same in every process and replica)."""
    return zlib.crc32(text.encode("utf-8", "surrogatepass"))


def _least_loaded(candidates: list[Candidate]) -> list[int]:
    return sorted(range(len(candidates)), key=lambda i: (candidates[i].in_flight / candidates[i].weight, i))


def _expected_wait(c: Candidate) -> tuple[int, float]:
    if c.ewma_ms is None:
        return (0, float(c.in_flight))  # unmeasured: try it, least busy first
    return (1, c.ewma_ms * (c.in_flight + 1))


def _weighted(candidates: list[Candidate], draw: float) -> list[int]:
    total = sum(c.weight for c in candidates)
    point = draw * total
    first = len(candidates) - 1
    for i, c in enumerate(candidates):
        point -= c.weight
        if point < 0:
            first = i
            break
    rest = sorted((i for i in range(len(candidates)) if i != first), key=lambda i: (-candidates[i].weight, i))
    return [first, *rest]


def _affinity(candidates: list[Candidate], prefix: int | None, max_imbalance: int) -> list[int]:
    if prefix is None:
        return _least_loaded(candidates)
    ranked = sorted(
        range(len(candidates)),
        key=lambda i: zlib.crc32(f"{candidates[i].name}:{prefix}".encode()) * candidates[i].weight,
        reverse=True,
    )
    least = min(c.in_flight for c in candidates)
    if candidates[ranked[0]].in_flight - least > max_imbalance:
        return _least_loaded(candidates)
    return ranked
