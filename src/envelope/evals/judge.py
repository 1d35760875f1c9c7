"""The LLM judge: a model, asked through the gateway, grades an answer 1–5 against a rubric.

The prompt asks for a strict reply — a line `GRADE: n` (n from 1 to 5), optionally
followed by one line `REASON: ...`, and nothing else. `parse` accepts exactly that
(the labels in any case); anything else — prose, `4/5`, two grades, a 6 — is a
`JudgeError`, which scores the check as not scored (failed), never as a pass.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from envelope.evals.client import ChatRequest, Completer
from envelope.evals.documents import JudgeCheck
from envelope.evals.scorers import Score, judged, unscored

SYSTEM = (
    "You grade an AI assistant's answer against a rubric. Read the conversation, the answer "
    "and the rubric, then reply with exactly one line `GRADE: N`, where N is a whole number "
    "from 1 (does not meet the rubric at all) to 5 (fully meets it), optionally followed by "
    "one line `REASON: ` and a short reason. Write nothing else."
)
_REPLY = re.compile(r"\AGRADE:[ \t]*([1-5])[ \t]*(?:\n[ \t]*REASON:[ \t]*(?P<reason>[^\n]*))?\Z", re.IGNORECASE)
_SHOWN_CHARS = 120


class JudgeError(ValueError):
    """The judge's reply is not in the required format."""


@dataclass(frozen=True, slots=True)
class Grade:
    grade: int  # 1..5
    reason: str


def prompt(conversation: Sequence[dict[str, Any]], answer: str, rubric: str) -> tuple[dict[str, Any], ...]:
    """The judge's messages for grading `answer` to `conversation` against `rubric`."""
    said = "\n".join(f"{m.get('role', 'user')}: {_text(m.get('content'))}" for m in conversation)
    user = (
        f"Rubric: {rubric}\n\n"
        f"Conversation:\n<<<\n{said}\n>>>\n\n"
        f"Answer to grade:\n<<<\n{answer}\n>>>\n\n"
        "Reply with `GRADE: N` (1-5) and optionally `REASON: ...` on the next line."
    )
    return ({"role": "system", "content": SYSTEM}, {"role": "user", "content": user})


def parse(reply: str) -> Grade:
    """The grade in a judge's reply; raises JudgeError when the reply is out of format."""
    match = _REPLY.match(reply.strip().replace("\r\n", "\n"))
    if match is None:
        shown = reply.strip()
        shown = shown if len(shown) <= _SHOWN_CHARS else shown[: _SHOWN_CHARS - 1] + "…"
        raise JudgeError(f"the judge's reply is not `GRADE: 1-5` [+ `REASON: ...`]: {shown!r}")
    return Grade(int(match.group(1)), (match.group("reason") or "").strip())


class Judge:
    """Asks the gateway, with the judge's model and route, to grade answers."""

    def __init__(self, completer: Completer, *, model: str, route: str | None, max_tokens: int = 128) -> None:
        self._completer = completer
        self._model = model
        self._route = route
        self._max_tokens = max_tokens

    async def score(self, check: JudgeCheck, conversation: Sequence[dict[str, Any]], answer: str) -> Score:
        request = ChatRequest(
            model=self._model,
            messages=prompt(conversation, answer, check.judge),
            route=self._route,
            max_tokens=self._max_tokens,
            temperature=0.0,
        )
        reply = await self._completer.complete(request)
        if reply.error is not None:
            return unscored(check, f"judge request failed: {reply.error}")
        try:
            grade = parse(reply.text or "")
        except JudgeError as exc:
            return unscored(check, str(exc))
        return judged(check, grade.grade, grade.reason)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: the text ones
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""
