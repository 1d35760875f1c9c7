"""The scorers: pure functions from an answer (or a measured value) to a `Score`.

Each score is a value in [0, 1] and a pass/fail against the check's threshold. The
text scorers (exact, contains, regex, json_schema) read only the answer; similarity,
groundedness and the judge are given what the shell measured (a cosine, a
`Grounding`, a grade) so the decision stays pure. A check that could not be scored
(the request failed, the judge replied out of format) is `unscored`: value 0, failed,
with the error — never a pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from envelope.evals.documents import (
    Check,
    ContainsCheck,
    ExactCheck,
    GroundedCheck,
    JsonSchemaCheck,
    JudgeCheck,
    RegexCheck,
    Scorer,
    SimilarityCheck,
)
from envelope.guardrails.grounding import Grounding
from envelope.guardrails.schema import AnswerSchema

_DETAIL_CHARS = 200


@dataclass(frozen=True, slots=True)
class Score:
    """One check's outcome on one answer."""

    scorer: Scorer
    value: float  # in [0, 1]
    passed: bool
    weight: float
    detail: str  # what was found or missed, the similarity, the grade and its reason
    error: str | None = None  # set when the check could not be scored


def exact(check: ExactCheck, answer: str) -> Score:
    got, want = answer.strip(), check.exact.strip()
    same = got == want if check.case_sensitive else got.casefold() == want.casefold()
    return _binary(check, same, "equal" if same else f"expected exactly {_quote(want)}")


def contains(check: ContainsCheck, answer: str) -> Score:
    fold: Callable[[str], str] = (lambda s: s) if check.case_sensitive else str.casefold
    text = fold(answer)
    missing = [needle for needle in check.needles if fold(needle) not in text]
    found = len(check.needles) - len(missing)
    detail = "all found" if not missing else "missing " + ", ".join(_quote(m) for m in missing)
    return Score("contains", found / len(check.needles), not missing, check.weight, detail)


def regex(check: RegexCheck, answer: str) -> Score:
    match = re.search(check.regex, answer)
    return _binary(check, match is not None, f"matched {_quote(match.group(0))}" if match else "no match")


def json_schema(check: JsonSchemaCheck, answer: str) -> Score:
    result = AnswerSchema("golden", check.json_schema).check(answer)
    return _binary(check, result.ok, "valid" if result.ok else "; ".join(result.problems))


def similarity(check: SimilarityCheck, cosine: float) -> Score:
    value = min(max(cosine, 0.0), 1.0)
    passed = cosine >= check.min_similarity
    return Score("similar_to", value, passed, check.weight, f"similarity {cosine:.3f} (min {check.min_similarity})")


def grounding(check: GroundedCheck, found: Grounding) -> Score:
    passed = found.score >= check.min_score
    detail = f"{found.supported}/{found.checked} claims supported (min {check.min_score:.0%})"
    if not passed and found.weakest:
        detail += f"; weakest: {_quote(found.weakest)}"
    return Score("grounded", found.score, passed, check.weight, detail)


def judged(check: JudgeCheck, grade: int, reason: str) -> Score:
    detail = f"grade {grade}/5 (min {check.min_grade})" + (f": {_shorten(reason)}" if reason else "")
    return Score("judge", (grade - 1) / 4, grade >= check.min_grade, check.weight, detail)


def unscored(check: Check, error: str) -> Score:
    """A check that could not be scored: it fails, with the reason."""
    return Score(check.scorer, 0.0, False, check.weight, "not scored", error=_shorten(error))


def score_text(check: Check, answer: str) -> Score | None:
    """The score of a check that needs only the answer; None for the others."""
    if isinstance(check, ExactCheck):
        return exact(check, answer)
    if isinstance(check, ContainsCheck):
        return contains(check, answer)
    if isinstance(check, RegexCheck):
        return regex(check, answer)
    if isinstance(check, JsonSchemaCheck):
        return json_schema(check, answer)
    return None


def item_score(scores: Sequence[Score]) -> float:
    """The weighted mean of an item's scores (0 with none)."""
    total = sum(s.weight for s in scores)
    return sum(s.value * s.weight for s in scores) / total if total else 0.0


def item_passed(scores: Sequence[Score]) -> bool:
    """An item passes when it was scored and every check passed."""
    return bool(scores) and all(s.passed and s.error is None for s in scores)


def _binary(check: Check, ok: bool, detail: str) -> Score:
    return Score(check.scorer, 1.0 if ok else 0.0, ok, check.weight, detail)


def _quote(text: str) -> str:
    return repr(_shorten(text))


def _shorten(text: str) -> str:
    return text if len(text) <= _DETAIL_CHARS else text[: _DETAIL_CHARS - 1] + "…"
