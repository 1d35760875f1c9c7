"""JSON-schema validation of answers against OpenAI `response_format`."""

from __future__ import annotations

from typing import Any

import pytest

from envelope.guardrails.schema import AnswerSchema, SchemaError

PERSON: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer", "minimum": 0},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}


def person(**changes: Any) -> AnswerSchema:
    spec: dict[str, Any] = {"name": "person", "schema": PERSON, "strict": True, **changes}
    schema = AnswerSchema.from_response_format({"type": "json_schema", "json_schema": spec})
    assert schema is not None
    return schema


def test_valid_answer_passes_with_its_value() -> None:
    check = person().check('{"name": "Ada", "age": 36, "tags": ["math"]}')
    assert check.ok
    assert check.problems == ()
    assert check.value == {"name": "Ada", "age": 36, "tags": ["math"]}


def test_invalid_answer_names_the_paths() -> None:
    check = person().check('{"name": "Ada", "age": -1, "tags": ["math", 7], "extra": true}')
    assert not check.ok
    assert check.value["name"] == "Ada"
    joined = " | ".join(check.problems)
    assert "at $.age:" in joined
    assert "at $.tags[1]:" in joined
    assert "'extra'" in joined


def test_missing_required_property_is_reported_at_the_root() -> None:
    check = person().check('{"name": "Ada"}')
    assert check.problems == ("at $: 'age' is a required property",)


def test_problems_are_capped_at_five() -> None:
    schema = AnswerSchema.from_response_format(
        {
            "type": "json_schema",
            "json_schema": {"name": "nums", "schema": {"type": "array", "items": {"type": "integer"}}},
        }
    )
    assert schema is not None
    check = schema.check('["a", "b", "c", "d", "e", "f", "g"]')
    assert len(check.problems) == 5
    assert check.problems[0].startswith("at $[0]:")


@pytest.mark.parametrize(
    "answer",
    [
        'Here it is:\n```json\n{"name": "Ada", "age": 36}\n```\nAnything else?',
        '```\n{"name": "Ada", "age": 36}\n```',
        'Sure! {"name": "Ada", "age": 36} is the record.',
        '  {"name": "Ada", "age": 36}\n',
    ],
)
def test_json_inside_prose_is_accepted(answer: str) -> None:
    check = person().check(answer)
    assert check.ok, check.problems
    assert check.value == {"name": "Ada", "age": 36}


@pytest.mark.parametrize("answer", ["I cannot answer that.", '{"name": "Ada", "age": 36', '{"age": NaN, "name": "x"}'])
def test_unparseable_answer_is_one_problem(answer: str) -> None:
    check = person().check(answer)
    assert not check.ok
    assert check.value is None
    assert len(check.problems) == 1
    assert check.problems[0].startswith("the answer is not valid JSON")


def test_two_fenced_blocks_are_ambiguous() -> None:
    answer = '```json\n{"name": "A", "age": 1}\n```\nor\n```json\n{"name": "B", "age": 2}\n```'
    assert not person().check(answer).ok


@pytest.mark.parametrize(
    ("response_format", "fragment"),
    [
        ({"type": "json_schema"}, "json_schema must be an object"),
        ({"type": "json_schema", "json_schema": {"schema": PERSON}}, "name"),
        ({"type": "json_schema", "json_schema": {"name": "has space", "schema": PERSON}}, "name"),
        ({"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "strin"}}}, "schema.type"),
        ({"type": "json_schema", "json_schema": {"name": "x", "schema": {"minimum": "0"}}}, "schema.minimum"),
        ({"type": "json_schema", "json_schema": {"name": "x", "schema": []}}, "must be an object"),
        ({"type": "json_schema", "json_schema": {"name": "x", "strict": "yes"}}, "strict"),
        ({"type": "json_schema", "json_schema": {"name": "x", "schemas": {}}}, "unknown field(s): schemas"),
        ({"type": "xml"}, "response_format.type"),
    ],
)
def test_malformed_response_format_is_a_schema_error(response_format: dict[str, Any], fragment: str) -> None:
    with pytest.raises(SchemaError, match="response_format") as raised:
        AnswerSchema.from_response_format(response_format)
    assert fragment in str(raised.value)


def test_schema_error_is_a_value_error() -> None:
    assert issubclass(SchemaError, ValueError)


def test_json_object_accepts_any_object_only() -> None:
    schema = AnswerSchema.from_response_format({"type": "json_object"})
    assert schema is not None
    assert schema.check('{"anything": [1, 2]}').ok
    check = schema.check("[1, 2]")
    assert not check.ok
    assert "is not of type 'object'" in check.problems[0]
    assert schema.reask(check).startswith("Your previous answer was not a valid JSON object: at $: [1, 2] is not")


@pytest.mark.parametrize("response_format", [{"type": "text"}, {}, None])
def test_text_means_no_schema(response_format: dict[str, Any] | None) -> None:
    assert AnswerSchema.from_response_format(response_format) is None


def test_reask_lists_the_problems() -> None:
    schema = person()
    check = schema.check('{"name": 5, "age": 1}')
    message = schema.reask(check)
    assert message.startswith("Your previous answer was not valid JSON for the schema 'person': ")
    assert "at $.name: 5 is not of type 'string'" in message
    assert message.endswith("Answer again with only JSON matching the schema.")
    with pytest.raises(ValueError, match="failed check"):
        schema.reask(schema.check('{"name": "x", "age": 1}'))


def test_absent_schema_accepts_any_json() -> None:
    schema = AnswerSchema.from_response_format({"type": "json_schema", "json_schema": {"name": "free"}})
    assert schema is not None
    assert schema.check("[1, 2, 3]").ok


def test_remote_refs_are_not_fetched() -> None:
    schema = AnswerSchema.from_response_format(
        {"type": "json_schema", "json_schema": {"name": "r", "schema": {"$ref": "https://example.invalid/s.json"}}}
    )
    assert schema is not None
    check = schema.check("{}")
    assert not check.ok
    assert "unresolvable $ref" in check.problems[0]


def test_local_refs_resolve() -> None:
    spec = {
        "$defs": {"id": {"type": "integer"}},
        "type": "object",
        "properties": {"id": {"$ref": "#/$defs/id"}},
    }
    schema = AnswerSchema.from_response_format({"type": "json_schema", "json_schema": {"name": "r", "schema": spec}})
    assert schema is not None
    assert schema.check('{"id": 3}').ok
    assert schema.check('{"id": "3"}').problems == ("at $.id: '3' is not of type 'integer'",)


def test_compiled_validators_are_shared_and_bounded() -> None:
    first, second = person(), person()
    assert first._validator is second._validator
    for n in range(300):
        AnswerSchema("n", {"type": "object", "maxProperties": n})
    assert len(AnswerSchema._compiled) <= 256
