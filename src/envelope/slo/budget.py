"""Error-budget arithmetic (Google SRE workbook, chapter 5).

With an objective `o` (e.g. 0.999), the error budget is the share `1 − o` of events
that may be bad over the SLO period. The *burn rate* over a window is the share of bad
events in it divided by that budget: 1 spends the budget exactly over the period,
14.4 spends 2 % of a 30-day budget in one hour.
"""

from __future__ import annotations


def burn_rate(bad: float, events: float, objective: float) -> float | None:
    """Bad share over the budget share; None without events."""
    if events <= 0:
        return None
    return (bad / events) / (1.0 - objective)


def budget_remaining(bad: float, events: float, objective: float) -> float:
    """Share of the period's error budget left, at the traffic seen so far: 1 untouched,
    0 spent, negative overspent. Without events nothing is spent."""
    if events <= 0:
        return 1.0
    return 1.0 - (bad / events) / (1.0 - objective)


def budget_consumed_by(rate: float, window_s: float, period_s: float) -> float:
    """Share of the budget a burn `rate` sustained over `window_s` spends."""
    return rate * window_s / period_s
