"""A running gateway follows the registry: `envelope apply` and `envelope rollback` (the
real CLI, against the gateway's database) change what it serves within one poll interval,
without a restart; an invalid config is refused and never served. The upstream is the
fake one (a stand-in on real HTTP: only the gateway's behaviour matters here)."""

from __future__ import annotations

import copy
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml

from tests.support.postgres import fresh_database, sqlalchemy_url
from tests.support.processes import FakeUpstream, Gateway, start_fake_upstream, start_gateway

ENVELOPE = str(Path(sys.executable).parent / "envelope")


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    fake = start_fake_upstream()
    yield fake
    fake.stop()


def document(upstream: FakeUpstream, max_output_tokens: int) -> dict[str, Any]:
    provider = {"type": "openai", "base_url": upstream.url(), "model": "fake-model"}
    return {
        "gateway": {"registry": {"poll_interval_s": 0.2}},
        "models": [{"name": "m", "deployments": [{"name": "m-0", "provider": provider}]}],
        "routes": [{"name": "default", "max_output_tokens": max_output_tokens}],
        "tenants": [{"name": "acme"}],
    }


@pytest.fixture(scope="module")
def gateway(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = start_gateway(tmp_path_factory.mktemp("registry"), document(upstream, 64))
    yield gw
    gw.stop()


def served(gateway: Gateway) -> tuple[str, str]:
    """(config version, max tokens) of a request asking for more than any route allows."""
    client = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": "hi"}], max_tokens=5000
    )
    return raw.headers["x-envelope-config-version"], raw.headers["x-envelope-max-tokens"]


def envelope(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ENVELOPE, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def write(gateway: Gateway, name: str, doc: dict[str, Any]) -> Path:
    """A config for the CLI: the gateway's own, with other documents."""
    running = yaml.safe_load((gateway.directory / "envelope.yaml").read_text())
    changed = copy.deepcopy(doc)
    changed["gateway"] = running["gateway"]
    path = gateway.directory / name
    path.write_text(yaml.safe_dump(changed), encoding="utf-8")
    return path


def until_served(gateway: Gateway, wanted: tuple[str, str], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while (now := served(gateway)) != wanted:
        assert time.monotonic() < deadline, f"still serving {now}, not {wanted}"
        time.sleep(0.05)


def test_apply_and_rollback_reach_the_running_gateway(gateway: Gateway, upstream: FakeUpstream) -> None:
    assert served(gateway) == ("1", "64")  # the file's documents, applied at start
    pid = gateway.proc.pid

    tighter = write(gateway, "tighter.yaml", document(upstream, 32))
    diff = envelope("diff", str(tighter), cwd=gateway.directory)
    assert diff.returncode == 1 and "max_output_tokens" in diff.stdout
    applied = envelope("apply", str(tighter), "-m", "tighter output", "--actor", "ci", cwd=gateway.directory)
    assert applied.returncode == 0, applied.stderr
    until_served(gateway, ("2", "32"))

    broken = write(gateway, "broken.yaml", document(upstream, 32) | {"routes": [{"name": "default", "mode": "turbo"}]})
    refused = envelope("apply", str(broken), cwd=gateway.directory)
    assert refused.returncode == 2 and "mode" in refused.stdout + refused.stderr
    time.sleep(0.6)  # three poll intervals: nothing moved
    assert served(gateway) == ("2", "32")

    rolled = envelope(
        "rollback", "--database", f"sqlite+aiosqlite:///{gateway.db}", "--actor", "ci", cwd=gateway.directory
    )
    assert rolled.returncode == 0, rolled.stderr
    until_served(gateway, ("1", "64"))
    assert gateway.proc.pid == pid and gateway.proc.poll() is None  # the same process all along

    history = envelope("history", "--database", f"sqlite+aiosqlite:///{gateway.db}", cwd=gateway.directory)
    assert history.returncode == 0
    assert "rollback" in history.stdout and "ci" in history.stdout
    rows = gateway.ledger(wait_for=1)
    assert {row["config_version"] for row in rows} >= {1, 2}


def test_every_replica_follows_one_apply(upstream: FakeUpstream, tmp_path: Path) -> None:
    """Two replicas sharing one PostgreSQL registry: one `envelope apply` reaches both."""
    with fresh_database("envelope_registry") as name:
        url = sqlalchemy_url(name)
        doc = document(upstream, 64)
        doc["gateway"]["database_url"] = url
        replicas = [start_gateway(tmp_path / f"replica{i}", copy.deepcopy(doc)) for i in range(2)]
        try:
            assert [served(r) for r in replicas] == [("1", "64"), ("1", "64")]  # one version: the same documents
            tighter = write(replicas[0], "tighter.yaml", document(upstream, 16))
            applied = envelope("apply", str(tighter), "--database", url, "--actor", "ci", cwd=tmp_path)
            assert applied.returncode == 0, applied.stderr
            for replica in replicas:
                until_served(replica, ("2", "16"))
        finally:
            for replica in replicas:
                replica.stop()


def test_a_canary_that_breaches_rolls_the_registry_back(upstream: FakeUpstream, tmp_path: Path) -> None:
    """Version 2 brings a canary whose candidate model is slow (the fake upstream's
    delay fault): the gateway rolls it back, and the registry with it (auto_rollback)."""
    first = document(upstream, 64)
    first["gateway"]["control"] = {"interval_s": 0.1}
    gateway = start_gateway(tmp_path / "canary", first)
    try:
        second = copy.deepcopy(first)
        slow = {"type": "openai", "base_url": upstream.url("delay-200"), "model": "fake-model"}
        second["models"].append({"name": "slow", "deployments": [{"name": "slow-0", "provider": slow}]})
        second["routes"][0]["experiment"] = {
            "name": "slow-model",
            "kind": "canary",
            "unit": "request",
            "arms": [{"name": "control", "weight": 1}, {"name": "candidate", "weight": 1, "model": "slow"}],
            "rollback": {"min_requests": 5, "window_s": 60},
        }
        applied = envelope("apply", str(write(gateway, "canary.yaml", second)), cwd=gateway.directory)
        assert applied.returncode == 0, applied.stderr
        until_served(gateway, ("2", "64"))

        client = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0)
        versions = []
        deadline = time.monotonic() + 30
        while not versions or versions[-1] != "1":
            assert time.monotonic() < deadline, f"no rollback; versions served {versions[-10:]}"
            raw = client.chat.completions.with_raw_response.create(
                model="auto", messages=[{"role": "user", "content": "hi"}]
            )
            versions.append(raw.headers["x-envelope-config-version"])
        history = envelope("history", "--database", f"sqlite+aiosqlite:///{gateway.db}", cwd=gateway.directory)
        assert "auto_rollback" in history.stdout and "envelope-canary@" in history.stdout
        assert "slow-model" in history.stdout
        with sqlite3.connect(gateway.db) as db:
            status = db.execute("SELECT status, bad_reason FROM config_versions WHERE number = 2").fetchone()
        assert status[0] == "bad" and "p95" in status[1]
    finally:
        gateway.stop()
