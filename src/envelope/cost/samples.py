"""Sample prompts for `envelope estimate`: read from JSON lines or plain text.

A `.jsonl` line is an object with `prompt` (the user's message; `system` may add a
system prompt) or `messages` (OpenAI chat messages), and optionally `weight` (its share
of the traffic, relative to the others; default 1), `max_tokens`, `output_tokens` (the
answer's expected length), `model` (a named model instead of `auto`), `mode`,
`latency_budget_ms` and `cost_budget_usd` (as the `x-envelope-*` headers would say).
Any other file is plain text: one prompt a line, blank lines skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from envelope.core.envelope import parse_overrides
from envelope.errors import InvalidRequest
from envelope.wire import MAX_TOKENS_LIMIT, Message

# A sample's envelope fields and the headers they are sent as (in `parse_overrides`' order).
_HEADERS = (
    ("latency_budget_ms", "x-envelope-latency-budget-ms"),
    ("cost_budget_usd", "x-envelope-cost-budget"),
    ("mode", "x-envelope-mode"),
)


class SampleError(ValueError):
    """Sample prompts that cannot be read; the message names the line."""


class _Line(msgspec.Struct, forbid_unknown_fields=True):
    prompt: str | None = None
    system: str | None = None
    messages: list[dict[str, Any]] | None = None
    weight: float = 1.0
    max_tokens: int | None = None
    output_tokens: int | None = None
    model: str | None = None
    mode: str | None = None
    latency_budget_ms: float | None = None
    cost_budget_usd: float | None = None


@dataclass(frozen=True, slots=True)
class SamplePrompt:
    messages: list[dict[str, Any]]
    weight: float = 1.0
    max_tokens: int | None = None
    output_tokens: int | None = None
    model: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # x-envelope-* overrides, as the gateway reads them

    def preview(self, width: int = 60) -> str:
        """The last user message, on one line, cut to `width` characters."""
        user = [m for m in self.messages if m.get("role") == "user"] or self.messages
        content = user[-1].get("content")
        text = " ".join((content if isinstance(content, str) else str(content or "")).split())
        return text if len(text) <= width else text[: width - 1] + "…"


def parse_samples(text: str, *, jsonl: bool) -> list[SamplePrompt]:
    """Every sample in `text`; `SampleError` naming the first bad line, or if there are none."""
    samples: list[SamplePrompt] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if not jsonl:
            samples.append(SamplePrompt([{"role": "user", "content": line.strip()}]))
            continue
        try:
            samples.append(_sample(msgspec.json.decode(line, type=_Line)))
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            raise SampleError(f"line {number}: {exc}") from exc
    if not samples:
        raise SampleError("no prompts: the file is empty")
    return samples


def _sample(line: _Line) -> SamplePrompt:
    if (line.prompt is None) == (line.messages is None):
        raise ValueError("give `prompt` or `messages` (one of them)")
    if line.messages is not None:
        if line.system is not None:
            raise ValueError("`system` goes with `prompt`; put it in `messages` instead")
        if not line.messages:
            raise ValueError("`messages` is empty")
        msgspec.convert(line.messages, list[Message])  # the roles and contents the gateway accepts
        messages = line.messages
    else:
        messages = [{"role": "user", "content": line.prompt}]
        if line.system is not None:
            messages.insert(0, {"role": "system", "content": line.system})
    if not line.weight > 0:
        raise ValueError(f"`weight` must be positive, got {line.weight}")
    for name, least in (("max_tokens", 1), ("output_tokens", 0)):
        value = getattr(line, name)
        if value is not None and not least <= value <= MAX_TOKENS_LIMIT:
            raise ValueError(f"`{name}` must be between {least} and {MAX_TOKENS_LIMIT}, got {value}")
    headers = {header: str(getattr(line, name)) for name, header in _HEADERS if getattr(line, name) is not None}
    try:  # the gateway's own reading of the envelope headers, bounds included
        parse_overrides(*(headers.get(header) for _, header in _HEADERS))
    except InvalidRequest as exc:
        name = next(name for name, header in _HEADERS if header == exc.param)
        raise ValueError(f"`{name}`: {exc.message}") from exc
    return SamplePrompt(messages, line.weight, line.max_tokens, line.output_tokens, line.model, headers)
