"""What a golden file may say: items and their checks, as pydantic documents.

Unknown fields are rejected and every check names exactly one scorer, so a typo
(`contain:`) is an error naming the field, never a check silently skipped. Patterns,
JSON schemas and `response_format`s are compiled here, at load time, so a bad one
stops the run before any request is sent.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from envelope.config.base import Document
from envelope.config.documents import Intent
from envelope.guardrails.schema import AnswerSchema, SchemaError

# A check's scorer is the one of these keys it has.
Scorer = Literal["exact", "contains", "regex", "json_schema", "similar_to", "grounded", "judge"]
SCORERS: tuple[Scorer, ...] = get_args(Scorer)


class _Check(Document):
    scorer: ClassVar[Scorer]
    weight: float = Field(default=1.0, gt=0, description="Share of this check in the item's score")


class ExactCheck(_Check):
    """The whole answer (ends stripped) equals the text."""

    scorer: ClassVar[Scorer] = "exact"

    exact: str
    case_sensitive: bool = True


class ContainsCheck(_Check):
    """Every given text appears in the answer; scores the share found."""

    scorer: ClassVar[Scorer] = "contains"

    contains: str | list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)
    case_sensitive: bool = False

    @property
    def needles(self) -> tuple[str, ...]:
        return (self.contains,) if isinstance(self.contains, str) else tuple(self.contains)


class RegexCheck(_Check):
    """The pattern matches somewhere in the answer (`re.search`; inline flags such as `(?i)` work)."""

    scorer: ClassVar[Scorer] = "regex"

    regex: str = Field(min_length=1)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value


class JsonSchemaCheck(_Check):
    """The answer is JSON (whole, one fenced block, or its outermost {...}) valid for the schema."""

    scorer: ClassVar[Scorer] = "json_schema"

    json_schema: dict[str, Any]

    @field_validator("json_schema")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            AnswerSchema("golden", value)
        except SchemaError as exc:
            raise ValueError(str(exc).replace("response_format.json_schema.schema", "the schema")) from exc
        return value


class SimilarityCheck(_Check):
    """Cosine similarity of the answer's and the reference's MiniLM embeddings."""

    scorer: ClassVar[Scorer] = "similar_to"

    similar_to: str = Field(min_length=1)
    min_similarity: float = Field(default=0.7, ge=0, le=1)


class GroundedCheck(_Check):
    """The share of the answer's claims supported by the item's `context` (guardrails/grounding.py)."""

    scorer: ClassVar[Scorer] = "grounded"

    grounded: Literal[True]
    min_score: float = Field(default=0.5, ge=0, le=1, description="Least share of supported claims")
    support: float = Field(default=0.5, gt=0, le=1, description="Least cosine similarity that supports a claim")


class JudgeCheck(_Check):
    """An LLM, asked through the gateway, grades the answer 1–5 against the rubric."""

    scorer: ClassVar[Scorer] = "judge"

    judge: str = Field(min_length=1)
    min_grade: int = Field(default=4, ge=1, le=5)


def _scorer_of(value: Any) -> str | None:
    if isinstance(value, dict):
        named = [key for key in SCORERS if key in value]
        return named[0] if len(named) == 1 else None
    found: str | None = getattr(value, "scorer", None)
    return found


Check = Annotated[
    Annotated[ExactCheck, Tag("exact")]
    | Annotated[ContainsCheck, Tag("contains")]
    | Annotated[RegexCheck, Tag("regex")]
    | Annotated[JsonSchemaCheck, Tag("json_schema")]
    | Annotated[SimilarityCheck, Tag("similar_to")]
    | Annotated[GroundedCheck, Tag("grounded")]
    | Annotated[JudgeCheck, Tag("judge")],
    Discriminator(
        _scorer_of,
        custom_error_type="scorer",
        custom_error_message=f"a check names exactly one scorer ({', '.join(SCORERS)})",
    ),
]


class MessageDoc(Document):
    """An OpenAI chat message."""

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]]
    name: str | None = None
    tool_call_id: str | None = None


class GoldenItemDoc(Document):
    """One golden item: a request and what its answer must show."""

    id: str = Field(min_length=1, max_length=200, pattern=r"^[\w.:/@+-]+$")
    intent: Intent | None = Field(default=None, description="Default: the file's intent")
    messages: list[MessageDoc] | None = Field(default=None, min_length=1)
    prompt: str | None = Field(default=None, min_length=1, description="Shorthand for one user message")
    route: str | None = Field(default=None, description="Sent as x-envelope-route; default: --route")
    model: str | None = Field(default=None, description="Default: --model, else auto")
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2, description="Default: --temperature")
    response_format: dict[str, Any] | None = None
    context: str | list[str] | None = Field(default=None, description="Reference passages for `grounded`")
    expect: list[Check] = Field(min_length=1)

    @field_validator("response_format")
    @classmethod
    def _valid_format(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        try:
            AnswerSchema.from_response_format(value)
        except SchemaError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @model_validator(mode="after")
    def _consistent(self) -> GoldenItemDoc:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("give exactly one of `messages` and `prompt`")
        if any(isinstance(check, GroundedCheck) for check in self.expect) and not self.passages:
            raise ValueError("a `grounded` check needs the item's `context`")
        return self

    @property
    def passages(self) -> tuple[str, ...]:
        if self.context is None:
            return ()
        found = (self.context,) if isinstance(self.context, str) else tuple(self.context)
        return tuple(p for p in found if p.strip())


class GoldenHeaderDoc(Document):
    """The top of a golden file: its intent, for the items that do not name one."""

    intent: Intent | None = None
    description: str | None = None


TAGS = frozenset(SCORERS)
