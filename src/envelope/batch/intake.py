"""Reading a batch's input file: one request per JSONL line, checked before anything runs.

A line is `{"custom_id": "...", "method": "POST", "url": "<endpoint>", "body": {...}}`.
Every problem is collected with its line number, so a client fixes the file in one go;
a file with any problem makes no batch (400 `invalid_batch_file`, the problems listed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings")
MAX_CUSTOM_ID = 512
MAX_LISTED = 20  # problems named in the error; the count says how many there were


@dataclass(frozen=True, slots=True)
class Line:
    index: int
    custom_id: str
    body: str  # the request body, re-encoded as compact JSON


@dataclass(frozen=True, slots=True)
class Problem:
    line: int  # 1-based, as editors count
    code: str
    message: str


def read(content: bytes, *, endpoint: str, max_items: int) -> tuple[list[Line], list[Problem]]:
    """The requests of an input file, or the problems that keep it from being a batch."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [], [Problem(0, "invalid_utf8", f"The file is not UTF-8 (byte {exc.start}).")]
    lines: list[Line] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        line, problem = _line(raw, number, endpoint=endpoint, index=len(lines))
        if problem is None and line is not None and line.custom_id in seen:
            problem = Problem(number, "duplicate_custom_id", f"custom_id {line.custom_id!r} is used twice.")
        if problem is not None:
            problems.append(problem)
        elif line is not None:
            seen.add(line.custom_id)
            lines.append(line)
    if not lines and not problems:
        problems.append(Problem(0, "empty_file", "The file has no requests."))
    if len(lines) > max_items:
        problems.append(Problem(0, "too_many_requests", f"The file has {len(lines)} requests; at most {max_items}."))
    return lines, problems


def _line(raw: str, number: int, *, endpoint: str, index: int) -> tuple[Line | None, Problem | None]:
    try:
        value: Any = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        return None, Problem(number, "invalid_json", f"Not valid JSON: {exc}.")
    if not isinstance(value, dict):
        return None, Problem(number, "invalid_line", "Each line must be a JSON object.")
    unknown = set(value) - {"custom_id", "method", "url", "body"}
    if unknown:
        return None, Problem(number, "invalid_line", f"Unknown fields: {', '.join(sorted(unknown))}.")
    custom_id = value.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id or len(custom_id) > MAX_CUSTOM_ID:
        return None, Problem(number, "invalid_custom_id", f"custom_id must be a string of 1-{MAX_CUSTOM_ID} chars.")
    if value.get("method") != "POST":
        return None, Problem(number, "invalid_method", "method must be POST.")
    if value.get("url") != endpoint:
        return None, Problem(number, "mismatched_url", f"url must be the batch's endpoint {endpoint}.")
    body = value.get("body")
    if not isinstance(body, dict):
        return None, Problem(number, "invalid_body", "body must be a JSON object.")
    if body.get("stream"):
        return None, Problem(number, "invalid_body", "Batch requests cannot stream.")
    return Line(index, custom_id, msgspec.json.encode(body).decode()), None


def describe(problems: list[Problem]) -> str:
    """One message naming the first problems and how many there were."""
    shown = " ".join(f"line {p.line}: {p.message}" if p.line else p.message for p in problems[:MAX_LISTED])
    more = f" (and {len(problems) - MAX_LISTED} more)" if len(problems) > MAX_LISTED else ""
    return f"The input file has {len(problems)} problem(s): {shown}{more}"
