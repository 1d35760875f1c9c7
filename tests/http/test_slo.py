"""The SLO engine inside a real gateway: requests feed it, a latency burn fires an alert to
a webhook (a real HTTP receiver), /admin/slo and /metrics show it, and it resolves once
the route is fast again. The upstream is scripted (tests/support/scripted.py, real HTTP)
so the test can slow it down; windows are seconds instead of hours."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openai
import pytest

from tests.support.processes import Gateway, free_port, start_gateway
from tests.support.scripted import ScriptedUpstream, scripted_upstream


class Receiver:
    """A webhook receiver on a thread: every JSON body POSTed to it, in order."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["content-length"])
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def states(self, alertname: str) -> list[str]:
        return [a["status"] for b in self.bodies for a in b["alerts"] if a["labels"]["alertname"] == alertname]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    yield hook
    hook.server.shutdown()


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    with scripted_upstream() as scripted:
        yield scripted


@pytest.fixture(scope="module")
def gateway(
    upstream: ScriptedUpstream, receiver: Receiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    provider = {"type": "openai", "base_url": upstream.url, "model": "m"}
    document = {
        "gateway": {
            "slo": {
                "bucket_s": 0.5,
                "evaluation_interval_s": 0.2,
                "rolling_window_s": 3,
                "quantile_horizon_s": 10,
                "burn": {
                    "windows": [{"long_s": 3, "short_s": 1, "factor": 2, "severity": "page"}],
                    "min_events": 5,
                    "for_s": 0,
                },
                "sinks": [{"type": "log"}, {"type": "webhook", "url": receiver.url, "timeout_s": 2}],
            }
        },
        "models": [{"name": "m", "deployments": [{"name": "m-0", "provider": provider}]}],
        "routes": [{"name": "default", "latency": {"p95_ms": 80}, "slo": {"latency": 0.9}}],
        "tenants": [{"name": "acme"}],
    }
    gw = start_gateway(tmp_path_factory.mktemp("slo"), document)
    yield gw
    gw.stop()


def admin_get(gateway: Gateway, path: str) -> dict[str, Any]:
    request = urllib.request.Request(f"{gateway.root}{path}", headers={"authorization": f"Bearer {gateway.admin_key}"})
    with urllib.request.urlopen(request) as answer:
        found: dict[str, Any] = json.loads(answer.read())
        return found


def test_a_latency_burn_fires_and_resolves(gateway: Gateway, upstream: ScriptedUpstream, receiver: Receiver) -> None:
    client = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0)

    def ask() -> None:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])

    for _ in range(10):
        ask()
    assert gateway.metric("envelope_slo_events_total", 'objective="latency",outcome="good",route="default"') >= 10
    assert gateway.metric("envelope_slo_objective", 'objective="latency",route="default"') == 0.9

    upstream.delays["m"] = 0.15  # every answer now takes longer than the 80 ms target
    deadline = time.monotonic() + 20
    while "firing" not in receiver.states("EnvelopeLatencyBudgetBurn"):
        assert time.monotonic() < deadline, f"no alert; webhook got {receiver.bodies}"
        ask()
    firing = next(a for b in receiver.bodies for a in b["alerts"] if a["status"] == "firing")
    assert firing["labels"] | {"route": "default", "severity": "page"} == firing["labels"]
    assert firing["annotations"]["runbook_url"].endswith("#EnvelopeLatencyBudgetBurn")
    assert gateway.metric("envelope_alerts_firing", 'alertname="EnvelopeLatencyBudgetBurn",severity="page"') == 1

    report = admin_get(gateway, "/admin/slo")
    assert [a["name"] for a in report["alerts"]] == ["EnvelopeLatencyBudgetBurn"]
    route = next(r for r in report["routes"] if r["route"] == "default")
    assert route["rolling"]["p95_s"] > 0.08
    latency = next(o for o in route["objectives"] if o["objective"] == "latency")
    assert latency["good_fraction"] < 0.9

    upstream.delays.pop("m")
    deadline = time.monotonic() + 20
    while "resolved" not in receiver.states("EnvelopeLatencyBudgetBurn"):
        assert time.monotonic() < deadline, f"not resolved; webhook got {receiver.bodies}"
        ask()
        time.sleep(0.02)
    assert gateway.metric("envelope_alerts_firing", 'alertname="EnvelopeLatencyBudgetBurn",severity="page"') == 0
    assert admin_get(gateway, "/admin/slo")["alerts"] == []
