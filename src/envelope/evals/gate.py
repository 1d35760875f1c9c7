"""The regression gate: does this run regress against the baseline? A pure function.

A run regresses when any of these holds:

1. an intent in both runs lost more than `max_drop` of pass rate (0.05 = 5 points);
2. an intent in both runs lost more than `max_drop` of a scorer's mean score (a
   scorer in both runs' summaries of that intent);
3. an item (same id) that passed in the baseline fails now;
4. with `min_pass_rate`, the overall pass rate is below it (baseline or not).

Intents, scorers and items in only one of the runs are noted, never a regression:
compare a run with a baseline of the same golden set. Without a baseline only rule 4
applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from envelope.evals.results import RunReport, Summary

# Differences this small are float noise: a drop of exactly max_drop is allowed.
_EPSILON = 1e-9

Kind = Literal["pass_rate", "score", "item", "min_pass_rate"]


@dataclass(frozen=True, slots=True)
class GateRule:
    max_drop: float = 0.05
    min_pass_rate: float | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """One reason the gate fails."""

    kind: Kind
    message: str
    intent: str | None = None
    item: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    regressions: tuple[Finding, ...]
    notes: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.regressions


def decide(current: RunReport, baseline: RunReport | None, rule: GateRule) -> Verdict:
    """The gate's verdict on `current`, against `baseline` when there is one."""
    regressions: list[Finding] = []
    notes: list[str] = []
    if rule.min_pass_rate is not None and current.overall.pass_rate < rule.min_pass_rate - _EPSILON:
        regressions.append(
            Finding(
                "min_pass_rate",
                f"overall pass rate {current.overall.pass_rate:.1%} is below the minimum {rule.min_pass_rate:.1%}",
            )
        )
    if baseline is None:
        return Verdict(tuple(regressions), tuple(notes))
    for intent in sorted(current.intents.keys() & baseline.intents.keys()):
        regressions.extend(_intent(intent, current.intents[intent], baseline.intents[intent], rule.max_drop))
    regressions.extend(_items(current, baseline))
    notes.extend(f"intent {name}: not in the baseline" for name in sorted(current.intents.keys() - baseline.intents))
    notes.extend(
        f"intent {name}: in the baseline, not run" for name in sorted(baseline.intents.keys() - current.intents)
    )
    new = {r.id for r in current.items} - {r.id for r in baseline.items}
    gone = {r.id for r in baseline.items} - {r.id for r in current.items}
    if new:
        notes.append(f"{len(new)} item(s) not in the baseline: {', '.join(sorted(new))}")
    if gone:
        notes.append(f"{len(gone)} baseline item(s) not run: {', '.join(sorted(gone))}")
    return Verdict(tuple(regressions), tuple(notes))


def _intent(intent: str, now: Summary, before: Summary, max_drop: float) -> list[Finding]:
    out: list[Finding] = []
    if before.pass_rate - now.pass_rate > max_drop + _EPSILON:
        out.append(
            Finding(
                "pass_rate",
                f"{intent}: pass rate {before.pass_rate:.1%} → {now.pass_rate:.1%} (dropped more than {max_drop:.1%})",
                intent=intent,
            )
        )
    for scorer in sorted(now.scorers.keys() & before.scorers.keys()):
        was, is_ = before.scorers[scorer], now.scorers[scorer]
        if was - is_ > max_drop + _EPSILON:
            out.append(
                Finding(
                    "score",
                    f"{intent}: mean {scorer} score {was:.3f} → {is_:.3f} (dropped more than {max_drop:.3f})",
                    intent=intent,
                )
            )
    return out


def _items(current: RunReport, baseline: RunReport) -> list[Finding]:
    passed_before = {r.id for r in baseline.items if r.passed}
    return [
        Finding(
            "item",
            f"item {r.id} ({r.intent}) passed in the baseline, fails now: {r.problem}",
            intent=r.intent,
            item=r.id,
        )
        for r in current.items
        if r.id in passed_before and not r.passed
    ]
