"""The follower keeps a gateway on the registry's active version: it activates a new
version once, skips one that cannot be activated (and does not retry it every tick),
and moves on when the pointer moves again."""

from __future__ import annotations

import hashlib

from envelope.config.documents import ConfigSet
from envelope.registry.follower import Follower
from envelope.registry.registry import Registry
from envelope.store.memory import MemoryStore
from tests.registry.samples import config, with_p95


async def test_it_follows_the_pointer_and_skips_what_cannot_be_activated() -> None:
    store = MemoryStore()
    registry = Registry(store)
    activated: list[tuple[int, float | None]] = []
    refuse: set[int] = set()

    async def activate(config_set: ConfigSet, number: int) -> None:
        if number in refuse:
            raise RuntimeError("a deployment cannot be built")
        activated.append((number, config_set.routes[0].latency.p95_ms))

    await registry.apply(config(), "ci")
    follower = Follower(registry, activate, interval_s=1.0, current=1)
    assert await follower.check() is False and activated == []  # already serving version 1

    await registry.apply(with_p95(600), "ci")
    assert await follower.check() is True and activated == [(2, 600)]
    assert await follower.check() is False and follower.current == 2

    refuse.add(3)
    await registry.apply(with_p95(500), "ci")
    assert await follower.check() is False and follower.current == 2
    refuse.clear()
    assert await follower.check() is False  # version 3 is not tried again until the pointer moves

    # a version stored by someone else that no longer validates: never handed to the gateway
    text = '{"models": [], "routes": [{"name": "x", "mode": "turbo"}], "tenants": [], "policies": [], "flags": []}'
    bad, _ = await store.add_version(hashlib.sha256(text.encode()).hexdigest(), text, actor="x", message="", at=0.0)
    await store.activate(bad.number, expected=3, actor="x", action="apply", summary="", reason=None, at=0.0)
    assert await follower.check() is False and follower.current == 2

    await registry.rollback(2, "ci")
    assert await follower.check() is False  # the pointer is back on what is served: nothing to do
    await registry.apply(with_p95(400), "ci")
    assert await follower.check() is True and activated[-1] == (5, 400)
