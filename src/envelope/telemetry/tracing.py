"""OpenTelemetry traces: one root span per sampled request, one child span per stage.

Sampling is decided once per request, before any span exists, so an unsampled
request costs one random draw. Attributes follow the GenAI semantic conventions
(`gen_ai.*`); Envelope's own facts go under `envelope.*`. Spans carry no message
content, so no prompt text (nor PII in it) reaches a trace.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, Status, StatusCode, set_span_in_context

from envelope.config.documents import TelemetryDoc
from envelope.pipeline.context import RequestContext


class Tracing:
    def __init__(self, doc: TelemetryDoc, extra_processor: SpanProcessor | None = None) -> None:
        self.ratio = doc.sample_ratio
        self._provider = TracerProvider(resource=Resource.create({"service.name": doc.service_name}))
        processors = 0
        if doc.otlp_endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            self._provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=doc.otlp_endpoint)))
            processors += 1
        if extra_processor is not None:
            self._provider.add_span_processor(extra_processor)
            processors += 1
        self.enabled = processors > 0 and self.ratio > 0
        self._tracer = self._provider.get_tracer("envelope")
        self._random = random.Random()

    def begin(self, ctx: RequestContext) -> None:
        if not self.enabled or self._random.random() >= self.ratio:
            return
        ctx.sampled = True
        ctx.spans = self._tracer.start_span(ctx.operation, start_time=int(ctx.started_wall * 1e9))

    @contextmanager
    def stage(self, ctx: RequestContext, name: str) -> Iterator[Span]:
        span = self._tracer.start_span(f"envelope.{name}", context=set_span_in_context(ctx.spans))
        try:
            yield span
        except Exception as exc:
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
        finally:
            span.end()

    def end(self, ctx: RequestContext) -> None:
        span: Span | None = ctx.spans
        if span is None:
            return
        span.update_name(f"{ctx.operation} {ctx.model_name}")
        span.set_attributes(_attributes(ctx))
        if ctx.error is not None:
            span.set_status(Status(StatusCode.ERROR, ctx.error.message[:200]))
        span.end()

    def shutdown(self) -> None:
        self._provider.shutdown()


def _attributes(ctx: RequestContext) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": ctx.operation,
        "gen_ai.request.model": ctx.model_name,
        "gen_ai.usage.input_tokens": ctx.input_tokens,
        "gen_ai.usage.output_tokens": ctx.output_tokens,
        "envelope.request_id": ctx.request_id,
        "envelope.tenant": ctx.tenant,
        "envelope.route": ctx.route_name,
        "envelope.cost_usd": ctx.cost_usd,
        "envelope.degradations": ",".join(ctx.degradations),
        "envelope.stream": ctx.stream,
        "http.response.status_code": ctx.status,
    }
    if ctx.feature:
        attrs["envelope.feature"] = ctx.feature
    if ctx.max_tokens is not None:
        attrs["gen_ai.request.max_tokens"] = ctx.max_tokens
    if ctx.chat is not None:
        if ctx.chat.temperature is not None:
            attrs["gen_ai.request.temperature"] = ctx.chat.temperature
        if ctx.chat.top_p is not None:
            attrs["gen_ai.request.top_p"] = ctx.chat.top_p
    if ctx.deployment is not None:
        provider = ctx.deployment.doc.provider
        attrs["gen_ai.provider.name"] = provider.type
        attrs["gen_ai.response.model"] = getattr(provider, "model", ctx.model_name)
        attrs["envelope.deployment"] = ctx.deployment.doc.name
    if ctx.model is not None:
        attrs["envelope.tier"] = ctx.model.doc.tier
    if ctx.ttft_ms is not None:
        attrs["envelope.ttft_ms"] = ctx.ttft_ms
    if ctx.error is not None:
        attrs["error.type"] = ctx.error.code or ctx.error.type
    return attrs
