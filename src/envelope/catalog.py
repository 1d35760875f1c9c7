"""The loaded configuration: models with their token counters and deployment
adapters, routes and tenants by name. Built once by `bootstrap.py`, then read-only."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from envelope.config.documents import ConfigSet, Deployment, ModelDoc, RouteDoc, TenantDoc, Tier, Tokenizer
from envelope.errors import EnvelopeError, NotFound, PermissionDenied
from envelope.providers.base import Provider
from envelope.tokens.counter import EstimateCounter, TokenCounter, counter_for

log = logging.getLogger("envelope.catalog")

# The model name that asks the route's policy to choose the model.
AUTO = "auto"


# Counters are pure and costly to load: models with the same tokenizer share one, so a
# request fitted onto several of them (routing alternates) is counted once.
_COUNTERS: dict[Tokenizer, TokenCounter] = {}


def _shared_counter(tokenizer: Tokenizer) -> TokenCounter:
    counter = _COUNTERS.get(tokenizer)
    if counter is None:
        counter = _COUNTERS[tokenizer] = counter_for(tokenizer)
    return counter


@dataclass(slots=True, eq=False)
class ServedDeployment:
    doc: Deployment
    provider: Provider


@dataclass(slots=True, eq=False)
class ServedModel:
    doc: ModelDoc
    deployments: list[ServedDeployment]
    _counter: TokenCounter | None = field(default=None, repr=False)

    @property
    def counter(self) -> TokenCounter:
        """Built on first use: loading a vocabulary takes a fraction of a second."""
        if self._counter is None:
            try:
                self._counter = _shared_counter(self.doc.tokenizer)
            except (ImportError, OSError, ValueError, EnvelopeError) as exc:
                # The gateway keeps serving; counts are then labelled as estimates.
                log.warning("model %s: tokenizer unavailable (%s); estimating tokens", self.doc.name, exc)
                self._counter = EstimateCounter()
        return self._counter


@dataclass(slots=True)
class Catalog:
    config: ConfigSet
    models: dict[str, ServedModel]
    routes: dict[str, RouteDoc]
    tenants: dict[str, TenantDoc]
    _tiers: dict[str, dict[Tier, list[ServedModel]]] = field(default_factory=dict, repr=False)

    def by_tier(self, route: RouteDoc) -> dict[Tier, list[ServedModel]]:
        """The chat models `route` may use, by tier, in the order the config lists them."""
        tiers = self._tiers.get(route.name)
        if tiers is None:
            names = route.models if route.models is not None else list(self.models)
            tiers = {}
            for name in names:
                served = self.models[name]
                if not served.doc.embedding:
                    tiers.setdefault(served.doc.tier, []).append(served)
            self._tiers[route.name] = tiers
        return tiers

    def model(self, name: str, route: RouteDoc) -> ServedModel:
        served = self.models.get(name)
        if served is None:
            raise NotFound(f"The model {name!r} does not exist.", param="model", code="model_not_found")
        if route.models is not None and name not in route.models:
            raise PermissionDenied(
                f"Route {route.name!r} does not allow model {name!r}; allowed: {', '.join(route.models)}.",
                param="model",
                code="model_not_allowed",
            )
        return served

    def route(self, name: str) -> RouteDoc:
        route = self.routes.get(name)
        if route is None:
            raise NotFound(f"The route {name!r} does not exist.", param="x-envelope-route", code="route_not_found")
        return route

    def providers(self) -> list[Provider]:
        return [d.provider for m in self.models.values() for d in m.deployments]
