"""Where flags stand and since when: from the activation timeline and activate_at."""

from __future__ import annotations

from datetime import UTC, datetime

from envelope.config.documents import FlagDoc
from envelope.registry.flag_state import Activation, flag_states

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def flag(name: str = "f", **fields: object) -> FlagDoc:
    return FlagDoc.model_validate({"name": name, **fields})


def test_on_since_is_the_activation_that_turned_it_on() -> None:
    timeline = [
        Activation(100.0, [flag(enabled=False)]),
        Activation(200.0, [flag()]),  # turned on here
        Activation(300.0, [flag(description="reworded")]),  # still on
    ]
    (state,) = flag_states([flag()], timeline, NOW)
    assert (state.state, state.on_since) == ("on", at(200.0))


def test_turned_off_and_on_again_counts_from_the_last_time() -> None:
    timeline = [Activation(100.0, [flag()]), Activation(200.0, []), Activation(300.0, [flag()])]
    assert flag_states([flag()], timeline, NOW)[0].on_since == at(300.0)


def test_activate_at_later_than_the_activation_wins() -> None:
    later = flag(activate_at="2029-06-01T00:00:00Z")
    (state,) = flag_states([later], [Activation(100.0, [later])], NOW)
    assert (state.state, state.on_since) == ("on", datetime(2029, 6, 1, tzinfo=UTC))
    earlier = flag(activate_at="1970-01-01T00:00:10Z")
    assert flag_states([earlier], [Activation(100.0, [earlier])], NOW)[0].on_since == at(100.0)


def test_states() -> None:
    flags = [
        flag("off", enabled=False),
        flag("scheduled", activate_at="2031-01-01T00:00:00Z"),
        flag("ended", deactivate_at="2029-01-01T00:00:00Z"),
        flag("tenanted", tenants=["acme"]),
    ]
    states = {s.flag.name: s for s in flag_states(flags, [Activation(1.0, flags)], NOW)}
    assert {name: s.state for name, s in states.items()} == {
        "off": "off", "scheduled": "scheduled", "ended": "ended", "tenanted": "on",
    }  # fmt: skip
    assert states["off"].on_since is None
    assert states["scheduled"].on_since == datetime(2031, 1, 1, tzinfo=UTC)


def test_no_activation_recorded() -> None:
    assert flag_states([flag()], [], NOW)[0].on_since is None
