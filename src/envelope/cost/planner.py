"""Route sample prompts offline, exactly as the gateway would: the same parsing and
envelope binding (`pipeline/parse.py`, `pipeline/bind.py`), the same policy decision
(`Decide`) over the classifier's verdict, and the same candidate choice and fitting
(`Route`: token counts with each model's own tokenizer, input caps, output plan,
cost-ceiling remedies) — on a catalog with no deployments, so nothing is sent upstream.

Not modelled: experiments' arms, adaptive control's downgrades, capacity reroutes and
fallbacks (each happens under live conditions only); retrieval context and guardrail
re-asks (they add tokens the samples do not carry).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import msgspec

from envelope.catalog import Catalog, ServedModel
from envelope.config.documents import ClassifierDoc, ConfigSet, RouteDoc, TenantDoc
from envelope.core.classification import Classification
from envelope.core.pricing import cost_usd
from envelope.core.rules import Policy
from envelope.cost.estimate import PromptPlan, expected_output
from envelope.cost.samples import SamplePrompt
from envelope.errors import ClientError
from envelope.pipeline.bind import bind_envelope
from envelope.pipeline.classify import classified_text, route_classifies, rules_only
from envelope.pipeline.context import RequestContext
from envelope.pipeline.parse import ParseChat
from envelope.pipeline.route import Decide, Route
from envelope.wire import ChatRequest, convert


@dataclass(frozen=True, slots=True)
class Traffic:
    """Who sends the samples, and what is assumed of the answers."""

    route: RouteDoc
    tenant: TenantDoc | None = None
    feature: str | None = None
    max_tokens: int | None = None  # sent with every sample that sets none
    output_tokens: int | None = None  # expected answer length, for samples that give none
    ledger_output: Mapping[str | None, float] | None = None  # mean output tokens per model (None: route)


def offline_catalog(config: ConfigSet) -> Catalog:
    """The config's models with their tokenizers and no deployments."""
    return Catalog(
        config=config,
        models={m.name: ServedModel(m, []) for m in config.models},
        routes={r.name: r for r in config.routes},
        tenants={t.name: t for t in config.tenants},
    )


def classifies(config: ConfigSet, route: RouteDoc) -> bool:
    """Whether the gateway classifies this route's requests (as `bootstrap` decides)."""
    return route_classifies(route, next((p for p in config.policies if p.name == route.policy), None))


def classified_texts(samples: Sequence[SamplePrompt], settings: ClassifierDoc) -> list[str]:
    """The text the classifier reads of each sample."""
    return [classified_text(_chat(s, None), settings.max_chars) for s in samples]


def classify_all(texts: Sequence[str], settings: ClassifierDoc) -> tuple[list[Classification], bool]:
    """The classifier's verdicts (loads MiniLM and the classifier's weights, ≈ 1 s). When
    they cannot be loaded, the risk rules' verdicts alone, as the gateway falls back to;
    the flag says whether the model ran."""
    from envelope.classifier.model import Classifier
    from envelope.embeddings.embedder import loader

    try:
        encoder, classifier = loader(settings.runtime)(), Classifier.load()
        vectors = encoder.encode(list(texts), batch_size=settings.max_batch).vectors
        return classifier.classify_many(vectors, texts), True
    except (OSError, RuntimeError, ValueError, KeyError, ImportError):
        return [rules_only(text) for text in texts], False


async def plan_all(
    config: ConfigSet,
    traffic: Traffic,
    samples: Sequence[SamplePrompt],
    verdicts: Sequence[Classification | None],
    *,
    degradation: str | None = None,
) -> list[PromptPlan]:
    """Each sample routed and priced; `degradation` is added to every plan (e.g. the
    gateway's `classifier_unavailable`)."""
    catalog = offline_catalog(config)
    parse, route = ParseChat(catalog), Route(catalog)
    decide = Decide({p.name: Policy(p) for p in config.policies}, flags=config.flags)
    plans = []
    for i, (sample, verdict) in enumerate(zip(samples, verdicts, strict=True)):
        ctx = _context(i, traffic, sample, verdict)
        if degradation is not None:
            ctx.degradations.append(degradation)
        try:
            await parse.run(ctx)  # a named model must be one the route serves for chat, as in the gateway
            bind_envelope(ctx, traffic.tenant.mode if traffic.tenant else None)
            await decide.run(ctx)
            await route.run(ctx)
        except ClientError as exc:
            plans.append(_refused(sample, ctx, exc))
            continue
        plans.append(_priced(sample, ctx, traffic))
    return plans


def _chat(sample: SamplePrompt, max_tokens: int | None) -> ChatRequest:
    raw = _raw(sample, max_tokens)
    chat: ChatRequest = convert(raw, ChatRequest)
    return chat


def _raw(sample: SamplePrompt, max_tokens: int | None) -> dict[str, object]:
    raw: dict[str, object] = {"model": sample.model or "auto", "messages": sample.messages}
    wanted = sample.max_tokens if sample.max_tokens is not None else max_tokens
    if wanted is not None:
        raw["max_tokens"] = wanted
    return raw


def _context(i: int, traffic: Traffic, sample: SamplePrompt, verdict: Classification | None) -> RequestContext:
    body = msgspec.json.encode(_raw(sample, traffic.max_tokens))
    ctx = RequestContext(f"estimate-{i}", "chat", sample.headers, body)
    ctx.tenant = traffic.tenant.name if traffic.tenant else "-"
    ctx.route_name = traffic.route.name
    ctx.feature = traffic.feature
    ctx.route = traffic.route
    ctx.classification = verdict
    return ctx


def _priced(sample: SamplePrompt, ctx: RequestContext, traffic: Traffic) -> PromptPlan:
    fit, routing, verdict = ctx.fit, ctx.routing, ctx.classification
    assert fit is not None and routing is not None
    doc = fit.model.doc
    means = traffic.ledger_output or {}
    mean = means.get(doc.name, means.get(None))
    given = sample.output_tokens if sample.output_tokens is not None else traffic.output_tokens
    output, source = expected_output(fit.max_tokens, given=given, ledger_mean=mean)
    return PromptPlan(
        preview=sample.preview(),
        weight=sample.weight,
        input_tokens=fit.input_tokens,
        tokens_exact=fit.tokens_exact,
        policy_tier=routing.tier,
        tier=doc.tier,
        model=doc.name,
        max_tokens=fit.max_tokens,
        output_tokens=output,
        output_source=source,
        cost_usd=cost_usd(doc.prices, input_tokens=fit.input_tokens, output_tokens=output),
        worst_case_usd=fit.worst_case_usd,
        rules=routing.rules,
        degradations=tuple(ctx.degradations),
        intent=verdict.intent if verdict else None,
        complexity=verdict.complexity if verdict else None,
        risk=verdict.risk if verdict else None,
    )


def _refused(sample: SamplePrompt, ctx: RequestContext, exc: ClientError) -> PromptPlan:
    verdict = ctx.classification
    return PromptPlan(
        preview=sample.preview(),
        weight=sample.weight,
        input_tokens=0,
        tokens_exact=False,
        policy_tier=ctx.routing.tier if ctx.routing else None,
        tier=None,
        model=None,
        max_tokens=0,
        output_tokens=0,
        output_source="max_tokens",
        cost_usd=0.0,
        worst_case_usd=0.0,
        rules=ctx.routing.rules if ctx.routing else (),
        degradations=tuple(ctx.degradations),
        intent=verdict.intent if verdict else None,
        complexity=verdict.complexity if verdict else None,
        risk=verdict.risk if verdict else None,
        refused=exc.code or type(exc).__name__,
    )
