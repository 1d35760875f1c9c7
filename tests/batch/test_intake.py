"""Reading a batch input file: every problem named with its line; good lines re-encoded."""

from __future__ import annotations

import json

from envelope.batch import intake
from envelope.batch.objects import result_files
from envelope.batch.records import BatchItem

CHAT = "/v1/chat/completions"


def line(custom_id: object = "a", **overrides: object) -> str:
    value = {"custom_id": custom_id, "method": "POST", "url": CHAT, "body": {"model": "m", "messages": []}}
    value.update(overrides)
    return json.dumps(value)


def read(*lines: str, max_items: int = 100) -> tuple[list[intake.Line], list[intake.Problem]]:
    return intake.read("\n".join(lines).encode(), endpoint=CHAT, max_items=max_items)


def test_good_lines_become_items_in_order_blank_lines_skipped() -> None:
    lines, problems = read(line("a"), "", line("b"))
    assert problems == []
    assert [(x.index, x.custom_id) for x in lines] == [(0, "a"), (1, "b")]
    assert json.loads(lines[0].body) == {"model": "m", "messages": []}


def test_every_problem_is_named_with_its_line() -> None:
    _, problems = read(
        line("a"),
        line("a"),
        "{not json",
        "[1]",
        line(""),
        line("m", method="GET"),
        line("u", url="/v1/embeddings"),
        line("b", body=[1]),
        line("s", body={"stream": True}),
        line("x", extra=1),
    )
    assert [(p.line, p.code) for p in problems] == [
        (2, "duplicate_custom_id"),
        (3, "invalid_json"),
        (4, "invalid_line"),
        (5, "invalid_custom_id"),
        (6, "invalid_method"),
        (7, "mismatched_url"),
        (8, "invalid_body"),
        (9, "invalid_body"),
        (10, "invalid_line"),
    ]
    message = intake.describe(problems)
    assert message.startswith("The input file has 9 problem(s): line 2:")


def test_whole_file_problems() -> None:
    assert [p.code for p in read("", "  ")[1]] == ["empty_file"]
    assert [p.code for p in read(line("a"), line("b"), max_items=1)[1]] == ["too_many_requests"]
    lines, problems = intake.read(b"\xff\xfe", endpoint=CHAT, max_items=5)
    assert lines == [] and [p.code for p in problems] == ["invalid_utf8"]
    many = intake.describe([intake.Problem(i, "x", "bad") for i in range(1, 30)])
    assert "(and 9 more)" in many


def test_result_files_split_answers_from_failures_and_unrun_items() -> None:
    items = [
        BatchItem("b", 0, "ok", "{}", status="done", status_code=200, response='{"id": "c1"}', request_id="r0"),
        BatchItem(
            "b",
            1,
            "bad",
            "{}",
            status="failed",
            status_code=400,
            response='{"error": {"message": "no", "code": "invalid_value"}}',
            request_id="r1",
        ),
        BatchItem("b", 2, "late", "{}", status="cancelled"),
    ]
    output, errors = result_files(items, batch_id="b")
    (answered,) = [json.loads(x) for x in output.splitlines()]
    assert answered["custom_id"] == "ok" and answered["response"] == {
        "status_code": 200,
        "request_id": "r0",
        "body": {"id": "c1"},
    }
    failed, unrun = [json.loads(x) for x in errors.splitlines()]
    assert failed["error"] == {"code": "invalid_value", "message": "no"} and failed["response"]["status_code"] == 400
    assert unrun["response"] is None and unrun["error"]["code"] == "batch_cancelled"
    assert result_files([], batch_id="b") == (b"", b"")
