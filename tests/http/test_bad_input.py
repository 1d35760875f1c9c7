"""Client mistakes get a 4xx in OpenAI's error shape, never a 500, and bad keys a 401."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.http.test_gateway import config
from tests.support.processes import FakeUpstream, Gateway, start_gateway


@pytest.fixture(scope="module")
def gateway(fake_upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    doc = config(fake_upstream)
    doc["gateway"] = {"max_body_bytes": 4096}
    doc["routes"].append({"name": "tiny", "max_input_tokens": 20, "on_input_overflow": "reject"})
    doc["routes"].append({"name": "trim", "max_input_tokens": 40, "on_input_overflow": "truncate"})
    gw = start_gateway(tmp_path_factory.mktemp("bad"), doc)
    yield gw
    gw.stop()


def post(
    gw: Gateway, body: bytes, headers: dict[str, str] | None = None, path: str = "/v1/chat/completions"
) -> tuple[int, dict[str, Any], dict[str, str]]:
    request = urllib.request.Request(
        gw.root + path,
        data=body,
        method="POST",
        headers={"authorization": f"Bearer {gw.key}", "content-type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read()), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), dict(err.headers)


def assert_openai_error(status: int, body: dict[str, Any], expected: int, code: str | None = None) -> None:
    assert status == expected, body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"] and error["type"]
    if code is not None:
        assert error["code"] == code, error


GOOD = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "invalid_json"),
        (b"", "invalid_json"),
        (b'{"model": "gpt-4o-mini", "messages": "hi"}', "invalid_value"),
        (b'{"model": 7, "messages": []}', "invalid_value"),
        (b'{"model": "gpt-4o-mini"}', "invalid_value"),
        (b'{"model": "gpt-4o-mini", "messages": []}', "invalid_value"),
        (b'{"model": "gpt-4o-mini", "messages": [{"role": "wizard", "content": "x"}]}', "invalid_value"),
        (
            b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "max_tokens": "many"}',
            "invalid_value",
        ),
        (
            b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "max_tokens": -1}',
            "invalid_value",
        ),
        (
            b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "max_tokens": 99999999999}',
            "invalid_value",
        ),
        (b'{"model": "\xff\xfe", "messages": []}', "invalid_utf8"),
    ],
)
def test_malformed_bodies_are_400(gateway: Gateway, body: bytes, code: str) -> None:
    status, payload, _ = post(gateway, body)
    assert_openai_error(status, payload, 400, code)


def test_wrong_type_names_the_field(gateway: Gateway) -> None:
    status, payload, _ = post(gateway, b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": 5}]}')
    assert_openai_error(status, payload, 400)
    assert payload["error"]["param"] == "messages[0].content"


def test_unknown_model_is_404(gateway: Gateway) -> None:
    status, payload, _ = post(gateway, json.dumps({**GOOD, "model": "gpt-9"}).encode())
    assert_openai_error(status, payload, 404, "model_not_found")


def test_body_over_the_limit_is_413(gateway: Gateway) -> None:
    big = json.dumps({**GOOD, "messages": [{"role": "user", "content": "x" * 5000}]}).encode()
    status, payload, _ = post(gateway, big)
    assert_openai_error(status, payload, 413, "request_too_large")


@pytest.mark.parametrize(
    ("header", "value"),
    [("x-envelope-latency-budget-ms", "soon"), ("x-envelope-cost-budget", "-1"), ("x-envelope-mode", "turbo")],
)
def test_bad_envelope_headers_are_400(gateway: Gateway, header: str, value: str) -> None:
    status, payload, _ = post(gateway, json.dumps(GOOD).encode(), {header: value})
    assert_openai_error(status, payload, 400)
    assert payload["error"]["param"] == header


def test_unknown_route_is_404(gateway: Gateway) -> None:
    status, payload, _ = post(gateway, json.dumps(GOOD).encode(), {"x-envelope-route": "nowhere"})
    assert_openai_error(status, payload, 404, "route_not_found")


def test_input_over_the_cap_is_rejected_where_the_route_says_reject(gateway: Gateway) -> None:
    body = {**GOOD, "messages": [{"role": "user", "content": "word " * 50}]}
    status, payload, _ = post(gateway, json.dumps(body).encode(), {"x-envelope-route": "tiny"})
    assert_openai_error(status, payload, 400, "input_tokens_exceeded")


def test_input_over_the_cap_is_truncated_where_the_route_says_truncate(gateway: Gateway) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "old question " * 10},
        {"role": "assistant", "content": "old answer " * 10},
        {"role": "user", "content": "new question"},
    ]
    status, payload, headers = post(
        gateway,
        json.dumps({**GOOD, "messages": messages}).encode(),
        {"x-envelope-route": "trim", "x-envelope-report": "1"},
    )
    assert status == 200, payload
    assert "input_truncated:2" in headers["x-envelope-degradations"]
    assert int(headers["x-envelope-input-tokens"]) > 0
    row = gateway.ledger_row(headers["x-envelope-request-id"])
    assert "input_truncated:2" in row["degradations"]


def test_missing_malformed_unknown_and_revoked_keys_are_401(gateway: Gateway) -> None:
    for auth in (None, "Basic abc", "Bearer sk-env-nope"):
        headers = {"authorization": auth} if auth else {}
        request = urllib.request.Request(
            gateway.root + "/v1/chat/completions", data=json.dumps(GOOD).encode(), method="POST", headers=headers
        )
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, timeout=5)
        assert err.value.code == 401
        assert json.loads(err.value.read())["error"]["type"] == "authentication_error"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=gateway.base_url, api_key="sk-env-wrong", max_retries=0).models.list()


def test_admin_api_creates_and_revokes_keys(gateway: Gateway) -> None:
    admin = {"authorization": f"Bearer {gateway.admin_key}"}
    status, created, _ = post(
        gateway, json.dumps({"tenant": "acme", "feature": "search"}).encode(), admin, "/admin/keys"
    )
    assert status == 201 and created["key"].startswith("sk-env-")
    user = openai.OpenAI(base_url=gateway.base_url, api_key=created["key"], max_retries=0)
    user.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}], max_tokens=2)
    # a tenant key may not manage keys
    status, payload, _ = post(
        gateway, json.dumps({"tenant": "acme"}).encode(), {"authorization": f"Bearer {created['key']}"}, "/admin/keys"
    )
    assert_openai_error(status, payload, 403, "admin_required")
    status, payload, _ = post(gateway, json.dumps({"tenant": "ghost"}).encode(), admin, "/admin/keys")
    assert_openai_error(status, payload, 404, "tenant_not_found")
    request = urllib.request.Request(gateway.root + f"/admin/keys/{created['id']}", method="DELETE", headers=admin)
    with urllib.request.urlopen(request, timeout=5) as resp:
        assert json.loads(resp.read())["revoked"] is True
    with pytest.raises(openai.AuthenticationError, match="revoked"):
        user.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}], max_tokens=2)


def test_unknown_path_and_method_keep_the_error_shape(gateway: Gateway) -> None:
    for method, path, expected in (("GET", "/v1/nothing", 404), ("GET", "/v1/chat/completions", 405)):
        request = urllib.request.Request(gateway.root + path, method=method)
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, timeout=5)
        assert err.value.code == expected
        assert_openai_error(expected, json.loads(err.value.read()), expected)


def test_no_client_error_is_ever_a_500(gateway: Gateway) -> None:
    text = (gateway.log).read_text(errors="replace")
    assert "unhandled error" not in text
