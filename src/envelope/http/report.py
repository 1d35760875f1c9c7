"""What a response says about its envelope: `x-envelope-*` headers and, when asked
with `x-envelope-report: true`, the same facts as an `envelope` field in the body."""

from __future__ import annotations

from typing import Any

from envelope.pipeline.context import RequestContext


def facts(ctx: RequestContext, *, final: bool) -> dict[str, Any]:
    """Decisions and outcome so far; `final` adds what is only known at the end."""
    out: dict[str, Any] = {"request_id": ctx.request_id, "route": ctx.route_name}
    if ctx.config_version is not None:
        out["config_version"] = ctx.config_version
    if ctx.experiment is not None:
        out["experiment"] = ctx.experiment
    if ctx.model is not None:
        out["model"] = ctx.model.doc.name
        out["tier"] = ctx.model.doc.tier
    if ctx.deployment is not None:
        out["deployment"] = ctx.deployment.doc.name
    if ctx.envelope is not None:
        env = ctx.envelope
        out["mode"] = env.mode
        out["latency_budget_ms"] = env.deadline_ms
        if env.cost_ceiling_usd is not None:
            out["cost_budget_usd"] = env.cost_ceiling_usd
        out["input_tokens"] = ctx.input_tokens
        out["tokens_exact"] = ctx.tokens_exact
        out["worst_case_usd"] = round(ctx.worst_case_usd, 8)
    if ctx.max_tokens is not None:
        out["max_tokens"] = ctx.max_tokens
    routing = ctx.routing
    if routing is not None and routing.rules:
        out["rules"] = list(routing.rules)
        if routing.retrieval != "allow":
            out["retrieval"] = routing.retrieval
        if routing.cache != "normal":
            out["cache_mode"] = routing.cache
    verdict = ctx.classification
    if verdict is not None:
        out["intent"] = verdict.intent
        out["complexity"] = verdict.complexity
        out["risk"] = round(verdict.risk, 3)
        out["risk_flags"] = sorted(verdict.flags)
    out["cache"] = ctx.cache
    retrieved = ctx.retrieved
    if retrieved is not None:
        out["knowledge_base"] = retrieved.knowledge_base
        out["retrieval"] = retrieved.status
        if retrieved.status == "used":
            out["context_tokens"] = retrieved.tokens
            out["passages"] = retrieved.passages
    guarded = ctx.guarded
    if guarded is not None and (guarded.events or guarded.entities):
        out["guard"] = list(guarded.events)
        if guarded.entities:
            out["pii"] = sorted(guarded.entities)
    if final and guarded is not None and guarded.groundedness is not None:
        out["groundedness"] = round(guarded.groundedness, 3)
    out["degradations"] = list(ctx.degradations)
    if final:
        out["output_tokens"] = ctx.output_tokens
        out["tokens_exact"] = ctx.tokens_exact and ctx.output_exact
        out["cost_usd"] = round(ctx.cost_usd, 8)
        out["latency_ms"] = round(ctx.latency_ms, 3)
    return out


def headers(ctx: RequestContext, *, final: bool) -> dict[str, str]:
    out = {}
    for name, value in facts(ctx, final=final).items():
        if isinstance(value, list):
            value = ",".join(value) or "none"
        elif isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, float):
            value = f"{value:.8f}".rstrip("0").rstrip(".") if value else "0"
        out[f"x-envelope-{name.replace('_', '-')}"] = str(value)
    return out


def wants_report(ctx: RequestContext) -> bool:
    return ctx.headers.get("x-envelope-report", "").lower() in ("1", "true", "yes")
