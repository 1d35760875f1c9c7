"""Structured-output guardrail: does an answer match the client's JSON schema?

Reads OpenAI's `response_format` (`{"type": "json_schema", "json_schema": {"name",
"schema", "strict", "description"}}` or `{"type": "json_object"}`), validates the
answer with a JSON Schema Draft 2020-12 validator (or the draft a schema names in
`$schema`), and words a re-ask message when it does not match. Remote `$ref`s are
never fetched: a client-supplied schema must not make the gateway open URLs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import referencing
import referencing.exceptions
from jsonschema import exceptions as jsonschema_exceptions
from jsonschema import validators
from jsonschema.protocols import Validator

MAX_PROBLEMS = 5
_CACHE_SIZE = 256
_MESSAGE_CHARS = 160
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_JSON_SCHEMA_KEYS = frozenset({"name", "schema", "strict", "description"})
_FENCE = re.compile(r"```[ \t]*(?:json[c5]?)?[ \t]*\n(.*?)\n[ \t]*```", re.DOTALL | re.IGNORECASE)
_ANY_OBJECT: Mapping[str, Any] = MappingProxyType({"type": "object"})


class SchemaError(ValueError):
    """The client's `response_format` or its schema is invalid (answer with a 400)."""


@dataclass(frozen=True)
class AnswerCheck:
    """The outcome of checking one answer: the parsed value and what is wrong with it."""

    ok: bool
    value: Any
    problems: tuple[str, ...]


class AnswerSchema:
    """A compiled answer schema, built once per request from its `response_format`."""

    # Many requests carry the same schema; compiling (and checking) it once saves
    # more than the validation itself costs. Bounded, least recently used goes first.
    _compiled: ClassVar[dict[str, Validator]] = {}

    __slots__ = ("_validator", "name", "schema", "strict")

    def __init__(self, name: str, schema: Mapping[str, Any], *, strict: bool = False) -> None:
        """Compile `schema`; raises SchemaError when it is not a valid JSON Schema."""
        self.name = name
        self.schema = schema
        self.strict = strict
        self._validator = _compile(schema, AnswerSchema._compiled)

    @classmethod
    def from_response_format(cls, response_format: Mapping[str, Any] | None) -> AnswerSchema | None:
        """The schema an OpenAI `response_format` asks for; None for plain text.

        Raises SchemaError, with a message naming the bad field, when the
        `response_format` is malformed or its schema fails the meta-schema.
        """
        if response_format is None:
            return None
        if not isinstance(response_format, Mapping):
            raise SchemaError("response_format must be an object")
        kind = response_format.get("type")
        if kind is None or kind == "text":
            return None
        if kind == "json_object":
            return cls("json_object", _ANY_OBJECT)
        if kind != "json_schema":
            raise SchemaError("response_format.type must be one of 'text', 'json_object', 'json_schema'")
        spec = response_format.get("json_schema")
        if not isinstance(spec, Mapping):
            raise SchemaError("response_format.json_schema must be an object")
        unknown = sorted(set(spec) - _JSON_SCHEMA_KEYS)
        if unknown:
            raise SchemaError(f"response_format.json_schema has unknown field(s): {', '.join(unknown)}")
        name = spec.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise SchemaError("response_format.json_schema.name must be 1-64 letters, digits, '_' or '-'")
        strict = spec.get("strict", False)
        if not isinstance(strict, bool):
            raise SchemaError("response_format.json_schema.strict must be a boolean")
        schema = spec.get("schema", {})
        if not isinstance(schema, Mapping):
            raise SchemaError("response_format.json_schema.schema must be an object")
        return cls(name, schema, strict=strict)

    def check(self, answer: str) -> AnswerCheck:
        """Parse `answer` as JSON and validate it; problems carry JSON paths (at most 5)."""
        try:
            value = _parse(answer)
        except ValueError as error:
            return AnswerCheck(False, None, (f"the answer is not valid JSON ({_shorten(str(error))})",))
        try:
            errors = list(self._validator.iter_errors(value))
        except referencing.exceptions.Unresolvable as error:
            # Only reachable with a $ref to something the schema does not contain.
            return AnswerCheck(False, value, (f"the schema has an unresolvable $ref: {_shorten(str(error))}",))
        problems = tuple(_describe(error) for error in errors[:MAX_PROBLEMS])
        return AnswerCheck(not problems, value, problems)

    def reask(self, check: AnswerCheck) -> str:
        """The user message appended when asking the model again after a failed check."""
        if check.ok:
            raise ValueError("reask() needs a failed check")
        target = "a valid JSON object" if self.schema is _ANY_OBJECT else f"valid JSON for the schema '{self.name}'"
        return (
            f"Your previous answer was not {target}: {'; '.join(check.problems)}. "
            "Answer again with only JSON matching the schema."
        )


def _compile(schema: Mapping[str, Any], cache: dict[str, Validator]) -> Validator:
    try:
        key = json.dumps(schema, sort_keys=True, separators=(",", ":"), allow_nan=False, default=_plain)
    except (TypeError, ValueError) as error:
        raise SchemaError(f"response_format.json_schema.schema is not JSON: {error}") from error
    compiled = cache.pop(key, None)
    if compiled is None:
        plain = json.loads(key)  # a private copy in plain dicts: later edits by the caller cannot reach it
        kind = validators.validator_for(plain, default=validators.Draft202012Validator)
        try:
            kind.check_schema(plain)
        except jsonschema_exceptions.SchemaError as error:
            where = error.json_path.replace("$", "schema", 1)
            raise SchemaError(f"response_format.json_schema.schema is invalid at {where}: {error.message}") from error
        # An empty registry: unknown (remote) references fail instead of being fetched.
        compiled = kind(plain, registry=referencing.Registry(), format_checker=kind.FORMAT_CHECKER)
        while len(cache) >= _CACHE_SIZE:
            del cache[next(iter(cache))]
    cache[key] = compiled  # re-inserted last: the dict's order is the recency order
    return compiled


def _plain(value: object) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _parse(answer: str) -> Any:
    """The whole answer as JSON, else its one fenced block, else its outermost {...}/[...] span."""
    text = answer.strip()
    try:
        return _loads(text)
    except ValueError as whole:
        fences = _FENCE.findall(text)
        if len(fences) == 1:
            return _loads(fences[0])
        span = _outermost(text)
        if span is None:
            raise whole from None
        return _loads(span)


def _loads(text: str) -> Any:
    # NaN and Infinity are Python extensions, not JSON.
    return json.loads(text, parse_constant=_reject_constant)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _outermost(text: str) -> str | None:
    starts = [index for index in (text.find("{"), text.find("[")) if index >= 0]
    if not starts:
        return None
    start = min(starts)
    end = text.rfind("}" if text[start] == "{" else "]")
    return text[start : end + 1] if end > start else None


def _describe(error: jsonschema_exceptions.ValidationError) -> str:
    return f"at {error.json_path}: {_shorten(error.message)}"


def _shorten(message: str) -> str:
    return message if len(message) <= _MESSAGE_CHARS else message[: _MESSAGE_CHARS - 1] + "…"
