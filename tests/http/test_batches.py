"""The batch API end to end: the official `openai` SDK uploads a JSONL file, creates a
batch, polls it, downloads the output and error files; a real gateway process runs the
items through its pipeline against the scripted upstream (a stand-in on real HTTP, so
the test can make it fail and count what reached it)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.support.processes import Gateway, start_gateway
from tests.support.scripted import ScriptedUpstream, scripted_upstream

BATCH = {"poll_interval_s": 0.1, "lease_s": 2.0, "concurrency": 3, "retry_backoff_s": 0.1, "max_attempts": 3}


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    with scripted_upstream() as scripted:
        scripted.rules["capital"] = "Paris"
        yield scripted


def config(upstream: ScriptedUpstream, **gateway: Any) -> dict[str, Any]:
    provider = {"type": "openai", "base_url": upstream.url, "model": "x"}
    return {
        "gateway": {"batch": BATCH, **gateway},
        "models": [{"name": "m", "deployments": [{"name": "m-0", "provider": provider}]}],
        "routes": [{"name": "default"}, {"name": "bulk", "limits": {"rpm": 60}}],
        "tenants": [{"name": "acme"}, {"name": "beta", "default_route": "default"}],
    }


@pytest.fixture(scope="module")
def gateway(upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = start_gateway(tmp_path_factory.mktemp("batches"), config(upstream))
    yield gw
    gw.stop()


def client(gateway: Gateway, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url, api_key=key or gateway.key, max_retries=0)


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def chat_line(custom_id: str, text: str, **body: Any) -> dict[str, Any]:
    payload = {"model": "m", "messages": [{"role": "user", "content": text}], **body}
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": payload}


def wait_until_done(api: openai.OpenAI, batch_id: str, seconds: float = 30.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        batch = api.batches.retrieve(batch_id)
        if batch.status in ("completed", "failed", "expired", "cancelled"):
            return batch
        assert time.monotonic() < deadline, f"batch still {batch.status}: {batch.request_counts}"
        time.sleep(0.1)


def lines_of(api: openai.OpenAI, file_id: str | None) -> list[dict[str, Any]]:
    if file_id is None:
        return []
    return [json.loads(line) for line in api.files.content(file_id).text.splitlines()]


def test_a_batch_runs_every_item_once_and_writes_output_and_error_files(
    gateway: Gateway, upstream: ScriptedUpstream
) -> None:
    api = client(gateway)
    upstream.failures["flaky-item"] = 1  # one 503, then answers: retried
    upstream.failures["broken-item"] = 99  # always 503: fails after max_attempts
    requests = [chat_line(f"q{i}", f"what is the capital of France? #{i}") for i in range(6)]
    requests.append(chat_line("flaky", "flaky-item capital"))
    requests.append(chat_line("broken", "broken-item"))
    requests.append(chat_line("bad", "hello", max_tokens=-5))  # the pipeline refuses it: 400, not retried
    uploaded = api.files.create(file=("in.jsonl", jsonl(requests)), purpose="batch")
    assert uploaded.purpose == "batch" and uploaded.bytes > 0 and uploaded.filename == "in.jsonl"
    created = api.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h", metadata={"job": "t1"}
    )
    assert created.status == "in_progress" and created.request_counts is not None
    assert created.request_counts.total == 9 and created.metadata == {"job": "t1"}

    done = wait_until_done(api, created.id)
    assert done.status == "completed"
    assert (done.request_counts.completed, done.request_counts.failed) == (7, 2)
    output = lines_of(api, done.output_file_id)
    errors = lines_of(api, done.error_file_id)
    assert sorted(line["custom_id"] for line in output) == sorted([f"q{i}" for i in range(6)] + ["flaky"])
    for line in output:
        assert line["response"]["status_code"] == 200 and line["error"] is None
        assert line["response"]["body"]["choices"][0]["message"]["content"] == "Paris"
    failed = {line["custom_id"]: line for line in errors}
    assert set(failed) == {"broken", "bad"}
    assert failed["broken"]["response"]["status_code"] == 502
    assert failed["bad"]["response"]["status_code"] == 400 and failed["bad"]["error"]["message"]
    sent = [json.dumps(body["messages"]) for body in upstream.received]
    assert sum("broken-item" in s for s in sent) == 3  # max_attempts tries (the route itself does not retry)
    assert sum("flaky-item" in s for s in sent) >= 2

    rows = gateway.ledger(wait_for=7)
    ids = {line["response"]["request_id"] for line in output}
    assert ids <= {row["request_id"] for row in rows}  # each answered item is billed in the ledger
    assert gateway.metric("envelope_batch_items_total", 'status="done"') == 7


def test_files_and_batches_are_listed_and_scoped_to_their_tenant(gateway: Gateway) -> None:
    api = client(gateway)
    uploaded = api.files.create(file=("a.jsonl", jsonl([chat_line("x", "capital")])), purpose="batch")
    assert uploaded.id in [f.id for f in api.files.list()]
    assert api.files.retrieve(uploaded.id).filename == "a.jsonl"
    other = client(gateway, gateway.admin(  # a key of another tenant
        "/admin/keys", {"tenant": "beta"})["key"])  # fmt: skip
    with pytest.raises(openai.NotFoundError):
        other.files.retrieve(uploaded.id)
    with pytest.raises(openai.NotFoundError):
        other.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    batch = api.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert batch.id in [b.id for b in api.batches.list()]
    assert batch.id not in [b.id for b in other.batches.list()]
    wait_until_done(api, batch.id)
    deleted = api.files.delete(uploaded.id)
    assert deleted.deleted is True
    with pytest.raises(openai.NotFoundError):
        api.files.retrieve(uploaded.id)


def test_bad_files_and_batches_get_clear_4xx_errors(gateway: Gateway) -> None:
    api = client(gateway)
    bad = jsonl([chat_line("a", "x"), chat_line("a", "again")]) + b"not json\n"
    uploaded = api.files.create(file=("bad.jsonl", bad), purpose="batch")
    with pytest.raises(openai.BadRequestError) as caught:
        api.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert caught.value.code == "invalid_batch_file"
    assert "line 2" in caught.value.message and "line 3" in caught.value.message
    with pytest.raises(openai.BadRequestError):
        api.batches.create(input_file_id=uploaded.id, endpoint="/v1/completions", completion_window="24h")  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError):
        api.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="2d")  # type: ignore[arg-type]
    with pytest.raises(openai.NotFoundError):
        api.batches.create(input_file_id="file-nope", endpoint="/v1/chat/completions", completion_window="24h")
    with pytest.raises(openai.BadRequestError):
        api.files.create(file=("x.jsonl", b"{}\n"), purpose="fine-tune")
    with pytest.raises(openai.AuthenticationError):
        client(gateway, "sk-wrong").files.list()
    with pytest.raises(openai.NotFoundError):
        api.batches.retrieve("batch_nope")


def test_a_cancelled_batch_stops_and_reports_what_ran(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    api = client(gateway)
    upstream.delays["x"] = 0.3  # the deployment's upstream model name
    try:
        slow = [chat_line(f"s{i}", f"capital {i}") for i in range(30)]
        uploaded = api.files.create(file=("slow.jsonl", jsonl(slow)), purpose="batch")
        created = api.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        time.sleep(0.5)
        cancelling = api.batches.cancel(created.id)
        assert cancelling.status in ("cancelling", "cancelled", "completed")
        done = wait_until_done(api, created.id)
        assert done.status == "cancelled"
        output = lines_of(api, done.output_file_id)
        errors = lines_of(api, done.error_file_id)
        assert len(output) + len(errors) == 30  # every item accounted for, once
        assert len({line["custom_id"] for line in output + errors}) == 30
        assert any(line["error"]["code"] == "batch_cancelled" for line in errors)
    finally:
        upstream.delays.pop("x", None)


def test_items_held_back_by_a_rate_limit_wait_for_it_and_all_complete(gateway: Gateway) -> None:
    """The route `bulk` allows 60 requests a minute: the first 60 items run at once, the
    other 6 are refused (429) and wait for the bucket to refill instead of failing."""
    api = client(gateway)
    requests = [chat_line(f"r{i}", f"capital r{i}") for i in range(66)]
    uploaded = api.files.create(file=("bulk.jsonl", jsonl(requests)), purpose="batch")
    created = api.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        extra_headers={"x-envelope-route": "bulk"},
    )
    done = wait_until_done(api, created.id, seconds=60)
    assert done.status == "completed" and done.request_counts is not None
    assert (done.request_counts.completed, done.request_counts.failed) == (66, 0)
    rows = gateway.ledger(wait_for=66)
    bulk = [row for row in rows if row["route"] == "bulk"]
    assert sum(row["status"] == 200 for row in bulk) == 66
    assert any(row["status"] == 429 for row in bulk)  # the limit was hit, and waited out
    span = max(r["ts"] for r in bulk) - min(r["ts"] for r in bulk)
    assert span >= 3.0  # 6 items at one a second after the burst


def test_a_batch_on_a_route_the_key_may_not_use_is_refused(gateway: Gateway) -> None:
    api = client(gateway)
    uploaded = api.files.create(file=("r.jsonl", jsonl([chat_line("x", "capital")])), purpose="batch")
    with pytest.raises(openai.NotFoundError):
        api.batches.create(
            input_file_id=uploaded.id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
            extra_headers={"x-envelope-route": "no-such-route"},
        )
