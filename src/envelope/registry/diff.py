"""What changed between two versions of the documents, per kind and name, down to the
field (pure). `lines` renders it for people (`+` added, `-` removed, `~` changed),
`summary` for the audit log; both are empty when nothing changed.

    ~ routes.default.latency.p95_ms: 800 → 600
    + flags.beta
    ~ models order: ["a","b"] → ["b","a"]

Lists of named documents inside a document (deployments, rules) are compared by name
too (`deployments[d1].timeout_s`); their order is reported when it alone changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from envelope.registry.documents import KINDS, Documents, Kind

Op = Literal["added", "removed", "changed"]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()  # a field or document absent on one side


@dataclass(frozen=True, slots=True)
class FieldChange:
    path: str  # inside the document, e.g. "latency.p95_ms"; "order" for a reordering
    old: Any  # JSON value, or MISSING
    new: Any


@dataclass(frozen=True, slots=True)
class Change:
    kind: Kind
    name: str  # the document's name; "" for the order of a kind's documents
    op: Op
    fields: tuple[FieldChange, ...] = ()
    document: Any = None  # added: the new document; removed: the old one


@dataclass(frozen=True, slots=True)
class Line:
    op: Op
    text: str


def diff(old: Documents, new: Documents) -> list[Change]:
    """Documents added, removed and changed from `old` to `new`, kind by kind."""
    changes: list[Change] = []
    for kind in KINDS:
        before, after = old.named(kind), new.named(kind)
        for name in [*before, *(n for n in after if n not in before)]:
            if name not in after:
                changes.append(Change(kind, name, "removed", document=before[name]))
            elif name not in before:
                changes.append(Change(kind, name, "added", document=after[name]))
            elif before[name] != after[name]:
                changes.append(Change(kind, name, "changed", tuple(_fields(before[name], after[name], ""))))
        order = _order_change([*before], [*after])
        if order is not None:
            changes.append(Change(kind, "", "changed", (order,)))
    return changes


def lines(changes: list[Change]) -> list[Line]:
    """One line per added or removed document and per changed field."""
    out: list[Line] = []
    for change in changes:
        where = f"{change.kind}.{change.name}" if change.name else change.kind
        if change.op != "changed":
            out.append(Line(change.op, f"{'+' if change.op == 'added' else '-'} {where}"))
            continue
        for f in change.fields:
            path = f"{where} order" if f.path == "order" else f"{where}.{f.path}"
            out.append(Line("changed", f"~ {path}: {show(f.old)} → {show(f.new)}"))
    return out


def summary(changes: list[Change]) -> str:
    """A short account for the audit log: documents by kind, flag switches in words."""
    parts: list[str] = []
    for kind in KINDS:
        ours = [c for c in changes if c.kind == kind]
        if not ours:
            continue
        if kind == "flags":
            parts.extend(_flag_words(c) for c in ours)
        else:
            parts.append(f"{kind}: " + " ".join(_mark(c) for c in ours))
    return "; ".join(parts)


def show(value: Any, limit: int = 120) -> str:
    """A JSON value as a diff shows it: 800.0 as 800, strings quoted, long values cut."""
    if value is MISSING:
        return "(none)"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fields(old: Any, new: Any, path: str) -> Iterator[FieldChange]:
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys()):
            yield from _fields(old.get(key, MISSING), new.get(key, MISSING), f"{path}.{key}" if path else key)
    elif _named_list(old) and _named_list(new):
        before = {d["name"]: d for d in old}
        after = {d["name"]: d for d in new}
        for name in [*before, *(n for n in after if n not in before)]:
            yield from _fields(before.get(name, MISSING), after.get(name, MISSING), f"{path}[{name}]")
        order = _order_change([*before], [*after])
        if order is not None:
            yield FieldChange(f"{path} order", order.old, order.new)
    else:
        yield FieldChange(path, old, new)


def _named_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(d, dict) and isinstance(d.get("name"), str) for d in value)


def _order_change(before: list[str], after: list[str]) -> FieldChange | None:
    """The order of the names on both sides, if it differs (additions and removals aside)."""
    common = set(before) & set(after)
    old = [n for n in before if n in common]
    new = [n for n in after if n in common]
    return FieldChange("order", old, new) if old != new else None


def _mark(change: Change) -> str:
    if change.op == "added":
        return f"+{change.name}"
    if change.op == "removed":
        return f"-{change.name}"
    if not change.name:
        return "~(order)"
    paths = [f.path for f in change.fields]
    shown = ", ".join(paths[:3]) + (f", +{len(paths) - 3} more" if len(paths) > 3 else "")
    return f"~{change.name}({shown})"


_FLAG_TIMES = ("activate_at", "deactivate_at", "tenants")


def _flag_words(change: Change) -> str:
    """Flag changes as people ask about them: turned on or off, and when."""
    name = f"flag {change.name}"
    if change.op == "removed":
        return f"{name} removed (off)"
    if change.op == "added":
        doc = change.document or {}
        when = f", activate_at {show(doc['activate_at'])}" if doc.get("activate_at") else ""
        return f"{name} added ({'on' if doc.get('enabled', True) else 'off'}{when})"
    words: list[str] = []
    for f in sorted(change.fields, key=lambda f: f.path != "enabled"):  # the switch first
        if f.path == "enabled":
            words.append("turned on" if f.new else "turned off")
        elif f.path in _FLAG_TIMES:
            words.append(f"{f.path} {show(f.old)} → {show(f.new)}")
        else:
            words.append(f"{f.path} changed")
    return f"{name} " + ", ".join(words)
