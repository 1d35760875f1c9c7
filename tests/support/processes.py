"""Test-side view of the real processes (see envelope.bench.processes), plus ledger reads."""

from __future__ import annotations

import json
import re
import sqlite3
import time
import urllib.request
from pathlib import Path
from typing import Any

from envelope.bench.processes import (
    FakeUpstream,
    GatewayProcess,
    free_port,
    launch,
    start_fake_upstream,
    write_config,
)
from envelope.bench.processes import start_gateway as _start_gateway

__all__ = [
    "FakeUpstream",
    "Gateway",
    "free_port",
    "read_ledger",
    "relaunch",
    "start_fake_upstream",
    "start_gateway",
    "write_config",
]


class Gateway(GatewayProcess):
    """A gateway process whose SQLite ledger the test can read."""

    def ledger(self, wait_for: int = 0, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Ledger rows, waiting up to `timeout` for at least `wait_for` of them."""
        deadline = time.monotonic() + timeout
        while True:
            rows = read_ledger(self.db)
            if len(rows) >= wait_for or time.monotonic() > deadline:
                return rows
            time.sleep(0.05)

    def admin(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST `body` to an admin API path with the admin key; the JSON answer."""
        request = urllib.request.Request(
            f"{self.root}{path}",
            data=json.dumps(body).encode(),
            headers={"authorization": f"Bearer {self.admin_key}", "content-type": "application/json"},
        )
        with urllib.request.urlopen(request) as answer:
            result: dict[str, Any] = json.loads(answer.read())
            return result

    def metric(self, name: str, labels: str) -> float:
        """One sample of /metrics: `labels` as Prometheus writes them (sorted, quoted); 0 if absent."""
        with urllib.request.urlopen(f"{self.root}/metrics") as answer:
            text = answer.read().decode()
        found = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", text, re.M)
        return float(found.group(1)) if found else 0.0

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


def start_gateway(directory: Path, document: dict[str, Any], env: dict[str, str] | None = None) -> Gateway:
    process = _start_gateway(directory, document, env)
    return Gateway(process.directory, process.port, process.key, process.admin_key, process.proc, process.log)


def relaunch(gateway: Gateway, env: dict[str, str] | None = None) -> Gateway:
    """The same gateway (config, store, keys) started again, on a new port."""
    process = launch(gateway.directory, gateway.key, gateway.admin_key, env)
    return Gateway(process.directory, process.port, process.key, process.admin_key, process.proc, process.log)


def read_ledger(db: Path) -> list[dict[str, Any]]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute("SELECT * FROM ledger ORDER BY ts")]
        except sqlite3.OperationalError:
            return []
