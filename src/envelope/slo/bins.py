"""Fixed, log-spaced histogram bins for latencies: O(1) to place a value, no sorting.

Bin 0 holds values under `low`, bin `size - 1` values from `high` up; bins between are
`[low·r^(k-1), low·r^k)`. A quantile is the geometric middle of the bin holding the
rank, so its relative error is at most √r − 1 (≈ 4.9 % for the default r = 1.1) for
values within [low, high). The defaults (1 ms … 120 s) give 125 bins.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt


class Bins:
    """Log-spaced bin geometry shared by every histogram of the engine."""

    __slots__ = ("edges", "high", "index", "low", "ratio", "size")

    def __init__(self, low: float = 0.001, high: float = 120.0, ratio: float = 1.1) -> None:
        if not 0 < low < high or ratio <= 1:
            raise ValueError("bins need 0 < low < high and ratio > 1")
        self.low = low
        self.ratio = ratio
        inner = math.ceil(math.log(high / low) / math.log(ratio))
        self.high = low * math.pow(ratio, inner)
        self.size = inner + 2  # plus the underflow and overflow bins
        self.edges = tuple(low * math.pow(ratio, k) for k in range(inner + 1))
        # The bin of a value (seconds): a binary search in C over the edges, ≈ 0.1 µs.
        self.index: Callable[[float], int] = functools.partial(bisect.bisect_right, self.edges)

    @property
    def resolution(self) -> float:
        """The largest relative error of a quantile inside [low, high)."""
        return math.sqrt(self.ratio) - 1.0

    def representative(self, index: int) -> float:
        """The value a quantile falling in bin `index` is reported as."""
        if index <= 0:
            return self.low
        if index >= self.size - 1:
            return self.high
        return self.low * math.pow(self.ratio, index - 0.5)

    def quantile(self, counts: npt.ArrayLike, q: float) -> float | None:
        """The q-quantile (0 < q ≤ 1) of a histogram: the bin of the ⌈q·n⌉-th smallest value.
        None for an empty histogram."""
        cumulative = np.cumsum(np.asarray(counts, dtype=np.float64))
        total = float(cumulative[-1]) if cumulative.size else 0.0
        if total <= 0:
            return None
        rank = max(1.0, math.ceil(q * total - 1e-9))
        index = int(np.searchsorted(cumulative, rank, side="left"))
        return self.representative(min(index, self.size - 1))
