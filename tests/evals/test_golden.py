"""Golden files: both formats load; every bad file is an error naming file, line, item and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envelope.evals import golden
from envelope.evals.documents import ContainsCheck, GroundedCheck, JudgeCheck, RegexCheck, SimilarityCheck
from envelope.evals.golden import GoldenError

SAMPLES = Path(golden.__file__).parent.parent / "sample" / "golden"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(*paths: Path) -> str:
    with pytest.raises(GoldenError) as caught:
        golden.load(list(paths))
    return str(caught.value)


def test_yaml_mapping_form_with_file_intent(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "faq.yaml",
        """intent: faq
items:
  - id: capital
    prompt: What is the capital of France?
    expect:
      - contains: [Paris, France]
        case_sensitive: true
      - similar_to: Paris is the capital.
        min_similarity: 0.5
        weight: 2
  - id: judged
    intent: legal
    route: strict
    model: m
    max_tokens: 20
    temperature: 0
    messages:
      - {role: system, content: Be brief.}
      - {role: user, content: 'What is a contract?'}
    context: [A contract is an agreement.]
    expect:
      - judge: Explains that a contract is an agreement.
        min_grade: 3
      - grounded: true
""",
    )
    first, second = golden.load([path])
    assert (first.id, first.intent, first.line) == ("capital", "faq", 3)
    assert first.messages == ({"role": "user", "content": "What is the capital of France?"},)
    contains, similar = first.checks
    assert isinstance(contains, ContainsCheck) and contains.needles == ("Paris", "France") and contains.case_sensitive
    assert isinstance(similar, SimilarityCheck) and similar.weight == 2 and similar.min_similarity == 0.5
    assert (second.intent, second.route, second.model, second.max_tokens, second.line) == (
        "legal",
        "strict",
        "m",
        20,
        11,
    )
    assert second.messages[0] == {"role": "system", "content": "Be brief."}
    assert (first.temperature, second.temperature) == (None, 0)
    assert second.context == ("A contract is an agreement.",)
    judge, grounded = second.checks
    assert isinstance(judge, JudgeCheck) and judge.min_grade == 3
    assert isinstance(grounded, GroundedCheck) and grounded.min_score == 0.5


def test_yaml_list_form_and_jsonl_with_header(tmp_path: Path) -> None:
    listed = write(tmp_path, "a.yaml", "- {id: one, intent: math, prompt: '2+2?', expect: [{regex: '\\b4\\b'}]}\n")
    lines = [
        {"intent": "coding"},
        {"id": "two", "prompt": "print?", "expect": [{"contains": "print"}]},
        {"id": "three", "intent": "faq", "prompt": "x", "expect": [{"exact": "y"}]},
    ]
    jsonl = write(tmp_path, "b.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n\n")
    items = golden.load([listed, jsonl])
    assert [(i.id, i.intent, i.line) for i in items] == [("one", "math", 1), ("two", "coding", 2), ("three", "faq", 3)]
    assert isinstance(items[0].checks[0], RegexCheck)


def test_a_directory_loads_its_golden_files_in_name_order(tmp_path: Path) -> None:
    write(tmp_path, "b.yaml", "- {id: b, intent: faq, prompt: x, expect: [{contains: x}]}\n")
    write(tmp_path, "a.jsonl", '{"id": "a", "intent": "faq", "prompt": "x", "expect": [{"contains": "x"}]}\n')
    write(tmp_path, "notes.md", "not a golden file")
    assert [i.id for i in golden.load([tmp_path])] == ["a", "b"]


def test_the_shipped_samples_cover_every_intent() -> None:
    items = golden.load([SAMPLES])
    assert {i.intent for i in items} == set(
        "greeting faq how_to coding math transform creative support complaint legal medical".split()  # noqa: SIM905
    )
    assert len(items) >= 3 * 11


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("{id: a, intent: faq, prompt: x, expect: [{contain: x}]}", "item 'a': expect[0]: a check names exactly one"),
        ("{id: a, intent: faq, prompt: x, expect: [{contains: x, regex: y}]}", "expect[0]: a check names exactly one"),
        ("{id: a, intent: faq, prompt: x, expect: [{contains: x, cased: true}]}", "expect[0].cased: unknown field"),
        ("{id: a, intent: faq, prompt: x, expect: [{regex: '('}]}", "expect[0].regex: not a valid regular expression"),
        (
            "{id: a, intent: faq, prompt: x, expect: [{json_schema: {type: nope}}]}",
            "expect[0].json_schema: the schema is invalid at schema.type",
        ),
        ("{id: a, intent: faq, prompt: x, expect: [{similar_to: x, min_similarity: 2}]}", "expect[0].min_similarity"),
        ("{id: a, intent: faq, prompt: x, expect: [{judge: x, min_grade: 6}]}", "expect[0].min_grade"),
        (
            "{id: a, intent: faq, prompt: x, expect: [{grounded: true}]}",
            "a `grounded` check needs the item's `context`",
        ),
        ("{id: a, intent: faq, prompt: x, expect: []}", "item 'a': expect: List should have at least 1 item"),
        ("{id: a, intent: faq, expect: [{contains: x}]}", "give exactly one of `messages` and `prompt`"),
        (
            "{id: a, intent: faq, prompt: x, messages: [{role: user, content: y}], expect: [{contains: x}]}",
            "exactly one",
        ),
        ("{id: a, intent: faq, messages: [{role: robot, content: y}], expect: [{contains: x}]}", "messages[0].role"),
        ("{id: a, intent: chitchat, prompt: x, expect: [{contains: x}]}", "item 'a': intent: Input should be"),
        ("{id: a, prompt: x, expect: [{contains: x}]}", "item 'a': intent: missing (name it on the item or at the top"),
        ("{id: a, intent: faq, prompt: x, expect: [{contains: x}], top_p: 0}", "item 'a': top_p: unknown field"),
        ("{id: a, intent: faq, prompt: x, expect: [{contains: x}], temperature: 3}", "item 'a': temperature: Input"),
        ("{intent: faq, prompt: x, expect: [{contains: x}]}", ": item: id: missing"),
        (
            "{id: a, intent: faq, prompt: x, response_format: {type: xml}, expect: [{contains: x}]}",
            "response_format: response_format.type must be one of",
        ),
    ],
)
def test_a_bad_item_is_named_with_its_file_line_and_field(tmp_path: Path, item: str, expected: str) -> None:
    path = write(
        tmp_path,
        "set.yaml",
        f"# a comment\n- {{id: ok, intent: faq, prompt: x, expect: [{{contains: x}}]}}\n- {item}\n",
    )
    message = error_of(path)
    assert message.startswith(f"{path}:3: item")
    assert expected in message


def test_every_problem_of_every_file_is_reported(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", "- {id: a, prompt: x, expect: [{contains: x}]}\n- {id: b, intent: faq}\n")
    second = write(tmp_path, "b.jsonl", '{"id": "c", "intent": "faq", "prompt": "x", "expect": [{"exact": 1}]}\n')
    message = error_of(first, second)
    assert f"{first}:1: item 'a': intent: missing" in message
    assert f"{first}:2: item 'b': prompt" not in message  # the model-level rule names both fields at once
    assert f"{first}:2: item 'b': expect: missing" in message
    assert f"{second}:1: item 'c': expect[0].exact: Input should be a valid string" in message


def test_duplicate_ids_across_files_are_refused(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", "intent: faq\nitems:\n  - {id: same, prompt: x, expect: [{contains: x}]}\n")
    second = write(tmp_path, "b.yaml", "intent: faq\nitems:\n  - {id: same, prompt: y, expect: [{contains: y}]}\n")
    assert error_of(first, second) == f"{second}:3: item 'same': id already used at {first}:3"


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("a.yaml", "items: [\n", "not valid YAML"),
        ("a.yaml", "intent: faq\nintent: math\nitems: []\n", "duplicate key 'intent'"),
        ("a.yaml", "just a string\n", "the top level must be a list of items or a mapping with `items`"),
        ("a.yaml", "intent: faq\n", "items: a list of items is required"),
        ("a.yaml", "intent: faq\nowner: me\nitems: []\n", "a.yaml:1: owner: unknown field"),
        ("a.yaml", "intent: faq\nitems: []\n", "no golden items"),
        ("a.yaml", "- just text\n", "a.yaml:1: item: an item is a mapping of fields, not str"),
        (
            "a.jsonl",
            '{"id": "a", "intent": "faq", "prompt": "x", "expect": [{"contains": "x"}]}\n{oops\n',
            "a.jsonl:2: not valid JSON",
        ),
        ("a.jsonl", '{"intent": "nope"}\n', "a.jsonl:1: intent: Input should be"),
        ("a.txt", "", "a golden file ends in .yaml, .yml, .jsonl"),
    ],
)
def test_a_bad_file_is_named(tmp_path: Path, name: str, text: str, expected: str) -> None:
    path = write(tmp_path, name, text)
    message = error_of(path)
    assert str(path) in message or "no golden items" in message
    assert expected in message


def test_missing_paths_and_empty_directories(tmp_path: Path) -> None:
    assert "nowhere.yaml: no such file or directory" in error_of(tmp_path / "nowhere.yaml")
    assert "no *.yaml, *.yml, *.jsonl files in this directory" in error_of(tmp_path)
    with pytest.raises(GoldenError, match="no golden files given"):
        golden.load([])
