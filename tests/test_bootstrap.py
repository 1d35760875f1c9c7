"""Activating another config in a running gateway (in process): the swap is atomic,
deployments whose documents did not change keep their provider (connections, a local
model server), and what only the old config used is closed once its grace has passed."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from envelope.bootstrap import Gateway
from envelope.config.documents import ConfigSet
from envelope.providers.base import Provider
from envelope.store.memory import MemoryStore

BASE: dict[str, Any] = {
    "gateway": {"registry": {"enabled": False}, "slo": {"enabled": False}},
    "models": [
        {
            "name": name,
            "deployments": [
                {
                    "name": f"{name}-0",
                    "provider": {"type": "openai", "base_url": "http://127.0.0.1:9/v1", "model": name},
                }
            ],
        }
        for name in ("kept", "changed")
    ],
    "routes": [{"name": "default", "latency": {"timeout_ms": 100}}],
    "tenants": [{"name": "acme"}],
}


def providers(gateway: Gateway) -> dict[str, Provider]:
    return {d.doc.name: d.provider for m in gateway.catalog.models.values() for d in m.deployments}


@pytest.fixture
async def gateway() -> Any:
    gw = Gateway(ConfigSet.model_validate(BASE), store=MemoryStore())
    await gw.start()
    yield gw
    await gw.stop()


async def test_activation_keeps_unchanged_providers_and_retires_the_rest(gateway: Gateway) -> None:
    before = providers(gateway)
    closed: list[str] = []
    original = type(before["changed-0"]).close

    async def noting(self: Provider) -> None:
        closed.append(self.name)
        await original(self)  # type: ignore[arg-type]

    type(before["changed-0"]).close = noting  # type: ignore[method-assign]
    try:
        doc = copy.deepcopy(BASE)
        doc["models"][1]["deployments"][0]["timeout_s"] = 5.0
        doc["routes"][0]["max_output_tokens"] = 77
        old_chains = gateway.chains
        await gateway.activate(ConfigSet.model_validate(doc), 2)
        after = providers(gateway)
        assert after["kept-0"] is before["kept-0"]
        assert after["changed-0"] is not before["changed-0"]
        assert gateway.serving.version == 2 and gateway.chains is not old_chains
        assert gateway.catalog.routes["default"].max_output_tokens == 77
        assert closed == []  # requests begun on the old config may still use it
        await asyncio.sleep(1.3)  # the old config's longest deadline (0.1 s) + 1 s
        assert closed == [before["changed-0"].name] and not gateway._retiring
    finally:
        type(before["changed-0"]).close = original  # type: ignore[method-assign]


async def test_the_gateway_section_does_not_change_while_running(gateway: Gateway) -> None:
    doc = copy.deepcopy(BASE)
    doc["gateway"]["port"] = 9999
    await gateway.activate(ConfigSet.model_validate(doc), 3)
    assert gateway.config.gateway.port == 8080


async def test_a_config_that_cannot_be_built_leaves_the_running_one_and_closes_what_it_made() -> None:
    doc = copy.deepcopy(BASE)
    doc["gateway"]["slo"] = {"enabled": True}
    gateway = Gateway(ConfigSet.model_validate(doc), store=MemoryStore())
    await gateway.start()
    try:
        before = providers(gateway)
        closed: list[str] = []
        original = type(before["kept-0"]).close

        async def noting(self: Provider) -> None:
            closed.append(self.name)

        type(before["kept-0"]).close = noting  # type: ignore[method-assign]
        try:
            changed = copy.deepcopy(doc)
            changed["models"][1]["deployments"][0]["timeout_s"] = 5.0
            # an SLO window longer than the engine keeps (30 days of 5-minute buckets)
            changed["routes"][0]["slo"] = {"burn_windows": [{"long_s": 90 * 86400, "short_s": 3600, "factor": 1}]}
            with pytest.raises(ValueError, match="longer than the engine keeps"):
                await gateway.activate(ConfigSet.model_validate(changed), 2)
            assert gateway.serving.version is None and providers(gateway) == before
            assert closed == ["changed-0"]  # the provider built for the refused config; "kept-0" lives on
        finally:
            type(before["kept-0"]).close = original  # type: ignore[method-assign]
    finally:
        await gateway.stop()
