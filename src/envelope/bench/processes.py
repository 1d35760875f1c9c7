"""Real processes on free local ports: the fake upstream and an `envelope serve`.

Used by `envelope bench` and by the end-to-end tests, so both run the gateway exactly
as a user does: its own process, its own config file, a key in its own store.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
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


def _wait(ready: Any, proc: subprocess.Popen[bytes], what: str, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"{what} exited with code {proc.returncode}\n{tail}")
        try:
            if ready():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{what} not ready within {timeout}s")


@dataclass
class FakeUpstream:
    port: int
    proc: subprocess.Popen[bytes]

    def url(self, mode: str = "") -> str:
        """Base URL of the fake; `mode` selects a fault (see envelope.fake.upstream)."""
        prefix = f"/fault/{mode}" if mode else ""
        return f"http://127.0.0.1:{self.port}{prefix}/v1"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def start_fake_upstream(module: str = "envelope.fake.upstream") -> FakeUpstream:
    """The fake upstream (or another stand-in `module` taking `--port`) as its own process."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def listening() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True

    _wait(listening, proc, module, 30)
    return FakeUpstream(port, proc)


@dataclass
class GatewayProcess:
    """An `envelope serve` with its own config, SQLite store and a tenant and an admin key."""

    directory: Path
    port: int
    key: str
    admin_key: str
    proc: subprocess.Popen[bytes]
    log: Path

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
        """SIGINT, as Ctrl-C: the gateway flushes its ledger and stops its children."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def write_config(directory: Path, document: dict[str, Any]) -> Path:
    """Write a config set into `directory`, with its SQLite store beside it by default."""
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


def start_gateway(directory: Path, document: dict[str, Any], env: dict[str, str] | None = None) -> GatewayProcess:
    config_path = write_config(directory, document)
    secret, admin = asyncio.run(_issue_keys(config_path))
    return launch(directory, secret, admin, env)


def launch(directory: Path, secret: str, admin: str, env: dict[str, str] | None = None) -> GatewayProcess:
    """Start `envelope serve` on the config already in `directory` (again, after a stop or a crash)."""
    config_path = directory / "envelope.yaml"
    port = free_port()
    log = directory / "gateway.log"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "envelope.cli.main",
            "serve",
            "-c",
            str(config_path),
            "--port",
            str(port),
            "--no-first-key",
        ],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        cwd=directory,
    )

    def healthy() -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:
            return bool(resp.status == 200)

    _wait(healthy, proc, "gateway", 60, log)
    return GatewayProcess(directory, port, secret, admin, proc, log)


def issue_tenant_keys(gateway: GatewayProcess, tenants: list[str]) -> dict[str, str]:
    """A tenant key for each of `tenants` in the gateway's store (for traffic of several tenants)."""

    async def issue() -> dict[str, str]:
        config = loader.load(gateway.directory / "envelope.yaml")
        store = SQLStore(config.gateway.database_url)
        await store.open()
        try:
            return {tenant: (await keys.issue(store, config, tenant=tenant))[1] for tenant in tenants}
        finally:
            await store.close()

    return asyncio.run(issue())
