"""Guard input: PII in a chat request, before anything reads or keeps its text, and the
answer's JSON schema, checked before the upstream is asked.

On routes with `guards.pii`, every message's text is searched (`guardrails/pii.py`:
Presidio's pattern recognizers with validators). What is found is, per the route's
`guards.pii.input`:

    redact  replaced by `<ENTITY>` (e.g. `<EMAIL_ADDRESS>`) in the request the cache keys,
            the classifier reads and the upstream gets — the original text is dropped here;
    block   refused: 400 `pii_detected`, naming the entity kinds (never the values);
    allow   passed on unredacted; the request is then kept out of the cache (`bypass`), so
            nothing stored holds it.

A `response_format` of type json_schema or json_object on a route with
`guards.schema` is compiled here (a malformed schema is a 400 before any upstream
call); the output guard validates the answer against it.

It runs right after bind, before the cache and the classifier.
"""

from __future__ import annotations

import time
from typing import Any

from envelope.config.documents import PiiGuardDoc
from envelope.errors import InvalidRequest
from envelope.guardrails.pii import PiiDetector, redact
from envelope.guardrails.schema import AnswerSchema, SchemaError
from envelope.pipeline.context import RequestContext


class Detectors:
    """One detector per distinct (entities, threshold) the routes ask for, built once."""

    def __init__(self) -> None:
        self._built: dict[tuple[tuple[str, ...] | None, float], PiiDetector] = {}

    def get(self, doc: PiiGuardDoc) -> PiiDetector:
        key = (tuple(doc.entities) if doc.entities is not None else None, doc.threshold)
        detector = self._built.get(key)
        if detector is None:
            detector = self._built[key] = PiiDetector(doc.entities, threshold=doc.threshold)
        return detector


class GuardInput:
    name = "guard_input"

    def __init__(self, detectors: Detectors) -> None:
        self._detectors = detectors

    async def run(self, ctx: RequestContext) -> None:
        route = ctx.route
        assert route is not None
        if route.guards.schema_ is not None and ctx.raw.get("response_format") is not None:
            try:
                ctx.guard().schema = AnswerSchema.from_response_format(ctx.raw["response_format"])
            except SchemaError as exc:
                raise InvalidRequest(str(exc), param="response_format", code="invalid_schema") from exc
        doc = route.guards.pii
        if doc is None or ctx.chat is None:
            return
        started = time.perf_counter()
        detector = self._detectors.get(doc)
        found: set[str] = set()
        messages = [_redacted(m, detector, found) for m in ctx.raw["messages"]]
        guard = ctx.guard()
        guard.ms += (time.perf_counter() - started) * 1000.0
        if not found:
            return
        guard.entities |= found
        guard.events.append(f"pii_input:{doc.input}")
        if doc.input == "block":
            raise InvalidRequest(
                f"The request holds personal data this route does not accept ({', '.join(sorted(found))}).",
                param="messages",
                code="pii_detected",
            )
        if doc.input == "redact":
            ctx.replace_messages(messages)
        else:
            guard.pii_passed = True
            if ctx.cache != "off":
                ctx.cache = "bypass"


def _redacted(message: Any, detector: PiiDetector, found: set[str]) -> Any:
    if not isinstance(message, dict):
        return message
    content = message.get("content")
    if isinstance(content, str):
        return {**message, "content": _clean(content, detector, found)}
    if isinstance(content, list):
        parts = [
            {**part, "text": _clean(part["text"], detector, found)}
            if isinstance(part, dict) and isinstance(part.get("text"), str)
            else part
            for part in content
        ]
        return {**message, "content": parts}
    return message


def _clean(text: str, detector: PiiDetector, found: set[str]) -> str:
    findings = detector.find(text)
    if not findings:
        return text
    found.update(f.entity for f in findings)
    return redact(text, findings)
