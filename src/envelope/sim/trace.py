"""A traffic trace: the requests `envelope simulate` replays, when they arrive and how long they are.

Recorded traces are JSONL, one request a line (a ledger export loads as it is: fields
not listed are ignored):

    {"ts": 1718000000.25, "route": "default", "input_tokens": 412, "output_tokens": 96}

`ts` (seconds; absolute or from 0) and `output_tokens` are required, and
`input_tokens` unless `prompt` (its text) is given, which then counts at four
characters a token. Optional: `route`, `tenant`, `feature`, `tier` (S/M/L: served
there with --recorded-tiers), `mode`, `intent`, `complexity`, `risk` (facts the
policy's rules may read), `latency_budget_ms` (tightens the route's deadline), `cache`
(the ledger's cache column: `exact`, `semantic`, `coalesced` or `hit` were answered
from the cache) and `operation` (rows other than `chat` are skipped).

Generated traces come from a `Spec`: Poisson arrivals at `rate` per second, optionally
multiplied by `burst_factor` for `burst_length` seconds every `burst_every` seconds,
and log-normal token lengths with the given means.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import msgspec

from envelope.config.documents import Mode, Tier
from envelope.ledger.record import CACHE_HITS

HITS = frozenset({*CACHE_HITS, "hit"})  # the ledger's hit kinds, or `hit` in a trace written by hand
CHARS_PER_TOKEN = 4.0


class TraceError(Exception):
    """A trace that cannot be read or a generation spec that cannot be used."""


class Arrival(msgspec.Struct, frozen=True, kw_only=True):
    """One request of a trace; `ts` is seconds from the trace's first request once loaded."""

    ts: float
    output_tokens: int
    input_tokens: int | None = None
    route: str = "default"
    tenant: str = "default"
    feature: str | None = None
    tier: Tier | None = None
    mode: Mode | None = None
    intent: str | None = None
    complexity: str | None = None
    risk: float | None = None
    latency_budget_ms: float | None = None
    cache: str | None = None
    prompt: str | None = None
    operation: str = "chat"

    @property
    def tokens_in(self) -> int:
        """Input tokens (set on every loaded arrival)."""
        return self.input_tokens or 0

    @property
    def input_chars(self) -> int:
        return len(self.prompt) if self.prompt is not None else int(self.tokens_in * CHARS_PER_TOKEN)

    @property
    def cache_hit(self) -> bool:
        return self.cache in HITS


_decoder = msgspec.json.Decoder(Arrival)
_encoder = msgspec.json.Encoder()


def load(path: str | Path) -> list[Arrival]:
    """Read a JSONL trace; a bad line is a TraceError naming the file and line."""
    file = Path(path)
    try:
        text = file.read_bytes()
    except OSError as exc:
        raise TraceError(f"{file}: cannot read: {exc.strerror or exc}") from exc
    rows: list[Arrival] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = _decoder.decode(line)
        except msgspec.DecodeError as exc:
            raise TraceError(f"{file}: line {number}: {exc}") from exc
        problem = _problem(row)
        if problem:
            raise TraceError(f"{file}: line {number}: {problem}")
        if row.operation == "chat":
            rows.append(row)
    if not rows:
        raise TraceError(f"{file}: no chat requests in this trace")
    return normalise(rows)


def _problem(row: Arrival) -> str | None:
    if not math.isfinite(row.ts):
        return "ts must be a finite number of seconds"
    if row.output_tokens < 0 or (row.input_tokens is not None and row.input_tokens < 0):
        return "token counts must not be negative"
    if row.input_tokens is None and row.prompt is None:
        return "needs input_tokens (or prompt, to count them from)"
    return None


def normalise(rows: Iterable[Arrival]) -> list[Arrival]:
    """Sorted by time, from 0, with input tokens counted from the prompt where missing."""
    ordered = sorted(rows, key=lambda r: r.ts)
    if not ordered:
        return []
    start = ordered[0].ts
    out = []
    for row in ordered:
        tokens = row.input_tokens
        if tokens is None:
            tokens = math.ceil(len(row.prompt or "") / CHARS_PER_TOKEN)
        out.append(msgspec.structs.replace(row, ts=row.ts - start, input_tokens=tokens))
    return out


def save(rows: Sequence[Arrival], path: str | Path) -> None:
    """Write a trace as JSONL (fields at their defaults are left out)."""
    with Path(path).open("wb") as out:
        for row in rows:
            out.write(_encoder.encode(_compact(row)))
            out.write(b"\n")


_DEFAULTS = Arrival(ts=0, output_tokens=0)


def _compact(row: Arrival) -> dict[str, object]:
    return {
        name: getattr(row, name)
        for name in row.__struct_fields__
        if name in ("ts", "output_tokens", "input_tokens") or getattr(row, name) != getattr(_DEFAULTS, name)
    }


# --- generated traces --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spec:
    """What a generated trace looks like. Mixes are (value, weight) pairs."""

    rate: float = 10.0  # requests per second outside bursts
    duration: float = 60.0  # seconds
    burst_every: float = 0.0  # seconds between burst starts (0: no bursts)
    burst_length: float = 0.0
    burst_factor: float = 1.0  # rate multiplier during a burst
    input_mean: float = 300.0
    input_sigma: float = 0.6  # log-normal shape (0: every request the same length)
    output_mean: float = 120.0
    output_sigma: float = 0.6
    routes: tuple[tuple[str, float], ...] = (("default", 1.0),)
    tenants: tuple[tuple[str, float], ...] = (("default", 1.0),)
    modes: tuple[tuple[str, float], ...] = ()
    intents: tuple[tuple[str, float], ...] = ()
    complexities: tuple[tuple[str, float], ...] = ()
    risk: float | None = None  # the classifier's risk score, for policies that read it


_MIXES = {"routes", "tenants", "modes", "intents", "complexities"}
_MODE_OF: dict[str, Mode] = {"fast": "fast", "balanced": "balanced", "precise": "precise"}
_MODES = frozenset(_MODE_OF)


def parse_spec(text: str) -> Spec:
    """`rate=20,duration=600,burst_every=60,burst_length=5,burst_factor=4,routes=default:0.8/docs:0.2`."""
    known = {f.name for f in fields(Spec)}
    values: dict[str, object] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in known:
            raise TraceError(f"--generate: {part!r} is not KEY=VALUE with KEY one of {', '.join(sorted(known))}")
        values[key] = _mix(key, value) if key in _MIXES else _number(key, value)
    spec = Spec(**values)  # type: ignore[arg-type]  # each value was parsed for its key above
    _check(spec)
    return spec


def _number(key: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise TraceError(f"--generate: {key}={value!r} is not a number") from None
    if not math.isfinite(number) or number < 0:
        raise TraceError(f"--generate: {key} must be a finite number ≥ 0")
    return number


def _mix(key: str, value: str) -> tuple[tuple[str, float], ...]:
    pairs = []
    for item in filter(None, value.split("/")):
        name, _, weight = item.partition(":")
        if not name:
            raise TraceError(f"--generate: {key}: {item!r} needs a name (NAME:WEIGHT)")
        pairs.append((name, _number(f"{key} weight of {name}", weight) if weight else 1.0))
    if not pairs or sum(w for _, w in pairs) <= 0:
        raise TraceError(f"--generate: {key} needs NAME:WEIGHT/NAME:WEIGHT with some weight above 0")
    return tuple(pairs)


def _check(spec: Spec) -> None:
    if spec.rate <= 0 or spec.duration <= 0:
        raise TraceError("--generate: rate and duration must be above 0")
    if spec.burst_every and not 0 < spec.burst_length <= spec.burst_every:
        raise TraceError("--generate: burst_length must be above 0 and at most burst_every")
    if spec.burst_factor <= 0:
        raise TraceError("--generate: burst_factor must be above 0")
    if spec.input_mean < 1 or spec.output_mean < 1:
        raise TraceError("--generate: input_mean and output_mean must be at least 1 token")
    bad = [m for m, _ in spec.modes if m not in _MODES]
    if bad:
        raise TraceError(f"--generate: modes: {', '.join(bad)} is not fast, balanced or precise")


def generate(spec: Spec, rng: random.Random) -> list[Arrival]:
    """Poisson arrivals over `spec.duration` seconds, with the spec's bursts and mixes,
    from 0 (as a loaded trace is)."""
    rows: list[Arrival] = []
    pick = _Picker(spec, rng)
    for start, end, rate in _segments(spec):
        # The Poisson process is memoryless, so restarting it at each change of rate is exact.
        t = start + rng.expovariate(rate)
        while t < end:
            rows.append(pick.arrival(t))
            t += rng.expovariate(rate)
    return normalise(rows)


def _segments(spec: Spec) -> Iterable[tuple[float, float, float]]:
    if not spec.burst_every or spec.burst_factor == 1.0:
        yield 0.0, spec.duration, spec.rate
        return
    t = 0.0
    while t < spec.duration:
        burst_end = min(t + spec.burst_length, spec.duration)
        yield t, burst_end, spec.rate * spec.burst_factor
        quiet_end = min(t + spec.burst_every, spec.duration)
        if quiet_end > burst_end:
            yield burst_end, quiet_end, spec.rate
        t += spec.burst_every


class _Picker:
    """Draws one request's lengths and labels."""

    def __init__(self, spec: Spec, rng: random.Random) -> None:
        self._spec = spec
        self._rng = rng

    def arrival(self, t: float) -> Arrival:
        spec = self._spec
        return Arrival(
            ts=t,
            input_tokens=self._length(spec.input_mean, spec.input_sigma),
            output_tokens=self._length(spec.output_mean, spec.output_sigma),
            route=self._one(spec.routes) or "default",
            tenant=self._one(spec.tenants) or "default",
            mode=_as_mode(self._one(spec.modes)),
            intent=self._one(spec.intents),
            complexity=self._one(spec.complexities),
            risk=spec.risk,
        )

    def _length(self, mean: float, sigma: float) -> int:
        if sigma == 0:
            return max(1, round(mean))
        # log-normal with the given mean: mu = ln(mean) - sigma²/2
        return max(1, round(self._rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)))

    def _one(self, mix: tuple[tuple[str, float], ...]) -> str | None:
        if not mix:
            return None
        if len(mix) == 1:
            return mix[0][0]
        names = [name for name, _ in mix]
        return self._rng.choices(names, weights=[w for _, w in mix])[0]


def _as_mode(mode: str | None) -> Mode | None:
    return _MODE_OF.get(mode) if mode is not None else None
