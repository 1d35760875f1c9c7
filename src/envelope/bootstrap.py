"""The composition root: config → store → adapters → stages → chains.

Nothing else in Envelope builds objects that hold I/O. `Gateway.start()` runs inside
the server's event loop (it opens the pooled HTTP session and the store);
`Gateway.stop()` flushes the ledger and closes everything it opened.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from opentelemetry.sdk.trace import SpanProcessor

from envelope.admission import registry as admission_stores
from envelope.admission.breakers import SharedBreakers
from envelope.admission.ports import AdmissionStore
from envelope.cache import registry as answer_stores
from envelope.cache.semantic import SemanticCache
from envelope.cache.semantic_index import SemanticIndex
from envelope.catalog import Catalog, ServedDeployment, ServedModel
from envelope.classifier.model import Classifier
from envelope.config.documents import ConfigSet
from envelope.core.cache_key import config_version
from envelope.core.rules import Policy
from envelope.embeddings.embedder import Embedder
from envelope.ledger.spool import default_spool_dir
from envelope.ledger.writer import LedgerWriter
from envelope.pipeline.account import Account
from envelope.pipeline.admit import Admit, Release
from envelope.pipeline.authenticate import Authenticate, KeyCache
from envelope.pipeline.bind import BindEmbeddings, BindEnvelope
from envelope.pipeline.cache import Cache
from envelope.pipeline.chain import Chain, build_chains
from envelope.pipeline.classify import Classify
from envelope.pipeline.context import Operation
from envelope.pipeline.fleet import Fleet
from envelope.pipeline.guard_input import Detectors, GuardInput
from envelope.pipeline.guard_output import GuardOutput, checks_answers
from envelope.pipeline.infer import Infer
from envelope.pipeline.parse import ParseChat, ParseEmbeddings
from envelope.pipeline.retrieve import Retrieve
from envelope.pipeline.route import Decide, Route
from envelope.pipeline.settle import Settle
from envelope.providers import registry as providers
from envelope.providers.minilm import MiniLMEmbeddings
from envelope.retrieval.library import Library
from envelope.retrieval.shelf import Shelf
from envelope.store import registry as stores
from envelope.store.ports import Store
from envelope.telemetry.metrics import Metrics
from envelope.telemetry.tracing import Tracing
from envelope.tokens.tiktoken_counter import TiktokenCounter

log = logging.getLogger("envelope")


def route_versions(config: ConfigSet) -> dict[str, str]:
    """Per route, a digest of what shapes its answers: any change gives it fresh cache keys."""
    policies = {p.name: p for p in config.policies}
    models = {m.name: m for m in config.models}
    versions = {}
    for route in config.routes:
        shaping = [route, *([policies[route.policy]] if route.policy else [])]
        shaping += [models[name] for name in (route.models if route.models is not None else models)]
        versions[route.name] = config_version(*shaping)
    return versions


def build_catalog(config: ConfigSet, session: aiohttp.ClientSession) -> Catalog:
    models = {
        m.name: ServedModel(m, [ServedDeployment(d, providers.build(d, session)) for d in m.deployments])
        for m in config.models
    }
    return Catalog(
        config=config,
        models=models,
        routes={r.name: r for r in config.routes},
        tenants={t.name: t for t in config.tenants},
    )


@dataclass
class Gateway:
    config: ConfigSet
    span_processor: SpanProcessor | None = None
    store: Store | None = None
    metrics: Metrics = field(default_factory=Metrics)
    catalog: Catalog = field(init=False)
    chains: dict[Operation, Chain] = field(init=False)
    keys: KeyCache = field(init=False)
    authenticate: Authenticate = field(init=False)
    ledger: LedgerWriter = field(init=False)
    tracing: Tracing = field(init=False)
    admission: AdmissionStore = field(init=False)
    session: aiohttp.ClientSession = field(init=False)
    breakers: SharedBreakers | None = field(default=None, init=False)
    cache: Cache = field(init=False)
    shelf: Shelf | None = field(default=None, init=False)
    _own: list[Embedder] = field(default_factory=list, init=False)
    _shared_embedder: Embedder | None = field(default=None, init=False)

    async def start(self) -> None:
        gw = self.config.gateway
        if self.store is None:
            self.store = stores.build(gw.database_url)
        await self.store.open()
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=60),
            auto_decompress=True,
        )
        self.catalog = build_catalog(self.config, self.session)
        self.keys = KeyCache(self.store, gw.key_cache_ttl_s)
        ledger = gw.ledger
        self.ledger = LedgerWriter(
            self.store,
            batch_size=ledger.batch_size,
            flush_interval_s=ledger.flush_interval_ms / 1000.0,
            spool_dir=Path(ledger.spool_dir) if ledger.spool_dir else default_spool_dir(gw.database_url),
            write_timeout_s=ledger.write_timeout_s,
            retry_interval_s=ledger.retry_interval_s,
        )
        self.ledger.start()
        self.tracing = Tracing(gw.telemetry, self.span_processor)
        self.admission = admission_stores.build(gw.admission)
        self.authenticate = Authenticate(self.catalog, self.keys)
        fleet = self._fleet()
        self.cache = await self._cache()
        policies = {p.name: Policy(p) for p in self.config.policies}
        infer, settle, detectors = Infer(fleet), Settle(), Detectors()
        retrieve = await self._retrieve_stage()
        guarded = [r.guards for r in self.config.routes]
        grounding = any(g.groundedness is not None for g in guarded)
        self.chains = build_chains(
            authenticate=self.authenticate,
            parse_chat=ParseChat(self.catalog),
            parse_embeddings=ParseEmbeddings(self.catalog),
            bind_chat=BindEnvelope(self.catalog),
            guard_input=GuardInput(detectors) if any(g.pii or g.schema_ for g in guarded) else None,
            cache=self.cache,
            classify=await self._classify_stage(policies),
            decide=Decide(policies),
            retrieve=retrieve,
            route=Route(self.catalog),
            bind_embeddings=BindEmbeddings(),
            admit=Admit(self.catalog, self.admission, gw.admission, fleet),
            infer=infer,
            settle=settle,
            guard_output=GuardOutput(
                infer,
                settle,
                detectors,
                await self._embedder("groundedness") if grounding else None,
                self.shelf,
            )
            if any(checks_answers(g) for g in guarded)
            else None,
            finishers=[self.cache, Release(self.admission), Account(self.ledger, self.metrics, self.tracing)],
            tracing=self.tracing,
        )
        await asyncio.to_thread(self._warm_counters)

    def _fleet(self) -> Fleet:
        """Deployment state; breaker openings shared through Redis when admission uses it."""
        gw = self.config.gateway
        if not (gw.breakers.share and gw.admission.store_url.startswith("redis://")):
            return Fleet()
        self.breakers = SharedBreakers(
            gw.admission.store_url,
            prefix=gw.admission.key_prefix,
            timeout_s=gw.admission.timeout_s,
            poll_interval_s=gw.breakers.poll_interval_s,
            deployments=self._deployments(),
        )
        fleet = Fleet(on_open=self.breakers.opened)
        self.breakers.start(fleet)
        return fleet

    async def _cache(self) -> Cache:
        """The cache stage; with a semantic index (seeded from the shared store) and the
        embedder when some route caches semantically."""
        settings = self.config.gateway.cache
        routes = {r.name: r for r in self.config.routes}
        semantic, embedder = None, None
        if any(r.cache.semantic is not None for r in routes.values()):
            index_doc = settings.semantic
            index = SemanticIndex(
                max_entries=index_doc.max_entries,
                m=index_doc.hnsw_m,
                ef_construction=index_doc.ef_construction,
                ef_search=index_doc.ef_search,
            )
            semantic = SemanticCache(
                index, answer_stores.build_feed(settings), sync_interval_s=index_doc.sync_interval_s
            )
            await semantic.start()
            embedder = await self._embedder("semantic cache")
        return Cache(
            answer_stores.build(settings),
            settings,
            route_versions(self.config),
            routes=routes,
            semantic=semantic,
            embedder=embedder,
        )

    async def _retrieve_stage(self) -> Retrieve | None:
        """The retrieve stage if some route retrieves: its knowledge bases loaded (and
        watched for new versions, which drop the routes' cached answers)."""
        names = [r.retrieval.knowledge_base for r in self.config.routes if r.retrieval is not None]
        if not names:
            return None
        knowledge = self.config.gateway.knowledge
        cache = self.cache

        async def changed(name: str) -> None:
            await cache.invalidate(f"kb:{name}")

        self.shelf = Shelf(
            Library(Path(knowledge.directory)), names, poll_interval_s=knowledge.poll_interval_s, on_change=changed
        )
        await self.shelf.start()
        counter = TiktokenCounter("o200k_base")
        return Retrieve(self.shelf, await self._embedder("retrieval"), counter.text_tokens)

    async def _embedder(self, purpose: str) -> Embedder:
        """The process's one MiniLM: the `minilm` provider's if one is configured, else
        the gateway's own; loaded now, not on a first request."""
        if self._shared_embedder is None:
            settings = self.config.gateway.classifier
            shared = [d.provider.embedder for d in self._deployments() if isinstance(d.provider, MiniLMEmbeddings)]
            self._shared_embedder = shared[0] if shared else Embedder(settings.max_batch, settings.runtime)
            if not shared:
                self._own.append(self._shared_embedder)
        try:
            await self._shared_embedder.load()
        except (OSError, RuntimeError, ValueError, KeyError) as exc:
            log.warning("%s: embedding model unavailable (%s); going on without it until it loads", purpose, exc)
        return self._shared_embedder

    async def _classify_stage(self, policies: dict[str, Policy]) -> Classify | None:
        """The classify stage if any route needs it, sharing the `minilm` provider's
        embedder when one is configured; the model is loaded now, not on a first request."""
        routes = [
            r.name
            for r in self.config.routes
            if r.classify or (r.classify is None and r.policy is not None and policies[r.policy].needs_classifier)
        ]
        if not routes:
            return None

        embedder = await self._embedder("classifier")
        return Classify(Classifier.load(), embedder, self.config.gateway.classifier, routes)

    def _deployments(self) -> list[ServedDeployment]:
        return [d for m in self.catalog.models.values() for d in m.deployments]

    def _warm_counters(self) -> None:
        """Load each model's tokenizer now rather than on its first request."""
        for model in self.catalog.models.values():
            model.counter.text_tokens("warm up")

    async def stop(self) -> None:
        if self.shelf is not None:
            await self.shelf.close()
        await self.cache.close()
        if self.breakers is not None:
            await self.breakers.close()
        for embedder in self._own:
            await embedder.close()
        await self.ledger.close()
        await self.admission.close()
        for provider in self.catalog.providers():
            await provider.close()
        await self.session.close()
        self.tracing.shutdown()
        assert self.store is not None
        await self.store.close()
