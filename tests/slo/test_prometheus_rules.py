"""The Prometheus rules are valid and their promtool unit tests pass. promtool must be
installed (CI installs it): a missing promtool fails these tests rather than skipping."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "envelope-rules.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "envelope-rules.test.yml"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary is not None, "promtool is not installed (apt-get install prometheus, or the release tarball)"
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_rules_are_valid() -> None:
    done = promtool("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr


def test_rule_unit_tests_pass() -> None:
    done = promtool("test", "rules", str(RULE_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_runbook_section() -> None:
    rules = RULES.read_text()
    runbooks = (ROOT / "docs" / "runbooks.md").read_text()
    names = {line.split(":", 1)[1].strip() for line in rules.splitlines() if line.strip().startswith("- alert:")}
    assert len(names) == 8
    for name in names:
        assert f'<a id="{name}"></a>' in runbooks and f"## {name}" in runbooks
        assert f"docs/runbooks.md#{name}" in rules
