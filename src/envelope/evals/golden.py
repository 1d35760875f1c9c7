"""Golden sets: loading YAML and JSONL files of items into frozen `GoldenItem`s.

A YAML file is either a list of items or a mapping `{intent, description, items}`;
a JSONL file holds one item a line, optionally after a header line
`{"intent": "faq"}`. An item without an `intent` takes its file's. A path may be a
directory: its `*.yaml`, `*.yml` and `*.jsonl` files, in name order.

Every problem is a `GoldenError` naming the file, the line, the item and the field
(`faq.yaml:12: item 'capital-fr': expect[0].contains: unknown field`), and every
problem of a file is reported, not only the first. Item ids are unique across all
files loaded together: the baseline compares items by id.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from envelope.config.documents import Intent
from envelope.config.loader import StrictLoader
from envelope.evals.documents import TAGS, Check, GoldenHeaderDoc, GoldenItemDoc

SUFFIXES = (".yaml", ".yml", ".jsonl")


class GoldenError(Exception):
    """Golden files that cannot be run; the message names every problem's file, line and field."""


@dataclass(frozen=True, slots=True)
class GoldenItem:
    """A loaded golden item: the request to send and the checks its answer must pass."""

    id: str
    intent: Intent
    messages: tuple[dict[str, Any], ...]
    checks: tuple[Check, ...]
    file: str
    line: int
    route: str | None = None
    model: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    response_format: dict[str, Any] | None = None
    context: tuple[str, ...] = ()


def load(paths: Sequence[str | Path]) -> list[GoldenItem]:
    """The items of every golden file under `paths`, in order; raises GoldenError."""
    files = _files(paths)
    problems: list[str] = []
    items: list[GoldenItem] = []
    for file in files:
        try:
            items.extend(load_file(file))
        except GoldenError as exc:
            problems.append(str(exc))
    seen: dict[str, GoldenItem] = {}
    for item in items:
        first = seen.setdefault(item.id, item)
        if first is not item:
            problems.append(f"{item.file}:{item.line}: item '{item.id}': id already used at {first.file}:{first.line}")
    if problems:
        raise GoldenError("\n".join(problems))
    if not items:
        raise GoldenError(f"no golden items in {', '.join(str(p) for p in paths)}")
    return items


def load_file(path: Path) -> list[GoldenItem]:
    """The items of one YAML or JSONL golden file; raises GoldenError."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GoldenError(f"{path}: cannot read: {exc}") from exc
    header, raw = _jsonl(path, text) if path.suffix == ".jsonl" else _yaml(path, text)
    problems: list[str] = []
    items: list[GoldenItem] = []
    for line, value in raw:
        try:
            items.append(_item(path, line, value, header))
        except GoldenError as exc:
            problems.append(str(exc))
    if problems:
        raise GoldenError("\n".join(problems))
    return items


def _files(paths: Sequence[str | Path]) -> list[Path]:
    if not paths:
        raise GoldenError("no golden files given")
    files: list[Path] = []
    for given in map(Path, paths):
        if given.is_dir():
            found = sorted(p for p in given.iterdir() if p.suffix in SUFFIXES and p.is_file())
            if not found:
                raise GoldenError(f"{given}: no {', '.join('*' + s for s in SUFFIXES)} files in this directory")
            files.extend(found)
        elif given.is_file():
            if given.suffix not in SUFFIXES:
                raise GoldenError(f"{given}: a golden file ends in {', '.join(SUFFIXES)}")
            files.append(given)
        else:
            raise GoldenError(f"{given}: no such file or directory")
    return files


def _item(path: Path, line: int, value: Any, header: GoldenHeaderDoc) -> GoldenItem:
    name = value.get("id") if isinstance(value, dict) else None
    where = f"{path}:{line}: item '{name}'" if isinstance(name, str) else f"{path}:{line}: item"
    if not isinstance(value, dict):
        raise GoldenError(f"{where}: an item is a mapping of fields, not {type(value).__name__}")
    try:
        doc = GoldenItemDoc.model_validate(value)
    except ValidationError as exc:
        raise GoldenError(_describe(where, exc)) from exc
    intent = doc.intent or header.intent
    if intent is None:
        raise GoldenError(f"{where}: intent: missing (name it on the item or at the top of the file)")
    if doc.messages is not None:
        messages = tuple(m.model_dump(exclude_none=True) for m in doc.messages)
    else:
        messages = ({"role": "user", "content": doc.prompt},)
    return GoldenItem(
        id=doc.id,
        intent=intent,
        messages=messages,
        checks=tuple(doc.expect),
        file=str(path),
        line=line,
        route=doc.route,
        model=doc.model,
        max_tokens=doc.max_tokens,
        temperature=doc.temperature,
        response_format=doc.response_format,
        context=doc.passages,
    )


def _describe(where: str, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        field = _location(err["loc"])
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        elif err["type"] == "missing":
            message = "missing"
        else:
            message = err["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {field}: {message}" if field else f"{where}: {message}")
    return "\n".join(lines)


def _location(loc: Iterable[int | str]) -> str:
    out = ""
    after_index = False
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif after_index and part in TAGS:
            pass  # the check's scorer tag: the path names the field without it
        else:
            out += f".{part}" if out else str(part)
        after_index = isinstance(part, int)
    return out


# --- YAML and JSONL --------------------------------------------------------------


def _yaml(path: Path, text: str) -> tuple[GoldenHeaderDoc, list[tuple[int, Any]]]:
    """The file's header and its items, each with the line it starts on."""
    stream = io.StringIO(text)
    stream.name = str(path)  # YAML's messages name the stream: the file, not "<unicode string>"
    loader = StrictLoader(stream)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise GoldenError(f"{path}: not valid YAML: {exc}") from exc
    finally:
        loader.dispose()
    if isinstance(data, list) and isinstance(node, yaml.SequenceNode):
        return GoldenHeaderDoc(), _lines(node, data)
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise GoldenError(f"{path}: the top level must be a list of items or a mapping with `items`")
    top = {key: value for key, value in data.items() if key != "items"}
    try:
        header = GoldenHeaderDoc.model_validate(top)
    except ValidationError as exc:
        raise GoldenError(_describe(f"{path}:1", exc)) from exc
    items = data.get("items")
    items_node = next((v for k, v in node.value if k.value == "items"), None)
    if not isinstance(items, list) or not isinstance(items_node, yaml.SequenceNode):
        raise GoldenError(f"{path}: items: a list of items is required")
    return header, _lines(items_node, items)


def _lines(node: yaml.SequenceNode, values: list[Any]) -> list[tuple[int, Any]]:
    return [(child.start_mark.line + 1, value) for child, value in zip(node.value, values, strict=True)]


def _jsonl(path: Path, text: str) -> tuple[GoldenHeaderDoc, list[tuple[int, Any]]]:
    header = GoldenHeaderDoc()
    items: list[tuple[int, Any]] = []
    seen_first = False
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise GoldenError(f"{path}:{number}: not valid JSON: {exc.msg} (column {exc.colno})") from exc
        first, seen_first = not seen_first, True
        if first and isinstance(value, dict) and "id" not in value and set(value) <= {"intent", "description"}:
            try:
                header = GoldenHeaderDoc.model_validate(value)
            except ValidationError as exc:
                raise GoldenError(_describe(f"{path}:{number}", exc)) from exc
            continue
        items.append((number, value))
    return header, items
