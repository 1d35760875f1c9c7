"""The CLI as a user runs it: real subprocesses over a SQLite file."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from envelope.store.sql import SQLStore
from tests.store.test_contract import record
from tests.support.processes import write_config

DOC = {
    "models": [
        {
            "name": "m",
            "deployments": [
                {"name": "d", "provider": {"type": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "x"}}
            ],
        }
    ],
    "routes": [{"name": "default"}, {"name": "batch"}],
    "tenants": [{"name": "acme"}, {"name": "beta"}],
}


def envelope(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "envelope.cli.main", *args], capture_output=True, text=True, timeout=60
    )


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    cfg = str(write_config(tmp_path, dict(DOC)))
    created = envelope("keys", "create", "--tenant", "acme", "--route", "batch", "--feature", "nightly", "-c", cfg)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("sk-env-")
    key_id = created.stderr.split("key ")[1].split()[0]
    listed = envelope("keys", "list", "-c", cfg)
    assert key_id in listed.stdout and "nightly" in listed.stdout and "active" in listed.stdout
    assert secret not in listed.stdout
    assert secret not in (tmp_path / "ledger.db").read_bytes().decode("latin-1")  # stored hashed only
    assert envelope("keys", "revoke", key_id, "-c", cfg).returncode == 0
    assert "revoked" in envelope("keys", "list", "-c", cfg).stdout
    assert envelope("keys", "revoke", key_id, "-c", cfg).returncode == 1


def test_keys_for_unknown_tenant_or_route_are_refused(tmp_path: Path) -> None:
    cfg = str(write_config(tmp_path, dict(DOC)))
    out = envelope("keys", "create", "--tenant", "ghost", "-c", cfg)
    assert out.returncode == 2 and "ghost" in out.stderr
    out = envelope("keys", "create", "--tenant", "acme", "--route", "nowhere", "-c", cfg)
    assert out.returncode == 2 and "nowhere" in out.stderr


def test_report_cost_groups_and_totals(tmp_path: Path) -> None:
    cfg = str(write_config(tmp_path, dict(DOC)))

    async def fill() -> None:
        store = SQLStore(f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}")
        await store.open()
        await store.append([
            record("1", tenant="acme", feature="search", cost=0.25),
            record("2", tenant="acme", feature="chat", cost=0.5),
            record("3", tenant="beta", feature="search", cost=0.125, status=502),
        ])  # fmt: skip
        await store.close()

    asyncio.run(fill())
    by_tenant = envelope("report", "cost", "--by", "tenant", "-c", cfg)
    assert by_tenant.returncode == 0, by_tenant.stderr
    lines = by_tenant.stdout.splitlines()
    acme = next(line for line in lines if "acme" in line)
    assert "0.750000" in acme and " 2 " in acme
    assert "0.875000" in next(line for line in lines if "total" in line)
    by_feature = envelope("report", "cost", "--by", "feature", "-c", cfg)
    assert "0.375000" in next(line for line in by_feature.stdout.splitlines() if "search" in line)
    bad = envelope("report", "cost", "--by", "colour", "-c", cfg)
    assert bad.returncode == 2
