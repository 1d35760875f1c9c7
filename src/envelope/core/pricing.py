"""Cost of a request from a model's price table (USD per one million tokens)."""

from __future__ import annotations

from envelope.config.documents import Prices

PER = 1_000_000.0


def cost_usd(prices: Prices, *, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float:
    """Actual cost: cached input tokens are billed at the cached price, the rest at full price."""
    fresh = max(input_tokens - cached_tokens, 0)
    return (
        fresh * prices.input_per_1m + cached_tokens * prices.cached_input_per_1m + output_tokens * prices.output_per_1m
    ) / PER


def worst_case_usd(prices: Prices, *, input_tokens: int, max_output_tokens: int) -> float:
    """What a request can cost at most: all input uncached, every allowed output token used."""
    return (input_tokens * prices.input_per_1m + max_output_tokens * prices.output_per_1m) / PER


def affordable_output_tokens(prices: Prices, *, input_tokens: int, ceiling_usd: float) -> int:
    """The largest output allowance whose worst case stays within `ceiling_usd`."""
    return _affordable(ceiling_usd * PER - input_tokens * prices.input_per_1m, prices.output_per_1m)


def affordable_input_tokens(prices: Prices, *, max_output_tokens: int, ceiling_usd: float) -> int:
    """The largest input whose worst case, with `max_output_tokens` of output, stays within `ceiling_usd`."""
    return _affordable(ceiling_usd * PER - max_output_tokens * prices.output_per_1m, prices.input_per_1m)


def _affordable(left_per_1m: float, price_per_1m: float) -> int:
    """Tokens at `price_per_1m` that `left_per_1m` (USD × 1M) pays for."""
    if left_per_1m < 0:
        return 0
    if price_per_1m == 0:
        return 2**31 - 1
    return int(left_per_1m // price_per_1m)
