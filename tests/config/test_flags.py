"""The flags section: loaded and merged from files, names unique, tenants known, windows sane."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from envelope.config import loader
from envelope.config.loader import ConfigError
from tests.config.test_loader import MODEL, ROUTES


def test_flags_merge_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(MODEL + ROUTES + "flags:\n  - name: one\n")
    (tmp_path / "b.yaml").write_text(
        "flags:\n  - {name: two, enabled: false, activate_at: 2030-01-01 09:30:00, tenants: [acme]}\n"
    )
    config = loader.load(tmp_path)
    one, two = config.flags
    assert (one.name, one.enabled, one.activate_at, one.tenants) == ("one", True, None, None)
    assert (two.enabled, two.tenants) == (False, ["acme"])
    assert two.activate_at == datetime(2030, 1, 1, 9, 30, tzinfo=UTC)  # YAML timestamp without a zone: UTC


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ("  - name: x\n  - name: x\n", "flag 'x' is declared twice"),
        ("  - {name: x, tenants: [ghost]}\n", "flag 'x' names unknown tenant 'ghost'"),
        (
            "  - {name: x, activate_at: '2030-01-02T00:00:00Z', deactivate_at: '2030-01-01T00:00:00Z'}\n",
            "deactivate_at must be after activate_at",
        ),
        ("  - {name: x, colour: red}\n", "flags[0].colour: unknown field"),
        ("  - {name: x, activate_at: someday}\n", "flags[0].activate_at"),
    ],
)
def test_bad_flags_are_refused(tmp_path: Path, flags: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(MODEL + ROUTES + "flags:\n" + flags)
    with pytest.raises(ConfigError) as caught:
        loader.load(path)
    assert message in str(caught.value)
