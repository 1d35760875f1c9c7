from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from envelope.config import loader
from envelope.config.loader import ConfigError

MODEL = """
models:
  - name: m1
    tier: S
    deployments:
      - name: d1
        provider: {type: openai, base_url: "http://127.0.0.1:1/v1", model: x}
"""
ROUTES = """
routes:
  - name: default
    max_output_tokens: 100
tenants:
  - name: acme
"""


def test_sample_config_loads() -> None:
    config = loader.load(loader.sample_config_path())
    assert {m.name for m in config.models} >= {"smollm2"}
    assert config.routes[0].name == "default"


def test_a_directory_merges_its_files(tmp_path: Path) -> None:
    (tmp_path / "models.yaml").write_text(MODEL)
    (tmp_path / "routes.yaml").write_text(ROUTES)
    config = loader.load(tmp_path)
    assert [m.name for m in config.models] == ["m1"]
    assert config.routes[0].max_output_tokens == 100
    assert config.tenants[0].default_route == "default"


def test_unknown_field_names_file_and_field(tmp_path: Path) -> None:
    (tmp_path / "models.yaml").write_text(MODEL.replace("model: x}", "model: x, base_ur: y}"))
    (tmp_path / "routes.yaml").write_text(ROUTES)
    with pytest.raises(ConfigError) as err:
        loader.load(tmp_path)
    text = str(err.value)
    assert "models.yaml" in text
    assert "models[0].deployments[0].provider.base_ur: unknown field" in text


def test_unknown_provider_type_is_named(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(MODEL.replace("type: openai", "type: telepathy") + ROUTES)
    with pytest.raises(ConfigError) as err:
        loader.load(path)
    assert "c.yaml" in str(err.value) and "provider" in str(err.value)


def test_cross_references_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(MODEL + ROUTES.replace("- name: acme", "- name: acme\n    default_route: nowhere"))
    with pytest.raises(ConfigError, match="unknown route 'nowhere'"):
        loader.load(path)
    (tmp_path / "c.yaml").write_text(MODEL + ROUTES)
    (tmp_path / "d.yaml").write_text(MODEL.replace("d1", "d2"))
    with pytest.raises(ConfigError, match="model 'm1' is declared twice"):
        loader.load(tmp_path)


def test_a_key_given_twice_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(MODEL + MODEL + ROUTES)
    with pytest.raises(ConfigError, match="duplicate key 'models'"):
        loader.load(path)


def test_bad_yaml_and_missing_path(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("models: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        loader.load(path)
    with pytest.raises(ConfigError, match="no such file"):
        loader.load(tmp_path / "missing.yaml")


def test_cli_validate_exit_codes(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(MODEL + ROUTES)
    bad = tmp_path / "bad.yaml"
    bad.write_text(MODEL + ROUTES + "\nsurprise: 1\n")
    cli = [sys.executable, "-m", "envelope.cli.main", "config", "validate"]
    ok = subprocess.run([*cli, str(good)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "valid" in ok.stdout
    failed = subprocess.run([*cli, str(bad)], capture_output=True, text=True)
    assert failed.returncode == 2
    assert "bad.yaml" in failed.stderr and "surprise: unknown field" in failed.stderr
