"""Envelope binding: a route's declared limits, tightened by what the request asks.

Everything here is pure. The HTTP shell hands in header strings and token counts;
these functions answer with values and the degradations they applied, or raise a
`ClientError` saying which limit cannot be met.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from envelope.config.documents import Mode, Prices, RouteDoc, Tier
from envelope.core.pricing import affordable_output_tokens, worst_case_usd
from envelope.errors import BudgetExceeded, InvalidRequest
from envelope.wire import MAX_TOKENS_LIMIT

MODES: tuple[str, ...] = get_args(Mode)
# Above this a latency budget is not a budget; it is a typo.
MAX_LATENCY_BUDGET_MS = 24 * 3600 * 1000.0


@dataclass(frozen=True, slots=True)
class Overrides:
    """What a request asked for in `x-envelope-*` headers; None where it said nothing."""

    latency_budget_ms: float | None = None
    cost_budget_usd: float | None = None
    mode: Mode | None = None


@dataclass(frozen=True, slots=True)
class Envelope:
    """The limits one request runs under."""

    deadline_ms: float
    ttft_ms: float | None
    p95_ms: float | None
    max_input_tokens: int
    max_output_tokens: int
    cost_ceiling_usd: float | None
    mode: Mode
    tier: Tier
    truncate_input: bool
    min_output_tokens: int


@dataclass(frozen=True, slots=True)
class OutputPlan:
    max_tokens: int
    worst_case_usd: float
    degradations: tuple[str, ...]


def parse_overrides(latency: str | None, cost: str | None, mode: str | None) -> Overrides:
    """Read the three envelope headers; a malformed value is the client's error."""
    return Overrides(
        latency_budget_ms=_positive(latency, "x-envelope-latency-budget-ms", MAX_LATENCY_BUDGET_MS),
        cost_budget_usd=_positive(cost, "x-envelope-cost-budget", 1e9),
        mode=_mode(mode),
    )


def bind(route: RouteDoc, overrides: Overrides, tenant_mode: Mode | None = None) -> Envelope:
    """Route defaults, tightened (never loosened) by the request's overrides. The mode is
    the request's, else the tenant's, else the route's."""
    deadline = route.latency.timeout_ms
    if overrides.latency_budget_ms is not None:
        deadline = min(deadline, overrides.latency_budget_ms)
    ceiling = route.cost_ceiling_usd
    if overrides.cost_budget_usd is not None:
        ceiling = overrides.cost_budget_usd if ceiling is None else min(ceiling, overrides.cost_budget_usd)
    return Envelope(
        deadline_ms=deadline,
        ttft_ms=route.latency.ttft_ms,
        p95_ms=route.latency.p95_ms,
        max_input_tokens=route.max_input_tokens,
        max_output_tokens=route.max_output_tokens,
        cost_ceiling_usd=ceiling,
        mode=overrides.mode or tenant_mode or route.mode,
        tier=route.quality_tier,
        truncate_input=route.on_input_overflow == "truncate",
        min_output_tokens=route.min_output_tokens,
    )


def fit_messages(counts: list[int], pinned: list[bool], *, overhead: int, cap: int) -> list[int] | None:
    """Indices of the messages to keep so that their tokens fit `cap`.

    Pinned messages (system prompts) and the last message always stay; the oldest
    unpinned messages go first. None when even that does not fit.
    """
    total = overhead + sum(counts)
    keep = list(range(len(counts)))
    for i in range(len(counts) - 1):
        if total <= cap:
            break
        if pinned[i]:
            continue
        total -= counts[i]
        keep.remove(i)
    return keep if total <= cap else None


def plan_output(
    envelope: Envelope,
    *,
    requested: int | None,
    input_tokens: int,
    context_window: int,
    prices: Prices,
    cap_by_cost: bool = True,
) -> OutputPlan:
    """Decide `max_tokens`: the request's ask, capped by route and context window. Over the
    cost ceiling, either cap it to what is affordable (`cap_by_cost`) or refuse."""
    if requested is not None and not 1 <= requested <= MAX_TOKENS_LIMIT:
        raise InvalidRequest(
            f"max_tokens must be between 1 and {MAX_TOKENS_LIMIT}, got {requested}.",
            param="max_tokens",
            code="invalid_value",
        )
    degradations: list[str] = []
    allowed = min(envelope.max_output_tokens, context_window - input_tokens)
    if allowed < 1:
        raise BudgetExceeded(
            f"The input ({input_tokens} tokens) leaves no room for output in the model's "
            f"{context_window}-token context window.",
            code="context_length_exceeded",
        )
    max_tokens = allowed if requested is None else min(requested, allowed)
    if requested is not None and max_tokens < requested:
        degradations.append("max_tokens_capped")
    ceiling = envelope.cost_ceiling_usd
    if ceiling is not None:
        affordable = affordable_output_tokens(prices, input_tokens=input_tokens, ceiling_usd=ceiling)
        if affordable < max_tokens:
            if not cap_by_cost:
                projected = worst_case_usd(prices, input_tokens=input_tokens, max_output_tokens=max_tokens)
                raise BudgetExceeded(
                    f"The request's projected cost ${projected:.6f} ({input_tokens} input + {max_tokens} output "
                    f"tokens) is over its ceiling of ${ceiling:.6f}.",
                    code="cost_ceiling_exceeded",
                )
            if affordable < min(envelope.min_output_tokens, max_tokens):
                least = worst_case_usd(prices, input_tokens=input_tokens, max_output_tokens=envelope.min_output_tokens)
                raise BudgetExceeded(
                    f"The request cannot fit its cost ceiling of ${ceiling:.6f}: input alone with "
                    f"{envelope.min_output_tokens} output tokens would cost ${least:.6f}.",
                    code="cost_ceiling_exceeded",
                )
            max_tokens = affordable
            degradations.append("max_tokens_capped_by_cost")
    return OutputPlan(
        max_tokens=max_tokens,
        worst_case_usd=worst_case_usd(prices, input_tokens=input_tokens, max_output_tokens=max_tokens),
        degradations=tuple(degradations),
    )


def _positive(value: str | None, header: str, upper: float) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not 0 < number <= upper:  # also rejects NaN
        raise InvalidRequest(f"Header {header} must be a positive number, got {value!r}.", param=header)
    return number


def _mode(value: str | None) -> Mode | None:
    if value is None:
        return None
    if value not in MODES:
        raise InvalidRequest(
            f"Header x-envelope-mode must be one of {', '.join(MODES)}, got {value!r}.", param="x-envelope-mode"
        )
    return value  # type: ignore[return-value]
