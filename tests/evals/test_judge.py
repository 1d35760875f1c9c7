"""The LLM judge: a strict reply format; anything else is a scoring error, never a pass."""

from __future__ import annotations

import pytest

from envelope.evals.client import ChatRequest, Reply
from envelope.evals.documents import JudgeCheck
from envelope.evals.judge import Judge, JudgeError, parse, prompt


@pytest.mark.parametrize(
    ("reply", "grade", "reason"),
    [
        ("GRADE: 5", 5, ""),
        ("  grade:3  \n", 3, ""),
        ("GRADE: 4\nREASON: polite, but vague.", 4, "polite, but vague."),
        ("GRADE:1\r\nreason: off topic", 1, "off topic"),
    ],
)
def test_parse_reads_the_strict_format(reply: str, grade: int, reason: str) -> None:
    found = parse(reply)
    assert (found.grade, found.reason) == (grade, reason)


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "5",
        "The answer is great. GRADE: 5",
        "GRADE: 4/5",
        "GRADE: 6",
        "GRADE: 0",
        "GRADE: four",
        "GRADE: 4.5",
        "GRADE: 4\nGRADE: 2",
        "GRADE: 4\nREASON: fine\nAnd some more text.",
        "**GRADE: 4**",
    ],
)
def test_parse_refuses_anything_else(reply: str) -> None:
    with pytest.raises(JudgeError, match="not `GRADE: 1-5`"):
        parse(reply)


def test_the_prompt_carries_rubric_conversation_and_answer() -> None:
    conversation = ({"role": "user", "content": [{"type": "text", "text": "Capital of France?"}]},)
    system, user = prompt(conversation, "Paris.", "Names Paris.")
    assert system["role"] == "system" and "GRADE: N" in system["content"]
    assert user["content"].startswith("Rubric: Names Paris.")
    assert "user: Capital of France?" in user["content"] and "<<<\nParis.\n>>>" in user["content"]


class ScriptedJudge:
    """A completer that answers every request with one reply, and keeps the requests."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.requests: list[ChatRequest] = []

    async def complete(self, request: ChatRequest) -> Reply:
        self.requests.append(request)
        return self.reply


async def test_judge_asks_with_its_model_and_route_and_scores_the_grade() -> None:
    completer = ScriptedJudge(Reply(10.0, 200, "GRADE: 5\nREASON: exact."))
    judge = Judge(completer, model="judge-m", route="judging")
    score = await judge.score(JudgeCheck(judge="Names Paris."), ({"role": "user", "content": "Capital?"},), "Paris")
    assert score.passed and score.value == 1.0 and score.error is None
    (request,) = completer.requests
    assert (request.model, request.route, request.temperature) == ("judge-m", "judging", 0.0)


async def test_a_malformed_judge_reply_is_a_scoring_error_not_a_pass() -> None:
    completer = ScriptedJudge(Reply(10.0, 200, "I would give it a 5, it is excellent!"))
    score = await Judge(completer, model="auto", route=None).score(JudgeCheck(judge="x", min_grade=1), (), "a")
    assert not score.passed and score.value == 0.0
    assert score.error is not None and "not `GRADE: 1-5`" in score.error


async def test_a_failed_judge_request_is_a_scoring_error() -> None:
    completer = ScriptedJudge(Reply(10.0, 503, error="HTTP 503: overloaded"))
    score = await Judge(completer, model="auto", route=None).score(JudgeCheck(judge="x", min_grade=1), (), "a")
    assert not score.passed and score.error == "judge request failed: HTTP 503: overloaded"
