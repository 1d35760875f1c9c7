"""The dashboards' JSON and page over HTTP, against a real gateway with real traffic
(tests/dashboard/conftest.py): admin key required, bad input refused in OpenAI's error
shape, and the views' figures agree with the ledger the gateway wrote."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from envelope.config.documents import BudgetDoc
from envelope.cost.forecast import forecast
from tests.dashboard import history
from tests.dashboard.conftest import Busy


def get(busy: Busy, path: str, key: str | None = None) -> tuple[int, dict[str, str], bytes]:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    request = urllib.request.Request(f"{busy.gateway.root}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def view(busy: Busy, name: str, window: str = "1h") -> dict[str, Any]:
    status, _, body = get(busy, f"/admin/dashboard/{name}?window={window}", busy.gateway.admin_key)
    assert status == 200, body
    found: dict[str, Any] = json.loads(body)
    return found


def error_of(body: bytes) -> dict[str, Any]:
    detail: dict[str, Any] = json.loads(body)["error"]
    assert set(detail) == {"message", "type", "param", "code"}
    return detail


@pytest.mark.parametrize("name", ["executive", "operations", "debugging"])
def test_the_views_need_an_admin_key(busy: Busy, name: str) -> None:
    status, _, body = get(busy, f"/admin/dashboard/{name}")
    assert status == 401 and error_of(body)["type"] == "authentication_error"
    status, _, body = get(busy, f"/admin/dashboard/{name}", "sk-env-not-a-key")
    assert status == 401
    status, _, body = get(busy, f"/admin/dashboard/{name}", busy.gateway.key)  # a tenant key
    assert status == 403 and error_of(body)["code"] == "admin_required"


def test_bad_input_is_refused_in_openai_shape(busy: Busy) -> None:
    admin = busy.gateway.admin_key
    status, _, body = get(busy, "/admin/dashboard/executive?window=2d", admin)
    assert status == 400
    detail = error_of(body)
    assert detail["param"] == "window" and detail["type"] == "invalid_request_error" and "15m, 1h" in detail["message"]
    status, _, body = get(busy, "/admin/dashboard/finance", admin)
    assert status == 404 and "executive" in error_of(body)["message"]
    status, _, body = get(busy, "/dashboard/secrets.js")
    assert status == 404 and error_of(body)["code"] == "unknown_url"


def test_the_page_and_its_assets_are_served_without_data(busy: Busy) -> None:
    status, headers, body = get(busy, "/dashboard")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in headers["content-security-policy"]
    page = body.decode()
    assert '<script type="module" src="/dashboard/app.js">' in page and "http" not in page.replace("http-equiv", "")
    for name, kind in [("app.js", "text/javascript"), ("charts.js", "text/javascript"), ("style.css", "text/css")]:
        status, headers, body = get(busy, f"/dashboard/{name}")
        assert status == 200 and headers["content-type"].startswith(kind) and body
        assert b"https://" not in body and b"http://" not in body.replace(b"http://www.w3.org/2000/svg", b"")


def test_executive_agrees_with_the_ledger(busy: Busy) -> None:
    rows = busy.gateway.ledger()
    found = view(busy, "executive")
    assert found["figures"]["requests"] == len(rows)
    assert found["figures"]["errors"] == sum(r["status"] >= 400 for r in rows)
    assert found["figures"]["cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in rows))
    series = {s["name"]: s["values"] for s in found["series"]["series"]}
    assert len(found["series"]["t"]) == 60 and sum(series["requests"]) == len(rows)
    assert sum(series["cost_usd"]) == pytest.approx(found["figures"]["cost_usd"])

    routes = {r["route"]: r for r in found["routes"]}
    default = routes["default"]
    assert default["level"] == 1 and "served 1 tier down by adaptive control" in default["reasons"]
    assert default["status"] in ("degraded", "critical") and found["status"] == default["status"]
    assert routes["search"]["status"] == "ok"

    tenants = {t["tenant"]: t for t in found["tenants"]}
    budget = tenants["acme"]["budget"]
    assert budget["start"] <= found["generated_at"] < budget["end"] and budget["period"] == "daily"
    this_period = sum(r["cost_usd"] for r in rows if r["tenant"] == "acme" and r["ts"] >= budget["start"])
    assert this_period > 0 and budget["spent_usd"] == pytest.approx(this_period) and budget["hard_usd"] == 2.0
    assert budget["used"] == pytest.approx(this_period / 2.0)
    hourly: dict[float, float] = {}  # the forecast from the ledger's hourly buckets
    for r in rows:
        if r["tenant"] == "acme":
            hour = r["ts"] - r["ts"] % 3600
            hourly[hour] = hourly.get(hour, 0.0) + r["cost_usd"]
    acme = BudgetDoc(period="daily", hard_usd=2.0, soft_usd=1.2)  # as tests/dashboard/conftest.py configures it
    expected = forecast(acme, spent=this_period, points=list(hourly.items()), now=found["generated_at"])
    assert budget["projected_usd"] == pytest.approx(expected.projected_usd, rel=0.02)
    assert budget["projected_usd"] >= budget["spent_usd"]
    past = "over" if this_period >= 2.0 else "soft" if this_period >= 1.2 else None
    assert budget["status"] == (past or expected.status)
    assert tenants["beta"]["budget"] is None
    assert tenants["beta"]["requests"] == sum(r["tenant"] == "beta" for r in rows) >= 6


def test_operations_shows_latency_limits_alerts_and_the_downgrade(busy: Busy) -> None:
    found = view(busy, "operations", "15m")
    rows = [r for r in busy.gateway.ledger() if r["ts"] >= found["start"]]
    series = {s["name"]: s["values"] for s in found["series"]["series"]}
    assert (
        len(found["series"]["t"]) == 60
        and found["series"]["step_s"] == 15
        and found["start"] == found["series"]["t"][0]
    )
    assert sum(series["requests"]) == found["figures"]["requests"] == len(rows)
    assert any(v is not None and v > 0 for v in series["error_rate"])
    p95s = [v for v in series["p95_ms"] if v is not None]
    assert p95s and max(p95s) > 150  # the latency spike

    limits = {(u["scope"], u["name"], u["limit"]): u for u in found["utilisation"]}
    beta = limits[("tenant", "beta", "rpm")]
    assert beta["value"] == 3 and beta["peak"] >= 3 and beta["share"] >= 1  # refused requests count too
    assert ("tier", "M", "concurrency") in limits and ("route", "default", "rpm") in limits
    refused = {(r["tenant"], r["limit"]): r["count"] for r in found["rejections"]}
    assert refused[("beta", "tenant rpm")] == busy.traffic.refused == 3

    assert [a["name"] for a in found["alerts"]] and all(a["labels"]["route"] == "default" for a in found["alerts"])
    down = [s for s in found["spans"] if s["scope"] == "route:default"]
    assert len(down) == 1 and down[0]["level"] == 1 and down[0]["end"] is None
    assert down[0]["start"] == pytest.approx(busy.traffic.downgraded_at, abs=5)
    assert [t["direction"] for t in found["transitions"]] == ["down"] and found["levels"] == {"default": 1, "search": 0}


def test_the_hour_holds_the_seeded_downgrade_and_recovery(busy: Busy) -> None:
    found = view(busy, "operations")
    spans = [(s["level"], s["end"] is None) for s in found["spans"] if s["scope"] == "route:default"]
    assert spans == [(1, False), (1, True)]  # down 40 min ago, up 32 min ago; down again now
    closed = found["spans"][0]
    assert closed["end"] - closed["start"] == pytest.approx(history.DOWN_AGO - history.UP_AGO)
    assert [t["direction"] for t in found["transitions"]] == ["down", "up", "down"]
    series = {s["name"]: s["values"] for s in found["series"]["series"]}
    assert sum(v is not None for v in series["p95_ms"]) >= history.MINUTES - 3  # a percentile per busy minute


def test_debugging_breaks_down_stages_tokens_cache_and_models(busy: Busy) -> None:
    rows = busy.gateway.ledger()
    found = view(busy, "debugging")
    stages = {s["name"]: s for s in found["stages"]}
    everything = stages["(all)"]
    assert everything["requests"] == len(rows)
    assert everything["upstream_ms"] > 0 and stages["default"]["guard_ms"] > 0 and stages["search"]["guard_ms"] == 0
    parts = sum(everything[f"{n}_ms"] for n in ("classify", "retrieval", "guard", "upstream", "gateway"))
    assert parts == pytest.approx(everything["total_ms"])

    cache = {c["name"]: c for c in found["cache"]}
    exact = sum(r["cache"] == "exact" for r in rows)
    assert exact > busy.traffic.exact_hits > 0
    assert cache["default"]["outcomes"]["exact"] == exact
    assert cache["search"]["outcomes"]["off"] == sum(r["route"] == "search" for r in rows)
    assert cache["default"]["hit_rate"] == pytest.approx(exact / sum(r["route"] == "default" for r in rows))
    assert cache["search"]["lookups"] == 0 and cache["search"]["hit_rate"] is None

    models = {m["model"]: m for m in found["models"]}
    assert {"medium", "small"} <= set(models)
    for name, line in models.items():
        mine = [r for r in rows if r["model"] == name]
        assert line["figures"]["requests"] == len(mine)
        assert line["figures"]["output_tokens"] == sum(r["output_tokens"] for r in mine)
    series = {s["name"]: s["values"] for s in found["series"]["series"]}
    assert sum(series["input_tokens"]) == sum(r["input_tokens"] for r in rows)
    assert any(v for v in series["hit_rate"])


@pytest.mark.parametrize(("window", "buckets"), [("15m", 60), ("6h", 72), ("24h", 96), ("7d", 168)])
def test_every_window_has_its_buckets(busy: Busy, window: str, buckets: int) -> None:
    found = view(busy, "operations", window)
    assert found["window"] == window and len(found["series"]["t"]) == buckets
    assert found["figures"]["requests"] == sum(r["ts"] >= found["start"] for r in busy.gateway.ledger())
