"""The runner and grader in process: a fake completer stands in for the gateway; the
embedding checks use the real MiniLM."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from envelope.embeddings.embedder import Embedder
from envelope.evals import golden, runner
from envelope.evals.client import ChatRequest, Reply
from envelope.evals.grader import Grader, MiniLMEncoder
from envelope.evals.judge import Judge
from envelope.evals.runner import RunOptions

REFUND = "Items can be returned within 30 days of delivery for a full refund. Refunds reach the card in 5 days."


class FakeGateway:
    """Answers by the last user message; counts requests in flight."""

    def __init__(self, answers: dict[str, Reply]) -> None:
        self.answers = answers
        self.requests: list[ChatRequest] = []
        self.in_flight = 0
        self.most_in_flight = 0

    async def complete(self, request: ChatRequest) -> Reply:
        self.requests.append(request)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.01)
            said = str(request.messages[-1]["content"])
            if said.startswith("Rubric:"):
                return Reply(1.0, 200, "GRADE: 4")
            return self.answers[said]
        finally:
            self.in_flight -= 1


def items(tmp_path: Path, text: str) -> list[golden.GoldenItem]:
    path = tmp_path / "set.yaml"
    path.write_text(text)
    return golden.load([path])


@pytest.fixture
async def encoder() -> AsyncIterator[MiniLMEncoder]:
    embedder = Embedder()
    yield MiniLMEncoder(embedder)
    await embedder.close()


async def test_items_are_sent_with_their_defaults_and_results_keep_their_order(tmp_path: Path) -> None:
    loaded = items(
        tmp_path,
        """intent: faq
items:
"""
        + "".join(f"  - {{id: q{i}, prompt: 'q{i}', expect: [{{contains: a{i}}}]}}\n" for i in range(6))
        + "  - {id: routed, prompt: r, route: special, model: big, max_tokens: 5, temperature: 0.7,"
        + " expect: [{exact: r}]}\n",
    )
    answers = {f"q{i}": Reply(1.0, 200, f"a{i}" if i != 2 else "wrong", {"x-envelope-model": "m"}) for i in range(6)}
    answers["r"] = Reply(2.0, 200, "r", {"x-envelope-cost-usd": "0.5", "x-envelope-tier": "L"})
    gateway = FakeGateway(answers)
    seen: list[str] = []
    done = await runner.run(
        loaded,
        gateway,
        Grader(encoder=None, judge=None),
        options=RunOptions(model="auto", route="default", temperature=0.0, concurrency=2),
        on_done=lambda r: seen.append(r.id),
    )
    assert [r.id for r in done] == [f"q{i}" for i in range(6)] + ["routed"]
    assert sorted(seen) == sorted(r.id for r in done)
    assert gateway.most_in_flight == 2
    assert [r.passed for r in done] == [True, True, False, True, True, True, True]
    assert done[2].problem == "contains: missing 'a2'"
    assert done[0].model == "m"
    assert (done[-1].cost_usd, done[-1].tier, done[-1].headers["x-envelope-tier"]) == (0.5, "L", "L")
    by_prompt = {str(r.messages[-1]["content"]): r for r in gateway.requests}
    q0, routed = by_prompt["q0"], by_prompt["r"]
    assert (q0.model, q0.route, q0.max_tokens, q0.temperature) == ("auto", "default", None, 0.0)
    assert (routed.model, routed.route, routed.max_tokens, routed.temperature) == ("big", "special", 5, 0.7)


async def test_a_failed_request_fails_its_item_with_the_error(tmp_path: Path) -> None:
    loaded = items(tmp_path, "- {id: a, intent: faq, prompt: x, expect: [{contains: x}, {judge: polite}]}\n")
    gateway = FakeGateway({"x": Reply(12.0, 429, headers={}, error="HTTP 429: slow down")})
    (result,) = await runner.run(loaded, gateway, Grader(encoder=None, judge=None), options=RunOptions())
    assert not result.passed and result.error == "HTTP 429: slow down" and result.status == 429
    assert [(c.scorer, c.value, c.error) for c in result.checks] == [
        ("contains", 0.0, "no answer to score"),
        ("judge", 0.0, "no answer to score"),
    ]
    assert result.problem == "HTTP 429: slow down"


async def test_the_judge_is_asked_through_the_same_completer(tmp_path: Path) -> None:
    loaded = items(tmp_path, "- {id: a, intent: faq, prompt: x, expect: [{judge: polite, min_grade: 4}]}\n")
    gateway = FakeGateway({"x": Reply(1.0, 200, "Hello, kind sir.")})
    grader = Grader(encoder=None, judge=Judge(gateway, model="judge", route="j"))
    (result,) = await runner.run(loaded, gateway, grader, options=RunOptions())
    assert result.passed and result.checks[0].detail == "grade 4/5 (min 4)"
    assert [r.model for r in gateway.requests] == ["auto", "judge"]


async def test_similarity_with_minilm(tmp_path: Path, encoder: MiniLMEncoder) -> None:
    loaded = items(
        tmp_path,
        "- {id: a, intent: faq, prompt: x,"
        " expect: [{similar_to: 'The capital of France is Paris.', min_similarity: 0.7}]}\n",
    )
    grader = Grader(encoder=encoder, judge=None)
    close = await grader.grade(loaded[0], "Paris is the capital city of France.")
    far = await grader.grade(loaded[0], "Bananas are rich in potassium.")
    assert close[0].passed and close[0].value > 0.7
    assert not far[0].passed and far[0].value < 0.4


async def test_groundedness_against_the_item_context(tmp_path: Path, encoder: MiniLMEncoder) -> None:
    loaded = items(
        tmp_path,
        f"- {{id: a, intent: support, prompt: x, context: ['{REFUND}'],"
        " expect: [{grounded: true, min_score: 0.5}]}\n",
    )
    grader = Grader(encoder=encoder, judge=None)
    grounded = await grader.grade(loaded[0], "You can return items within 30 days of delivery for a full refund.")
    invented = await grader.grade(
        loaded[0], "Our headquarters moved to Lisbon last spring. The chief executive enjoys sailing on weekends."
    )
    nothing = await grader.grade(loaded[0], "Sure!")
    assert grounded[0].passed and grounded[0].value == 1.0
    assert not invented[0].passed and invented[0].value == 0.0 and "weakest" in invented[0].detail
    assert nothing[0].passed and nothing[0].detail.startswith("0/0 claims")


async def test_embedding_checks_without_a_model_are_not_scored(tmp_path: Path) -> None:
    loaded = items(tmp_path, "- {id: a, intent: faq, prompt: x, expect: [{similar_to: y}]}\n")
    (score,) = await Grader(encoder=None, judge=None).grade(loaded[0], "y")
    assert not score.passed and score.error == "no embedding model loaded"
