"""Load a config set from YAML, in two phases: each file on its own, then the whole.

A config path is a YAML file or a directory of `*.yaml`/`*.yml` files. Each file is
validated alone (so an error names its file and field), then the sections are merged
and cross-checked (names unique, references resolve).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from envelope.config.documents import TAGGED, ConfigFile, ConfigSet, GatewayDoc

ENV_CONFIG = "ENVELOPE_CONFIG"


class ConfigError(Exception):
    """A config set that cannot be activated; the message names the file and field."""


def sample_config_path() -> Path:
    """The sample config that ships with Envelope: the local model behind one route."""
    return Path(str(resources.files("envelope").joinpath("sample/envelope.yaml")))


def load(path: str | Path) -> ConfigSet:
    root = Path(path)
    if root.is_dir():
        files = sorted([*root.glob("*.yaml"), *root.glob("*.yml")])
        if not files:
            raise ConfigError(f"{root}: no *.yaml files in this directory")
    elif root.is_file():
        files = [root]
    else:
        raise ConfigError(f"{root}: no such file or directory")
    parts = [(f, _load_file(f)) for f in files]
    return _merge(parts)


class StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice in one mapping (YAML would keep the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_mapping(path: Path, error: type[Exception], top: str) -> dict[str, Any]:
    """A YAML file's top level, a mapping (`top` says of what; an empty file is an empty
    one); `error` with the file and the reason when it cannot be read as one."""
    try:
        raw: Any = yaml.load(path.read_text(encoding="utf-8"), Loader=StrictLoader)
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise error(f"{path}: not valid YAML: {exc}") from exc
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise error(f"{path}: the top level must be a mapping of {top}")
    return raw


def _load_file(path: Path) -> ConfigFile:
    raw = read_mapping(path, ConfigError, "sections")
    try:
        return ConfigFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe_errors(path, exc)) from exc


def _merge(parts: list[tuple[Path, ConfigFile]]) -> ConfigSet:
    gateways = [(p, f.gateway) for p, f in parts if f.gateway is not None]
    if len(gateways) > 1:
        names = ", ".join(str(p) for p, _ in gateways)
        raise ConfigError(f"the gateway section appears in more than one file: {names}")
    gateway = gateways[0][1] if gateways else GatewayDoc()
    files = ", ".join(str(p) for p, _ in parts)
    try:
        return ConfigSet(
            gateway=gateway,
            models=[m for _, f in parts for m in f.models],
            routes=[r for _, f in parts for r in f.routes],
            tenants=[t for _, f in parts for t in f.tenants],
            policies=[p for _, f in parts for p in f.policies],
            flags=[flag for _, f in parts for flag in f.flags],
        )
    except ValidationError as exc:
        raise ConfigError(describe_errors(Path(files), exc)) from exc


def describe_errors(path: Path, exc: ValidationError) -> str:
    """One line per problem: the file, the field's path (`models[0].name`) and what is wrong."""
    lines = []
    for err in exc.errors():
        where = _location(err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(f"{path}: {where}: unknown field")
        else:
            lines.append(f"{path}: {where}: {err['msg']}" if where else f"{path}: {err['msg']}")
    return "\n".join(lines)


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in TAGGED:
            continue  # the discriminator's branch name; the field path says enough
        else:
            out += f".{part}" if out else str(part)
    return out
