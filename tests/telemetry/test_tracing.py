"""Traces leave the gateway over real OTLP/HTTP: one root span per request with the
GenAI attributes, one child span per stage, and no prompt text anywhere."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import openai
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.http.test_gateway import config
from tests.support.processes import FakeUpstream, free_port, start_gateway


class Collector:
    """A minimal OTLP/HTTP trace receiver."""

    def __init__(self) -> None:
        self.spans: list[Any] = []
        self.port = free_port()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        collector.spans.extend(scope.spans)
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def collector() -> Iterator[Collector]:
    c = Collector()
    yield c
    c.server.shutdown()


def attrs(span: Any) -> dict[str, Any]:
    out = {}
    for kv in span.attributes:
        v = kv.value
        out[kv.key] = v.string_value or v.int_value or v.double_value or v.bool_value
    return out


def test_spans_reach_an_otlp_collector(fake_upstream: FakeUpstream, collector: Collector, tmp_path: Path) -> None:
    doc = config(fake_upstream)
    doc["gateway"] = {
        "telemetry": {"otlp_endpoint": f"http://127.0.0.1:{collector.port}/v1/traces", "sample_ratio": 1.0}
    }
    gw = start_gateway(tmp_path, doc)
    try:
        c = openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0)
        secret = "my secret prompt text"
        c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": secret}], max_tokens=3)
        list(
            c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": secret}], stream=True)
        )
        with pytest.raises(openai.NotFoundError):
            c.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    finally:
        gw.stop()  # shutdown flushes the batch span processor
    roots = [s for s in collector.spans if not s.parent_span_id]
    assert sorted(s.name for s in roots) == ["chat gpt-4o-mini", "chat gpt-4o-mini", "chat nope"]
    ok = next(s for s in roots if attrs(s).get("gen_ai.request.max_tokens") == 3)
    a = attrs(ok)
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.response.model"] == "fake"
    assert a["gen_ai.usage.output_tokens"] == 3 and a["gen_ai.usage.input_tokens"] > 0
    assert a["envelope.tenant"] == "acme" and a["envelope.route"] == "default"
    children = sorted(s.name for s in collector.spans if s.parent_span_id == ok.span_id)
    assert children == sorted(
        f"envelope.{n}"
        for n in ("authenticate", "parse", "bind", "cache", "decide", "route", "admit", "infer", "settle")
    )
    failed = next(s for s in roots if s.name == "chat nope")
    assert attrs(failed)["error.type"] == "model_not_found"
    assert failed.status.code == 2  # STATUS_CODE_ERROR
    dump = b"".join(s.SerializeToString() for s in collector.spans)
    assert b"secret prompt" not in dump
