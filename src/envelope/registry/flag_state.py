"""Where each feature flag of the active version stands now, and since when (pure).

A flag's activation time is when it was turned on: the audit time of the activation
that enabled it (the first of the unbroken run of activations, up to the latest, whose
version has it enabled), or its `activate_at` if that is later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from envelope.config.documents import FlagDoc
from envelope.core.flags import flag_on

State = Literal["on", "off", "scheduled", "ended"]


@dataclass(frozen=True, slots=True)
class Activation:
    """One activation from the audit log, with the flags of the version it made active."""

    ts: float
    flags: Sequence[FlagDoc]


@dataclass(frozen=True, slots=True)
class FlagState:
    flag: FlagDoc
    state: State  # for its tenants, when it names some
    on_since: datetime | None  # when it was (or will be) turned on; None while disabled


def flag_states(flags: Sequence[FlagDoc], activations: Sequence[Activation], now: datetime) -> list[FlagState]:
    """The state of each of `flags` (the active version's) at `now`; `activations` oldest first."""
    return [FlagState(f, _state(f, now), _on_since(f, activations)) for f in flags]


def _state(flag: FlagDoc, now: datetime) -> State:
    if not flag.enabled:
        return "off"
    if flag_on(flag.model_copy(update={"tenants": None}), now):
        return "on"
    return "scheduled" if flag.activate_at is not None and now < flag.activate_at else "ended"


def _on_since(flag: FlagDoc, activations: Sequence[Activation]) -> datetime | None:
    if not flag.enabled:
        return None
    enabled_at: float | None = None
    for activation in reversed(activations):
        if not any(f.name == flag.name and f.enabled for f in activation.flags):
            break
        enabled_at = activation.ts
    since = datetime.fromtimestamp(enabled_at, UTC) if enabled_at is not None else None
    if flag.activate_at is not None and (since is None or flag.activate_at > since):
        return flag.activate_at
    return since
