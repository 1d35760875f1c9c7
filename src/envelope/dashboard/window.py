"""The time windows a dashboard can show, and their buckets."""

from __future__ import annotations

import math
from dataclasses import dataclass

from envelope.errors import InvalidRequest


@dataclass(frozen=True, slots=True)
class Window:
    """The last `span_s` seconds, drawn as buckets of `bucket_s` aligned to the epoch
    (as the store's rollup buckets are); the newest bucket is the one holding `now`."""

    name: str
    span_s: float
    bucket_s: float

    @property
    def count(self) -> int:
        return math.ceil(self.span_s / self.bucket_s)

    def starts(self, now: float) -> list[float]:
        """Start of every bucket, oldest first."""
        last = math.floor(now / self.bucket_s) * self.bucket_s
        return [last - (self.count - 1 - i) * self.bucket_s for i in range(self.count)]

    def since(self, now: float) -> float:
        """Start of the oldest bucket: where the window's rollups begin."""
        return self.starts(now)[0]


WINDOWS: dict[str, Window] = {
    w.name: w
    for w in (
        Window("15m", 900, 15),
        Window("1h", 3600, 60),
        Window("6h", 6 * 3600, 300),
        Window("24h", 24 * 3600, 900),
        Window("7d", 7 * 86400, 3600),
    )
}
DEFAULT_WINDOW = "1h"


def window_named(name: str | None) -> Window:
    """The window called `name` (the default one for None); 400 for any other name."""
    found = WINDOWS.get(DEFAULT_WINDOW if name is None else name)
    if found is None:
        raise InvalidRequest(
            f"Unknown window {name!r}; use one of {', '.join(WINDOWS)}.", param="window", code="invalid_window"
        )
    return found
