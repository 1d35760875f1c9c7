"""The grader: scores one answer against its item's checks.

The text checks are pure (`scorers`); similarity and groundedness embed texts with
the project's MiniLM (through the `TextEncoder` port) and hand the vectors to pure
code; the judge asks the gateway. Checks run in the order the item lists them.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from envelope.embeddings.embedder import Embedder
from envelope.evals.documents import Check, GroundedCheck, JudgeCheck, SimilarityCheck
from envelope.evals.golden import GoldenItem
from envelope.evals.judge import Judge
from envelope.evals.scorers import Score, grounding, score_text, similarity, unscored
from envelope.guardrails.grounding import claims, context_units, groundedness


class TextEncoder(Protocol):
    """Unit-length sentence vectors, one row per text."""

    async def vectors(self, texts: list[str]) -> NDArray[np.float32]: ...


class MiniLMEncoder:
    """The `TextEncoder` over the process's MiniLM (`envelope.embeddings.embedder`)."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder

    async def vectors(self, texts: list[str]) -> NDArray[np.float32]:
        rows = await self._embedder.embed(texts)
        return np.stack([row.vector for row in rows]).astype(np.float32, copy=False)


def needs_encoder(checks: list[Check]) -> bool:
    """Whether any of these checks embeds text (so the model must be loaded)."""
    return any(isinstance(c, SimilarityCheck | GroundedCheck) for c in checks)


class Grader:
    def __init__(self, *, encoder: TextEncoder | None, judge: Judge | None) -> None:
        self._encoder = encoder
        self._judge = judge

    async def grade(self, item: GoldenItem, answer: str) -> tuple[Score, ...]:
        return tuple([await self._one(item, check, answer) for check in item.checks])

    async def _one(self, item: GoldenItem, check: Check, answer: str) -> Score:
        found = score_text(check, answer)
        if found is not None:
            return found
        if isinstance(check, JudgeCheck):
            if self._judge is None:
                return unscored(check, "no judge configured")
            return await self._judge.score(check, item.messages, answer)
        if self._encoder is None:
            return unscored(check, "no embedding model loaded")
        if isinstance(check, SimilarityCheck):
            vectors = await self._encoder.vectors([answer, check.similar_to])
            return similarity(check, float(vectors[0] @ vectors[1]))
        assert isinstance(check, GroundedCheck)
        said = claims(answer)
        units = [unit for passage in item.context for unit in context_units(passage)]
        if not said:  # nothing asserted, nothing to contradict: groundedness() scores it 1.0
            return grounding(check, groundedness(said, np.zeros((0, 1), np.float32), np.zeros((0, 1), np.float32)))
        vectors = await self._encoder.vectors([*said, *units])
        found_grounding = groundedness(said, vectors[: len(said)], vectors[len(said) :], support=check.support)
        return grounding(check, found_grounding)
