"""Config sets for registry tests: a small valid base, changed a field at a time."""

from __future__ import annotations

import copy
from typing import Any

from envelope.config.documents import ConfigSet

BASE: dict[str, Any] = {
    "models": [
        {
            "name": "small",
            "tier": "S",
            "deployments": [
                {"name": "d1", "provider": {"type": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "x"}}
            ],
        },
        {
            "name": "big",
            "tier": "L",
            "deployments": [
                {"name": "d2", "provider": {"type": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "y"}}
            ],
        },
    ],
    "routes": [{"name": "default", "latency": {"p95_ms": 800}}],
    "tenants": [{"name": "acme"}, {"name": "beta"}],
    "flags": [{"name": "dark-launch", "enabled": False}],
}


def raw(**sections: Any) -> dict[str, Any]:
    """BASE with whole sections replaced."""
    doc = copy.deepcopy(BASE)
    doc.update(copy.deepcopy(sections))
    return doc


def config(**sections: Any) -> ConfigSet:
    return ConfigSet.model_validate(raw(**sections))


def with_p95(ms: float) -> ConfigSet:
    return config(routes=[{"name": "default", "latency": {"p95_ms": ms}}])
