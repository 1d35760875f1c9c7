"""`envelope diff | apply | history | rollback | flags`, run as a user runs them (subprocesses)
over a SQLite file."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.processes import write_config

DOC: dict[str, Any] = {
    "models": [
        {
            "name": "m",
            "deployments": [
                {"name": "d", "provider": {"type": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "x"}}
            ],
        }
    ],
    "routes": [{"name": "default", "latency": {"p95_ms": 800}}],
    "tenants": [{"name": "acme"}],
    "flags": [{"name": "new-ui", "description": "the new UI"}, {"name": "dark", "enabled": False}],
}


def envelope(*args: str, actor: str = "tester") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ENVELOPE_ACTOR": actor}
    return subprocess.run(
        [sys.executable, "-m", "envelope.cli.main", *args], capture_output=True, text=True, timeout=60, env=env
    )


def config(directory: Path, p95: float = 800, **changes: Any) -> str:
    doc = copy.deepcopy(DOC)
    doc["routes"][0]["latency"]["p95_ms"] = p95
    doc.update(changes)
    return str(write_config(directory, doc))


def test_diff_apply_history_rollback(tmp_path: Path) -> None:
    first = config(tmp_path / "v1")
    database = f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}"
    db = ("--database", database)

    out = envelope("diff", first, *db)
    assert out.returncode == 1 and "+ routes.default" in out.stdout  # nothing active: all added
    out = envelope("apply", first, "-m", "first", *db)
    assert out.returncode == 0, out.stderr
    assert "activated version 1" in out.stdout
    out = envelope("diff", first, *db)
    assert (out.returncode, out.stdout.strip()) == (0, "no differences: the config is the active version")

    second = config(tmp_path / "v2", p95=600)
    out = envelope("diff", second, *db)
    assert out.returncode == 1 and out.stdout.strip() == "~ routes.default.latency.p95_ms: 800 → 600"
    out = envelope("apply", second, "--dry-run", *db)
    assert out.returncode == 0 and "dry run" in out.stdout and "p95_ms: 800 → 600" in out.stdout
    assert envelope("diff", second, *db).returncode == 1  # the dry run stored nothing
    out = envelope("apply", second, "--actor", "ann@ops", *db)
    assert out.returncode == 0 and "activated version 2 (was 1)" in out.stdout, out.stdout + out.stderr
    out = envelope("apply", second, *db)
    assert out.returncode == 0 and "nothing to apply" in out.stdout

    out = envelope("rollback", "--reason", "p95 breach", *db)
    assert out.returncode == 0, out.stderr
    assert "~ routes.default.latency.p95_ms: 600 → 800" in out.stdout
    assert "rolled back to version 1 (version 2 marked bad)" in out.stdout
    out = envelope("rollback", *db)
    assert out.returncode == 1 and "no earlier good version" in out.stderr
    out = envelope("rollback", "7", *db)
    assert out.returncode == 2 and "no version 7" in out.stderr

    out = envelope("history", *db)
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if "→" in line and ("apply" in line or "rollback" in line)]
    assert len(rows) == 3
    assert "rollback" in rows[0] and "2 → 1" in rows[0] and "p95 breach" in rows[0] and "tester" in rows[0]
    assert "apply" in rows[1] and "1 → 2" in rows[1] and "ann@ops" in rows[1]
    assert "routes: ~default(latency.p95_ms)" in rows[1]
    assert "- → 1" in rows[2]
    assert len([line for line in envelope("history", "-n", "1", *db).stdout.splitlines() if "→ 1" in line]) == 1


def test_an_invalid_config_is_refused_with_every_problem_and_never_stored(tmp_path: Path) -> None:
    good = config(tmp_path / "good")
    assert envelope("apply", good).returncode == 0  # the config's own database_url
    bad = tmp_path / "bad.yaml"
    text = (
        Path(good).read_text().replace("p95_ms: 800", "p95_ms: -5").replace("name: acme", "name: acme\n  colour: red")
    )
    bad.write_text(text)
    database = ("--database", f"sqlite+aiosqlite:///{tmp_path / 'good' / 'ledger.db'}")
    for command in ("apply", "diff"):
        out = envelope(command, str(bad), *database)
        assert out.returncode == 2, (command, out.stdout, out.stderr)
        assert "invalid config" in out.stderr
        assert "routes[0].latency.p95_ms" in out.stderr and "tenants[0].colour: unknown field" in out.stderr
    history = envelope("history", "-c", good)
    assert len([line for line in history.stdout.splitlines() if " → " in line and "apply" in line]) == 1
    assert envelope("diff", good).returncode == 0  # the running version stays


def test_flags_list_the_active_versions_flags(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    out = envelope("flags", "-c", cfg)
    assert out.returncode == 1 and "no version is active" in out.stderr
    assert envelope("apply", cfg).returncode == 0
    out = envelope("flags", "-c", cfg)
    assert out.returncode == 0, out.stderr
    new_ui = next(line for line in out.stdout.splitlines() if "new-ui" in line)
    dark = next(line for line in out.stdout.splitlines() if "dark" in line)
    assert " on " in new_ui and "UTC" in new_ui and "the new UI" in new_ui and " all " in new_ui
    assert " off " in dark and "UTC" not in dark
    flipped = config(tmp_path / "v2", flags=[{"name": "new-ui", "enabled": False}, {"name": "dark"}])
    assert envelope("apply", flipped, "--database", f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}").returncode == 0
    history = envelope("history", "-c", cfg).stdout
    assert "flag dark turned on" in history and "flag new-ui turned off" in history
    database = f"sqlite+aiosqlite:///{tmp_path / 'v2' / 'ledger.db'}"
    assert "version 2" not in envelope("flags", "--database", database).stdout  # another database: nothing active


def test_help_documents_exit_codes() -> None:
    for command in ("diff", "apply", "history", "rollback", "flags"):
        out = envelope(command, "--help")
        assert out.returncode == 0 and "Exit codes" in out.stdout, command
