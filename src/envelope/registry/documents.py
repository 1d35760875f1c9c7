"""The versioned part of a config set, in one canonical form: what the registry stores,
digests and diffs.

A config set is process settings (`gateway`: ports, database, …), which stay with the
process, plus documents (models, routes, tenants, policies, flags), which the registry
versions. The canonical form is every document dumped in full (defaults included, by
alias) as JSON with sorted keys. Routes, tenants, policies and flags are sorted by name,
so moving a document from one YAML file to another changes nothing; models keep the
config's order, because it means something (a route without a model list tries them
in that order, `catalog.by_tier`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import BaseModel, ValidationError

from envelope.config.documents import TAGGED, ConfigSet, GatewayDoc

Kind = Literal["models", "routes", "tenants", "policies", "flags"]
KINDS: tuple[Kind, ...] = get_args(Kind)
_ORDERED: frozenset[Kind] = frozenset({"models"})  # the order of these is meaningful: kept


class InvalidDocuments(Exception):
    """Documents that do not make a valid config set; `problems` has one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Documents:
    """A config set's documents, canonical. Build with `of` or `parse`, not directly."""

    text: str  # canonical JSON: what is stored and digested
    sections: Mapping[Kind, list[dict[str, Any]]]

    @classmethod
    def of(cls, config: ConfigSet) -> Documents:
        raw: dict[str, list[dict[str, Any]]] = {}
        for kind in KINDS:
            docs: list[BaseModel] = list(getattr(config, kind))
            dumped = [d.model_dump(mode="json", by_alias=True, exclude_defaults=False) for d in docs]
            raw[kind] = dumped if kind in _ORDERED else sorted(dumped, key=lambda d: str(d["name"]))
        return cls.parse(json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False))

    @classmethod
    def parse(cls, text: str) -> Documents:
        """Documents from stored JSON text (as `of` wrote it); a kind it lacks is empty."""
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise InvalidDocuments([f"stored documents: not JSON ({exc})"]) from exc
        if not isinstance(raw, dict) or not set(raw) <= set(KINDS):
            raise InvalidDocuments([f"stored documents: expected an object of {', '.join(KINDS)}"])
        sections: dict[Kind, list[dict[str, Any]]] = {}
        for kind in KINDS:
            docs = raw.get(kind, [])
            if not isinstance(docs, list) or not all(isinstance(d, dict) and "name" in d for d in docs):
                raise InvalidDocuments([f"stored documents: {kind} must be a list of named documents"])
            sections[kind] = docs
        return cls(text, sections)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def named(self, kind: Kind) -> dict[str, dict[str, Any]]:
        return {str(d["name"]): d for d in self.sections[kind]}

    def config(self, gateway: GatewayDoc) -> ConfigSet:
        """The config set these documents make with `gateway`, validated; `InvalidDocuments` if not."""
        try:
            return ConfigSet.model_validate({"gateway": gateway, **self.sections})
        except ValidationError as exc:
            raise InvalidDocuments([_problem(err) for err in exc.errors()]) from exc

    def canonical(self, gateway: GatewayDoc) -> Documents:
        """The same documents as this code's models dump them now (new fields at their defaults)."""
        return Documents.of(self.config(gateway))


EMPTY = Documents.parse("{}")


def _problem(err: Mapping[str, Any]) -> str:
    where = ""
    for part in err["loc"]:
        if isinstance(part, int):
            where += f"[{part}]"
        elif part not in TAGGED:
            where += f".{part}" if where else str(part)
    message = "unknown field" if err["type"] == "extra_forbidden" else str(err["msg"])
    return f"{where}: {message}" if where else message
