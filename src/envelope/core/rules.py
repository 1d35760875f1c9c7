"""The policy rule engine: ordered rules over a request's facts, to one routing decision.

Pure: facts in, decision out. Rules are read top to bottom; every rule whose
condition holds contributes its actions, and where several set the same action the
first one wins (so specific rules go above general ones, and a catch-all rule at the
bottom sets defaults). A matching rule with `stop` ends the reading. A condition on a
fact that is unknown (no classifier ran, no cost ceiling) does not hold.

A policy is compiled once: each rule becomes the list of tests it actually makes, so
a request pays only for the conditions written down.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from envelope.config.documents import Actions, CapacityStep, Mode, NumberTest, OverBudgetStep, PolicyDoc, Tier

M = TypeVar("M")
TIERS: tuple[Tier, ...] = ("S", "M", "L")
_RANK = {t: i for i, t in enumerate(TIERS)}
MODE_SHIFT: dict[Mode, int] = {"fast": -1, "balanced": 0, "precise": 1}

# When no rule says otherwise: today's behaviour of a route without a policy.
DEFAULT_OVER_BUDGET: tuple[OverBudgetStep, ...] = ("cap_output",)
DEFAULT_CAPACITY: tuple[CapacityStep, ...] = ("wait",)


@dataclass(frozen=True, slots=True)
class Facts:
    """What the rules may look at; classification fields are None when no classifier ran."""

    mode: Mode
    latency_budget_ms: float
    cost_budget_usd: float | None
    input_chars: int
    stream: bool
    tenant: str
    feature: str | None
    intent: str | None = None
    complexity: str | None = None
    risk: float | None = None
    risk_flags: frozenset[str] = frozenset()
    flags: frozenset[str] = frozenset()  # feature flags on for this request


@dataclass(frozen=True, slots=True)
class Routing:
    tier: Tier
    min_tier: Tier | None = None
    max_tier: Tier | None = None
    retrieval: Literal["allow", "skip"] = "allow"
    cache: Literal["prefer", "normal", "bypass"] = "normal"
    over_budget: tuple[OverBudgetStep, ...] = DEFAULT_OVER_BUDGET
    capacity: tuple[CapacityStep, ...] = DEFAULT_CAPACITY
    capacity_wait_ms: float | None = None
    fallback_tiers: bool = False
    rules: tuple[str, ...] = field(default=())

    def allows(self, tier: Tier) -> bool:
        """Whether serving from `tier` keeps within the decision's bounds."""
        return clamp(tier, self.min_tier, self.max_tier) == tier


def rank(tier: Tier) -> int:
    return _RANK[tier]


def shift(tier: Tier, steps: int) -> Tier:
    return TIERS[min(max(_RANK[tier] + steps, 0), len(TIERS) - 1)]


def base_tier(quality_tier: Tier, mode: Mode) -> Tier:
    """The route's tier moved by the performance mode: fast one down, precise one up."""
    return shift(quality_tier, MODE_SHIFT[mode])


def clamp(tier: Tier, low: Tier | None, high: Tier | None) -> Tier:
    """`tier` within [low, high]; where the two bounds conflict, `low` (the safety floor) wins."""
    rank = _RANK[tier]
    if high is not None:
        rank = min(rank, _RANK[high])
    if low is not None:
        rank = max(rank, _RANK[low])
    return TIERS[rank]


def preference(target: Tier, decision: Routing) -> list[Tier]:
    """Tiers in the order to serve from: the target, then lower tiers nearest first,
    then higher ones; only those the decision allows."""
    rank = _RANK[target]
    order = [target, *reversed(TIERS[:rank]), *TIERS[rank + 1 :]]
    return [t for t in order if decision.allows(t)]


def capacity_wait_s(remaining_s: float, wait_ms: float | None, *, last: bool) -> float:
    """How long a `wait` capacity step waits for a slot: the rest of the deadline when it
    is the last step; else `capacity_wait_ms` (by default half the rest), leaving time
    for the steps after it. Never past the deadline."""
    if last:
        return remaining_s
    return min(wait_ms / 1000.0 if wait_ms is not None else remaining_s / 2, remaining_s)


def remedies(
    primary: Sequence[M], lower: Sequence[M], steps: Sequence[OverBudgetStep]
) -> Iterator[tuple[M, frozenset[OverBudgetStep]]]:
    """The (candidate, remedies) pairs to try, in order, when cost may not fit.

    First each primary candidate as it is; then, step by step, each step is added to
    those before it: `lower_tier` brings in the lower tiers' candidates, any other step
    joins the set of remedies in force. After each step every candidate in view is tried
    with the remedies in force, unless that exact pair was tried already."""
    view = list(primary)
    active: frozenset[OverBudgetStep] = frozenset()
    tried: set[tuple[int, frozenset[OverBudgetStep]]] = set()
    for step in (None, *steps):
        if step == "lower_tier":
            view.extend(c for c in lower if c not in view)
        elif step is not None:
            active = active | {step}
        for candidate in view:
            if (id(candidate), active) not in tried:
                tried.add((id(candidate), active))
                yield candidate, active


Test = Callable[[Facts], bool]
_ACTIONS = tuple(Actions.model_fields)


@dataclass(frozen=True, slots=True)
class _Rule:
    name: str
    tests: tuple[Test, ...]
    actions: tuple[tuple[str, Any], ...]
    stop: bool


class Policy:
    """A compiled policy document."""

    def __init__(self, doc: PolicyDoc) -> None:
        self.name = doc.name
        self.needs_classifier = doc.needs_classifier()
        # the facts some rule reads: the route stage skips working out the others
        self.reads = frozenset(name for rule in doc.rules for name, value in rule.when if value is not None)
        # a decision depends only on which rules matched and the base tier: made once each
        self._made: dict[tuple[tuple[int, ...], Tier], Routing] = {}
        self._rules = tuple(
            _Rule(
                name=rule.name,
                tests=tuple(_tests(rule.when)),
                actions=tuple((k, getattr(rule.then, k)) for k in _ACTIONS if getattr(rule.then, k) is not None),
                stop=rule.stop,
            )
            for rule in doc.rules
        )

    def decide(self, facts: Facts, base: Tier) -> Routing:
        matched: list[int] = []
        for i, rule in enumerate(self._rules):
            for test in rule.tests:
                if not test(facts):
                    break
            else:
                matched.append(i)
                if rule.stop:
                    break
        key = (tuple(matched), base)
        made = self._made.get(key)
        if made is None:
            if len(self._made) >= 4096:
                self._made.clear()
            made = self._made[key] = self._routing(key[0], base)
        return made

    def _routing(self, matched: tuple[int, ...], base: Tier) -> Routing:
        chosen: dict[str, Any] = {}
        for i in matched:
            for key, value in self._rules[i].actions:
                chosen.setdefault(key, value)
        return routing_from(chosen, base, tuple(self._rules[i].name for i in matched))


def routing_from(chosen: dict[str, Any], base: Tier, matched: tuple[str, ...] = ()) -> Routing:
    low, high = chosen.get("min_tier"), chosen.get("max_tier")
    return Routing(
        tier=clamp(chosen.get("tier", base), low, high),
        min_tier=low,
        max_tier=high,
        retrieval=chosen.get("retrieval", "allow"),
        cache=chosen.get("cache", "normal"),
        over_budget=tuple(chosen.get("over_budget", DEFAULT_OVER_BUDGET)),
        capacity=tuple(chosen.get("capacity", DEFAULT_CAPACITY)),
        capacity_wait_ms=chosen.get("capacity_wait_ms"),
        fallback_tiers=chosen.get("fallback_tiers", False),
        rules=matched,
    )


def _tests(when: Any) -> list[Test]:
    tests: list[Test] = []
    for name in type(when).model_fields:
        wanted = getattr(when, name)
        if wanted is None:
            continue
        if isinstance(wanted, NumberTest):
            tests.append(_number(name, wanted))
        elif name == "risk_flags":
            tests.append(_any_flag(frozenset(wanted)))
        elif name == "flags":
            tests.append(_all_flags(frozenset(wanted)))
        elif isinstance(wanted, list):
            tests.append(_one_of(name, frozenset(wanted)))
        else:
            tests.append(_equals(name, wanted))
    return tests


def _any_flag(flags: frozenset[str]) -> Test:
    return lambda facts: not flags.isdisjoint(facts.risk_flags)


def _all_flags(flags: frozenset[str]) -> Test:
    return lambda facts: flags <= facts.flags


def _one_of(name: str, allowed: frozenset[Any]) -> Test:
    return lambda facts: getattr(facts, name) in allowed


def _equals(name: str, wanted: Any) -> Test:
    return lambda facts: bool(getattr(facts, name) == wanted)


def _number(name: str, test: NumberTest) -> Test:
    bounds: Sequence[tuple[str, float]] = [
        (op, v) for op in ("lt", "lte", "gt", "gte") if (v := getattr(test, op)) is not None
    ]

    def holds(facts: Facts) -> bool:
        value = getattr(facts, name)
        if value is None:
            return False
        for op, bound in bounds:
            if op == "lt" and not value < bound:
                return False
            if op == "lte" and not value <= bound:
                return False
            if op == "gt" and not value > bound:
                return False
            if op == "gte" and not value >= bound:
                return False
        return True

    return holds
