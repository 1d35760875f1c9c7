"""The composition root: config → store → adapters → stages → chains.

Nothing else in Envelope builds objects that hold I/O. `Gateway.start()` runs inside
the server's event loop (it opens the pooled HTTP session and the store);
`Gateway.stop()` flushes the ledger and closes everything it opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from opentelemetry.sdk.trace import SpanProcessor

from envelope.admission import registry as admission_stores
from envelope.admission.breakers import SharedBreakers
from envelope.admission.ports import AdmissionStore
from envelope.batch.batches import Batches
from envelope.batch.worker import BatchWorker
from envelope.cache import registry as answer_stores
from envelope.cache.ports import AnswerStore
from envelope.cache.semantic import SemanticCache
from envelope.cache.semantic_index import SemanticIndex
from envelope.catalog import Catalog, ServedDeployment, ServedModel
from envelope.classifier.model import Classifier
from envelope.config.control import ExperimentDoc
from envelope.config.documents import ConfigSet, Deployment
from envelope.control.controller import Controller
from envelope.control.experiments import Experiments
from envelope.control.shadow import Shadows
from envelope.core.cache_key import config_version
from envelope.core.rules import Policy
from envelope.embeddings.embedder import Embedder
from envelope.ledger.samples import Sampler
from envelope.ledger.spool import default_spool_dir
from envelope.ledger.writer import LedgerWriter
from envelope.pipeline.account import Account, Observer
from envelope.pipeline.admit import Admit, Release
from envelope.pipeline.authenticate import Authenticate, KeyCache
from envelope.pipeline.bind import BindEmbeddings, BindEnvelope
from envelope.pipeline.cache import Cache
from envelope.pipeline.chain import Chain, build_chains
from envelope.pipeline.classify import Classify, route_classifies
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
from envelope.providers.base import Provider
from envelope.providers.minilm import MiniLMEmbeddings
from envelope.registry.follower import Follower
from envelope.registry.registry import Registry, RegistryError
from envelope.retrieval.library import Library
from envelope.retrieval.shelf import Shelf
from envelope.slo.alerts import Alert, Alerting
from envelope.slo.engine import SloEngine
from envelope.slo.loop import SloLoop
from envelope.slo.observer import SloObserver, objectives_of
from envelope.slo.sinks import Dispatcher
from envelope.store import registry as stores
from envelope.store.ports import Store
from envelope.telemetry.metrics import Metrics
from envelope.telemetry.tracing import Tracing
from envelope.tokens.tiktoken_counter import TiktokenCounter

log = logging.getLogger("envelope")

RETIRE_GRACE_S = 120.0  # the longest an older serving's requests are waited for


def _grace_s(config: ConfigSet) -> float:
    """How long requests begun on `config` may still run: its longest route deadline,
    at most RETIRE_GRACE_S."""
    return min(RETIRE_GRACE_S, max((r.latency.timeout_ms / 1000.0 for r in config.routes), default=0.0) + 1.0)


def _context_counter() -> Callable[[str], int]:
    return TiktokenCounter("o200k_base").text_tokens


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


def build_catalog(config: ConfigSet, session: aiohttp.ClientSession, *, reuse: Catalog | None = None) -> Catalog:
    """The served models of `config`; a deployment whose document is unchanged from one in
    `reuse` keeps that one's provider."""
    kept = {_same(d.doc): d.provider for m in reuse.models.values() for d in m.deployments} if reuse else {}
    models = {
        m.name: ServedModel(
            m, [ServedDeployment(d, kept.get(_same(d)) or providers.build(d, session)) for d in m.deployments]
        )
        for m in config.models
    }
    return Catalog(
        config=config,
        models=models,
        routes={r.name: r for r in config.routes},
        tenants={t.name: t for t in config.tenants},
    )


def _deployments(catalog: Catalog) -> list[ServedDeployment]:
    return [d for m in catalog.models.values() for d in m.deployments]


def _only_in(catalog: Catalog, other: Serving | None) -> list[Provider]:
    """The providers of `catalog` that `other` does not use."""
    kept = {id(p) for p in other.catalog.providers()} if other is not None else set()
    return [p for p in catalog.providers() if id(p) not in kept]


def _shelf_only_in(serving: Serving, other: Serving) -> Shelf | None:
    return serving.shelf if serving.shelf is not None and serving.shelf is not other.shelf else None


def _same(deployment: Deployment) -> str:
    return deployment.model_dump_json()


@dataclass(frozen=True, slots=True)
class Serving:
    """One activated config: its catalog and chains. A request runs on the serving it
    began with, so an activation never changes a request halfway."""

    config: ConfigSet
    version: int | None
    catalog: Catalog
    chains: dict[Operation, Chain]
    authenticate: Authenticate
    cache: Cache
    shelf: Shelf | None


@dataclass
class Gateway:
    """The long-lived parts (store, pooled session, ledger, admission, fleet, answer
    store, embedder, metrics) and the serving config built over them. `activate()` builds
    a new serving from another config and swaps it in; deployments whose documents did
    not change keep their provider (and its connections, or its local model server)."""

    config: ConfigSet
    span_processor: SpanProcessor | None = None
    store: Store | None = None
    metrics: Metrics = field(default_factory=Metrics)
    serving: Serving = field(init=False)
    keys: KeyCache = field(init=False)
    ledger: LedgerWriter = field(init=False)
    tracing: Tracing = field(init=False)
    admission: AdmissionStore = field(init=False)
    session: aiohttp.ClientSession = field(init=False)
    fleet: Fleet | None = field(default=None, init=False)
    control: Controller = field(init=False)
    experiments: Experiments = field(init=False)
    shadows: Shadows = field(init=False)
    follower: Follower | None = field(default=None, init=False)
    sampler: Sampler = field(init=False)
    slo: SloLoop | None = field(default=None, init=False)
    _slo_observer: SloObserver | None = field(default=None, init=False)
    breakers: SharedBreakers | None = field(default=None, init=False)
    batches: Batches | None = field(default=None, init=False)
    _batch_worker: BatchWorker | None = field(default=None, init=False)
    _answers: AnswerStore = field(init=False)
    _semantic: SemanticCache | None = field(default=None, init=False)
    _own: list[Embedder] = field(default_factory=list, init=False)
    _shared_embedder: Embedder | None = field(default=None, init=False)
    _retiring: set[asyncio.Task[None]] = field(default_factory=set, init=False)

    @property
    def catalog(self) -> Catalog:
        return self.serving.catalog

    @property
    def chains(self) -> dict[Operation, Chain]:
        return self.serving.chains

    @property
    def authenticate(self) -> Authenticate:
        return self.serving.authenticate

    @property
    def cache(self) -> Cache:
        return self.serving.cache

    @property
    def shelf(self) -> Shelf | None:
        return self.serving.shelf

    async def start(self) -> None:
        gw = self.config.gateway
        if self.store is None:
            self.store = stores.build(gw.database_url)
        await self.store.open()
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=60),
            auto_decompress=True,
        )
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
        self._answers = answer_stores.build(gw.cache)
        store = self.store
        self.control = Controller(gw.control, self.metrics, self.admission, log_transition=store.add_transition)
        self.experiments = Experiments(
            self.metrics,
            interval_s=gw.control.interval_s,
            log_transition=store.add_transition,
            on_rollback=self._canary_failed,
        )
        self.shadows = Shadows(self.metrics, store.add_shadow)
        self.sampler = Sampler(store, ledger.sample_payloads)
        await self.sampler.start()
        self.slo = self._slo_loop()
        version = await self._registered()
        self.serving = await self._serve(self.config, version, previous=None)
        if self._slo_observer is not None:
            self._slo_observer.configure(self.config)
        self._follow(self.serving)
        self.control.start()
        self.experiments.start()
        if self.slo is not None:
            self.slo.start()
        if self.follower is not None:
            self.follower.start()
        self._start_batches(store)
        await asyncio.to_thread(self._warm_counters, self.serving.catalog)

    def _start_batches(self, store: Store) -> None:
        settings = self.config.gateway.batch
        if settings.enabled:
            done = self.metrics.batch_items
            self._batch_worker = BatchWorker(
                store, lambda: self.serving, settings, observe=lambda status: done.labels(status).inc()
            )
            self._batch_worker.start()
        worker = self._batch_worker
        self.batches = Batches(store, settings, on_work=worker.nudge if worker is not None else None)

    async def _registered(self) -> int | None:
        """The config version to start with; `self.config` becomes it. With the registry on,
        the file's documents are applied (`on_start: file`) or the active version is
        served (`on_start: registry`), and a follower keeps this gateway on the active one."""
        gw = self.config.gateway
        if not gw.registry.enabled:
            return None
        assert self.store is not None
        registry = Registry(self.store, gateway=gw)
        actor = f"envelope-serve@{socket.gethostname()}"
        if gw.registry.on_start == "file":
            await registry.apply(self.config, actor, "applied at start from the config file")
        version = await registry.start(self.config, actor)
        if gw.registry.on_start == "registry":
            self.config = await registry.config(version)
        self.follower = Follower(registry, self.activate, interval_s=gw.registry.poll_interval_s, current=version)
        return version

    async def activate(self, config: ConfigSet, version: int | None) -> None:
        """Serve `config` from now on. Raises (and keeps serving the old config) if it
        cannot be built. What the new config no longer uses is closed once requests
        still running on the old one have had time to end."""
        if config.gateway != self.config.gateway:
            log.warning("config version %s changes the gateway section: that takes effect at the next start", version)
            config = config.model_copy(update={"gateway": self.config.gateway})
        old = self.serving
        new = await self._serve(config, version, previous=old)
        try:
            await asyncio.to_thread(self._warm_counters, new.catalog)
            if self._slo_observer is not None:
                self._slo_observer.configure(config)  # refuses objectives the engine cannot keep
        except BaseException:
            await self._discard(new, old)
            raise
        self.serving, self.config = new, config
        self._follow(new)
        if self.breakers is not None:
            self.breakers.retarget(_deployments(new.catalog))
        retiring = self._retire(_only_in(old.catalog, new), _shelf_only_in(old, new), grace_s=_grace_s(old.config))
        task = asyncio.create_task(retiring, name="envelope-retire")
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)
        log.info("config version %s is active", version)

    def _follow(self, serving: Serving) -> None:
        """The parts that outlive activations take up the config now served."""
        self.control.configure(serving.config)
        self.experiments.configure(serving.config)
        self.shadows.configure(serving.catalog)

    async def _discard(self, new: Serving, old: Serving) -> None:
        """Close what a build that will not be served made for itself."""
        await self._retire(_only_in(new.catalog, old), _shelf_only_in(new, old), grace_s=0.0)

    async def _serve(self, config: ConfigSet, version: int | None, *, previous: Serving | None) -> Serving:
        """Build the catalog and chains of `config` over the long-lived parts."""
        catalog = build_catalog(config, self.session, reuse=previous.catalog if previous else None)
        try:
            return await self._chains(config, version, catalog, previous)
        except BaseException:  # nothing built here may outlive a failed build
            await self._retire(_only_in(catalog, previous), None, grace_s=0.0)
            raise

    async def _chains(
        self, config: ConfigSet, version: int | None, catalog: Catalog, previous: Serving | None
    ) -> Serving:
        gw = self.config.gateway
        authenticate = Authenticate(catalog, self.keys)
        fleet = self._fleet_for(catalog)
        cache = await self._cache(config, catalog)
        policies = {p.name: Policy(p) for p in config.policies}
        infer, settle, detectors = Infer(fleet), Settle(), Detectors()
        shelf = await self._shelf(config, previous.shelf if previous else None)
        retrieve = Retrieve(shelf, await self._embedder("retrieval", catalog), _context_counter()) if shelf else None
        guarded = [r.guards for r in config.routes]
        grounding = any(g.groundedness is not None for g in guarded)
        chains = build_chains(
            authenticate=authenticate,
            parse_chat=ParseChat(catalog),
            parse_embeddings=ParseEmbeddings(catalog),
            bind_chat=BindEnvelope(catalog),
            guard_input=GuardInput(detectors) if any(g.pii or g.schema_ for g in guarded) else None,
            cache=cache,
            classify=await self._classify_stage(config, catalog),
            decide=Decide(policies, self.control, self.experiments, config.flags),
            retrieve=retrieve,
            route=Route(catalog),
            bind_embeddings=BindEmbeddings(),
            admit=Admit(catalog, self.admission, gw.admission, fleet),
            infer=infer,
            settle=settle,
            guard_output=GuardOutput(
                infer,
                settle,
                detectors,
                await self._embedder("groundedness", catalog) if grounding else None,
                shelf,
            )
            if any(checks_answers(g) for g in guarded)
            else None,
            finishers=[
                cache,
                Release(self.admission),
                self.shadows,
                Account(self.ledger, self.metrics, self.tracing, observers=self._observers()),
            ],
            tracing=self.tracing,
        )
        return Serving(config, version, catalog, chains, authenticate, cache, shelf)

    async def _canary_failed(self, route: str, experiment: ExperimentDoc, why: str) -> None:
        """A canary was rolled back here. If the version being served introduced it, roll
        the registry back too: the fleet follows, and the version is marked bad."""
        current = self.serving.version
        if self.follower is None or current is None or not experiment.rollback.registry:
            return
        registry = self.follower.registry
        try:
            if await registry.active_version() != current:
                return  # the registry moved on already (another replica, an operator)
            target = await registry.last_known_good(current)
            if target is None:
                return
            before = next((r for r in (await registry.config(target)).routes if r.name == route), None)
            if before is not None and before.experiment == experiment:
                return  # the canary ran before this version too: rolling back would not end it
            reason = f"canary {experiment.name} on route {route}: {why}"
            await registry.rollback(target, f"envelope-canary@{socket.gethostname()}", reason, action="auto_rollback")
        except RegistryError as exc:  # someone else rolled back first, or nothing to go back to
            log.info("canary %s: registry not rolled back (%s)", experiment.name, exc)
            return
        log.warning(
            "canary %s on route %r: registry rolled back from version %d to %d", experiment.name, route, current, target
        )

    def _slo_loop(self) -> SloLoop | None:
        """The SLO engine fed by every request, evaluated every interval: alerts to the
        configured sinks, firing alerts in `envelope_alerts_firing`."""
        settings = self.config.gateway.slo
        if not settings.enabled:
            return None
        engine = SloEngine(settings, objectives_of(self.config))
        self._slo_observer = SloObserver(engine, self.metrics)
        loop = SloLoop(
            engine,
            Alerting(settings),
            Dispatcher.of(settings.sinks, self.session),
            interval_s=settings.evaluation_interval_s,
        )
        loop.on_alerts.append(self._count_firing)
        return loop

    def _count_firing(self, firing: list[Alert]) -> None:
        gauge = self.metrics.alerts_firing
        gauge.clear()
        for alert in firing:
            gauge.labels(alert.name, alert.severity).inc()

    def _observers(self) -> list[Observer]:
        """Told of every finished request, after the ledger and metrics."""
        told: list[Observer] = [self.control, self.experiments, self.sampler]
        return told if self._slo_observer is None else [self._slo_observer, *told]

    def _fleet_for(self, catalog: Catalog) -> Fleet:
        """Deployment state, built once; breaker openings shared through Redis when admission uses it."""
        if self.fleet is not None:
            return self.fleet
        gw = self.config.gateway
        if not (gw.breakers.share and gw.admission.store_url.startswith("redis://")):
            self.fleet = Fleet()
            return self.fleet
        self.breakers = SharedBreakers(
            gw.admission.store_url,
            prefix=gw.admission.key_prefix,
            timeout_s=gw.admission.timeout_s,
            poll_interval_s=gw.breakers.poll_interval_s,
            deployments=_deployments(catalog),
        )
        self.fleet = Fleet(on_open=self.breakers.opened)
        self.breakers.start(self.fleet)
        return self.fleet

    async def _cache(self, config: ConfigSet, catalog: Catalog) -> Cache:
        """The cache stage of `config`, over the one answer store; with the semantic index
        (seeded from the shared store) and the embedder once some route caches semantically."""
        routes = {r.name: r for r in config.routes}
        embedder = None
        if any(r.cache.semantic is not None for r in routes.values()):
            if self._semantic is None:
                index_doc = self.config.gateway.cache.semantic
                index = SemanticIndex(
                    max_entries=index_doc.max_entries,
                    m=index_doc.hnsw_m,
                    ef_construction=index_doc.ef_construction,
                    ef_search=index_doc.ef_search,
                )
                self._semantic = SemanticCache(
                    index,
                    answer_stores.build_feed(self.config.gateway.cache),
                    sync_interval_s=index_doc.sync_interval_s,
                )
                await self._semantic.start()
            embedder = await self._embedder("semantic cache", catalog)
        return Cache(
            self._answers,
            self.config.gateway.cache,
            route_versions(config),
            routes=routes,
            semantic=self._semantic,
            embedder=embedder,
            relief=self.control.cache_relief,
        )

    async def _shelf(self, config: ConfigSet, previous: Shelf | None) -> Shelf | None:
        """The knowledge bases `config`'s routes retrieve from, loaded (and watched for new
        versions, which drop the routes' cached answers); the previous shelf if the same."""
        names = sorted({r.retrieval.knowledge_base for r in config.routes if r.retrieval is not None})
        if not names:
            return None
        if previous is not None and previous.names == names:
            return previous
        knowledge = self.config.gateway.knowledge

        async def changed(name: str) -> None:
            await self.serving.cache.invalidate(f"kb:{name}")

        shelf = Shelf(
            Library(Path(knowledge.directory)), names, poll_interval_s=knowledge.poll_interval_s, on_change=changed
        )
        await shelf.start()
        return shelf

    async def _embedder(self, purpose: str, catalog: Catalog) -> Embedder:
        """The process's one MiniLM: the `minilm` provider's if one is configured, else
        the gateway's own; loaded now, not on a first request."""
        if self._shared_embedder is None:
            settings = self.config.gateway.classifier
            shared = [d.provider.embedder for d in _deployments(catalog) if isinstance(d.provider, MiniLMEmbeddings)]
            self._shared_embedder = shared[0] if shared else Embedder(settings.max_batch, settings.runtime)
            if not shared:
                self._own.append(self._shared_embedder)
        try:
            await self._shared_embedder.load()
        except (OSError, RuntimeError, ValueError, KeyError) as exc:
            log.warning("%s: embedding model unavailable (%s); going on without it until it loads", purpose, exc)
        return self._shared_embedder

    async def _classify_stage(self, config: ConfigSet, catalog: Catalog) -> Classify | None:
        """The classify stage if any route needs it, sharing the `minilm` provider's
        embedder when one is configured; the model is loaded now, not on a first request."""
        documents = {p.name: p for p in config.policies}
        routes = [r.name for r in config.routes if route_classifies(r, documents.get(r.policy or ""))]
        if not routes:
            return None

        embedder = await self._embedder("classifier", catalog)
        return Classify(Classifier.load(), embedder, self.config.gateway.classifier, routes)

    @staticmethod
    def _warm_counters(catalog: Catalog) -> None:
        """Load each model's tokenizer now rather than on its first request."""
        for model in catalog.models.values():
            model.counter.text_tokens("warm up")

    @staticmethod
    async def _retire(providers: list[Provider], shelf: Shelf | None, *, grace_s: float) -> None:
        """Close what an older serving alone used, once its requests have had time to end
        (at once when the gateway stops first)."""
        try:
            await asyncio.sleep(grace_s)
        finally:
            if shelf is not None:
                await shelf.close()
            for provider in providers:
                await provider.close()

    async def stop(self) -> None:
        if self._batch_worker is not None:  # first: its items still run through the chains
            await self._batch_worker.stop()
        if self.follower is not None:
            await self.follower.close()
        for task in list(self._retiring):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.control.close()
        await self.experiments.close()
        await self.shadows.close()
        await self.sampler.close()
        if self.slo is not None:
            await self.slo.close()
        if self.shelf is not None:
            await self.shelf.close()
        if self._semantic is not None:
            await self._semantic.close()
        await self._answers.close()
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
