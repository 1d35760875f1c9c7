"""Build a deployment's adapter from its `provider.type` (the only dispatch on it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp

from envelope.config.documents import Deployment
from envelope.providers.base import Provider
from envelope.providers.local_model import LocalModel
from envelope.providers.minilm import MiniLMEmbeddings
from envelope.providers.openai_http import OpenAIHTTP

_ADAPTERS: dict[str, Callable[[str, Any, aiohttp.ClientSession], Provider]] = {
    "openai": OpenAIHTTP,
    "local": LocalModel,
    "minilm": MiniLMEmbeddings,
}


def build(deployment: Deployment, session: aiohttp.ClientSession) -> Provider:
    return _ADAPTERS[deployment.provider.type](deployment.name, deployment.provider, session)
