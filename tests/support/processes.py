"""Real processes for tests: the fake upstream and the gateway, on free local ports."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from envelope import keys
from envelope.config import loader
from envelope.store.sql import SQLStore


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listened on port {port} within {timeout}s")


@dataclass
class FakeUpstream:
    port: int
    proc: subprocess.Popen[bytes]

    def url(self, mode: str = "") -> str:
        prefix = f"/fault/{mode}" if mode else ""
        return f"http://127.0.0.1:{self.port}{prefix}/v1"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def start_fake_upstream() -> FakeUpstream:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "envelope.fake.upstream", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port, proc)
    return FakeUpstream(port, proc)


@dataclass
class Gateway:
    """An `envelope serve` process with its own config, SQLite ledger and one tenant key."""

    directory: Path
    port: int
    key: str
    admin_key: str
    proc: subprocess.Popen[bytes]
    log: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db(self) -> Path:
        return self.directory / "ledger.db"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def ledger(self, wait_for: int = 0, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Ledger rows, waiting up to `timeout` for at least `wait_for` of them."""
        deadline = time.monotonic() + timeout
        while True:
            rows = read_ledger(self.db)
            if len(rows) >= wait_for or time.monotonic() > deadline:
                return rows
            time.sleep(0.05)


    def ledger_row(self, request_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """The ledger row of one request, waiting up to `timeout` for the writer to flush it."""
        deadline = time.monotonic() + timeout
        while True:
            for row in read_ledger(self.db):
                if row["request_id"] == request_id:
                    return row
            if time.monotonic() > deadline:
                raise AssertionError(f"no ledger row for request {request_id} within {timeout}s")
            time.sleep(0.05)


def read_ledger(db: Path) -> list[dict[str, Any]]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute("SELECT * FROM ledger ORDER BY ts")]
        except sqlite3.OperationalError:
            return []


def write_config(directory: Path, document: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    gateway = document.setdefault("gateway", {})
    gateway.setdefault("database_url", f"sqlite+aiosqlite:///{directory / 'ledger.db'}")
    gateway.setdefault("ledger", {"batch_size": 100, "flush_interval_ms": 20})
    path = directory / "envelope.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


async def _issue_keys(config_path: Path) -> tuple[str, str]:
    config = loader.load(config_path)
    store = SQLStore(config.gateway.database_url)
    await store.open()
    try:
        tenant = config.tenants[0].name
        _, secret = await keys.issue(store, config, tenant=tenant)
        _, admin = await keys.issue(store, config, tenant=tenant, role="admin")
    finally:
        await store.close()
    return secret, admin


def start_gateway(directory: Path, document: dict[str, Any], env: dict[str, str] | None = None) -> Gateway:
    config_path = write_config(directory, document)
    secret, admin = asyncio.run(_issue_keys(config_path))
    port = free_port()
    log = directory / "gateway.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "envelope.cli.main", "serve", "-c", str(config_path), "--port", str(port), "--no-first-key"],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        cwd=directory,
    )
    wait_healthy(port, proc, log)
    return Gateway(directory, port, secret, admin, proc, log, env or {})


def wait_healthy(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"gateway on port {port} not healthy within {timeout}s")
