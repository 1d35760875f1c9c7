"""OpenAI wire types, decoded with msgspec.

A request body is decoded once into a plain dict (so unknown fields such as `tools`
or `response_format` are relayed untouched) and then checked against the typed view
below, which names only the fields Envelope reasons about. Upstream answers are read
through equally narrow views: the bytes are relayed, only usage and content are read.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from envelope.errors import InvalidRequest

# Upper bound on any token count a client may ask for; above it the value is absurd.
MAX_TOKENS_LIMIT = 1_000_000


class Message(msgspec.Struct, forbid_unknown_fields=False):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None


class StreamOptions(msgspec.Struct, forbid_unknown_fields=False):
    include_usage: bool = False


class ChatRequest(msgspec.Struct, forbid_unknown_fields=False):
    model: str
    messages: list[Message]
    stream: bool = False
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    stream_options: StreamOptions | None = None
    n: int = 1
    temperature: float | None = None
    top_p: float | None = None


class EmbeddingRequest(msgspec.Struct, forbid_unknown_fields=False):
    model: str
    input: str | list[Any]  # strings, or token ids: see `embedding_inputs`


class Usage(msgspec.Struct, forbid_unknown_fields=False):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class _ChoiceMessage(msgspec.Struct, forbid_unknown_fields=False):
    content: str | None = None


class _Choice(msgspec.Struct, forbid_unknown_fields=False):
    message: _ChoiceMessage | None = None
    finish_reason: str | None = None


class CompletionView(msgspec.Struct, forbid_unknown_fields=False):
    """What Envelope reads of a non-streaming chat completion."""

    choices: list[_Choice] = []
    usage: Usage | None = None
    model: str | None = None


class _Delta(msgspec.Struct, forbid_unknown_fields=False):
    content: str | None = None


class _ChunkChoice(msgspec.Struct, forbid_unknown_fields=False):
    delta: _Delta | None = None
    finish_reason: str | None = None


class ChunkView(msgspec.Struct, forbid_unknown_fields=False):
    """What Envelope reads of one streamed chat completion chunk."""

    id: str | None = None
    model: str | None = None
    created: int | None = None
    choices: list[_ChunkChoice] = []
    usage: Usage | None = None
    error: dict[str, Any] | None = None


class EmbeddingUsage(msgspec.Struct, forbid_unknown_fields=False):
    prompt_tokens: int = 0
    total_tokens: int = 0


class EmbeddingView(msgspec.Struct, forbid_unknown_fields=False):
    usage: EmbeddingUsage | None = None


_decoder = msgspec.json.Decoder()


def decode_object(body: bytes) -> dict[str, Any]:
    """Decode a JSON request body that must be an object; 400 on anything else."""
    try:
        raw = _decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"Request body is not valid JSON: {exc}", code="invalid_json") from exc
    except UnicodeDecodeError as exc:
        raise InvalidRequest(
            f"Request body is not valid UTF-8: {exc.reason} at byte {exc.start}.", code="invalid_utf8"
        ) from exc
    if not isinstance(raw, dict):
        raise InvalidRequest("Request body must be a JSON object.", code="invalid_json")
    return raw


def convert(raw: dict[str, Any], kind: type[msgspec.Struct]) -> Any:
    """Check a decoded body against a typed view; name the offending field on failure."""
    try:
        return msgspec.convert(raw, kind)
    except msgspec.ValidationError as exc:
        text = str(exc)
        param = text.rsplit("at `$.", 1)[-1].rstrip("`") if "at `$." in text else None
        raise InvalidRequest(f"Invalid request: {text}", param=param, code="invalid_value") from exc


def message_text(message: Message) -> str:
    """The text a message carries, concatenating text parts of multi-part content."""
    content = message.content
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(str(p.get("text", "")) for p in content if p.get("type") == "text")


def embedding_inputs(value: str | list[Any]) -> list[str] | list[list[int]]:
    """Normalise `input` to a list of strings or a list of token-id lists; 400 otherwise."""
    if isinstance(value, str):
        return [value]
    if all(isinstance(v, str) for v in value):
        return list(value)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return [list(value)]
    if all(isinstance(v, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in v) for v in value):
        return [list(v) for v in value]
    raise InvalidRequest(
        "'input' must be a string, a list of strings, a list of token ids, or a list of such lists.",
        param="input",
        code="invalid_value",
    )
