"""Groundedness of a RAG answer: is each claim close to something in the retrieved context?

Embedding-based and pure: the caller embeds `claims(answer)` and `context_units(chunk)`
with the same unit-normalised encoder and passes the vectors in. A claim's support is
its highest cosine similarity to any context unit; the score is the share of claims
whose support reaches a threshold. Similarity is topical closeness, not entailment: a
claim that contradicts the context with the same words still looks supported, so this
catches invented topics and facts from nowhere, not flipped numbers or negations.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from envelope.core.sentences import sentences

MIN_CLAIM_WORDS = 4
_CODE_BLOCK = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
# A line that starts a list item: answers often list facts without full stops.
_LIST_ITEM = re.compile(r"\n[ \t]*(?:[-*•+]|\d{1,2}[.)])[ \t]+")
_MARKUP = re.compile(r"^(?:#{1,6}\s+|>\s*|[-*•+]\s+|\d{1,2}[.)]\s+)+")
# Politeness and framing that asserts nothing about the subject.
_BOILERPLATE = re.compile(
    r"""^(?:
        (?:i\s+)?hope\s+(?:this|that|it)\s+helps
      | let\s+me\s+know\b
      | feel\s+free\s+to\b
      | (?:i\s+am\s+|i'm\s+|i'd\s+be\s+|i\s+would\s+be\s+)?(?:happy|glad)\s+to\s+(?:help|assist)
      | (?:is\s+there\s+)?anything\s+else\b
      | if\s+you\s+have\s+(?:any\s+)?(?:more\s+|other\s+|further\s+)?questions
      | (?:that'?s\s+a\s+)?(?:great|good|excellent)\s+question
      | thanks?\s+(?:you\s+)?for\s+(?:asking|your\s+question|reaching\s+out)
      | (?:hi|hello|hey|greetings|sure|certainly|of\s+course|absolutely)\b[\s,!.]*(?:there\b[\s,!.]*)?
        (?:$|i\s*(?:can|could|will|would|'d|'ll)\b|here\b|happy\b|glad\b)
      | here\s+(?:is|are)\s+(?:a|an|the|some)\b[^.]*:?$
      | please\s+(?:note|let|feel|reach)\b
      | i\s+(?:don'?t|do\s+not)\s+have\s+(?:enough\s+)?information\b
    )""",
    re.IGNORECASE | re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Grounding:
    """How well an answer's claims are supported by the retrieved context."""

    score: float  # share of checked claims with support at or above the threshold
    supported: int
    checked: int
    weakest: str | None  # the least supported claim, None when nothing was checked


def claims(answer: str) -> list[str]:
    """The answer's sentences worth checking against the context.

    Skips code blocks, sentences under four words, questions back to the user,
    lead-ins ending in a colon and boilerplate ("I hope this helps", greetings).
    """
    # List items become paragraphs, so each is its own sentence even without a full stop.
    prose = _LIST_ITEM.sub("\n\n", "\n" + _CODE_BLOCK.sub("\n\n", answer))
    out: list[str] = []
    for sentence in sentences(prose):
        text = _MARKUP.sub("", sentence.text).strip()
        if _worth_checking(text):
            out.append(text)
    return out


def _worth_checking(text: str) -> bool:
    if len(text.split()) < MIN_CLAIM_WORDS:
        return False
    if text.endswith(("?", ":")):
        return False
    return _BOILERPLATE.match(text.replace("’", "'")) is None


def context_units(context: str, *, window: int = 2) -> list[str]:
    """Retrieved context cut into overlapping windows of `window` consecutive sentences.

    A window gives a sentence its neighbour's subject ("It costs $5" after "The
    Basic plan ..."), so claims that paraphrase across a sentence boundary still
    find support. Call it per retrieved chunk so windows do not straddle documents.
    """
    if window < 1:
        raise ValueError("window must be at least 1")
    texts = [sentence.text for sentence in sentences(context)]
    if len(texts) <= window:
        return [" ".join(texts)] if texts else []
    return [" ".join(texts[start : start + window]) for start in range(len(texts) - window + 1)]


def groundedness(
    claims: Sequence[str],
    claim_vectors: NDArray[np.float32],
    context_vectors: NDArray[np.float32],
    *,
    support: float = 0.5,
) -> Grounding:
    """Score `claims` (rows of `claim_vectors`) against the context's unit vectors.

    Both matrices hold unit-length rows from the same encoder, so a dot product is
    the cosine. No claims scores 1.0 (nothing to contradict); no context scores 0.0.
    """
    if claim_vectors.ndim != 2 or context_vectors.ndim != 2:
        raise ValueError("claim_vectors and context_vectors must be 2-D")
    if claim_vectors.shape[0] != len(claims):
        raise ValueError(f"{len(claims)} claims but {claim_vectors.shape[0]} claim vectors")
    if not claims:
        return Grounding(score=1.0, supported=0, checked=0, weakest=None)
    if context_vectors.shape[0] and context_vectors.shape[1] != claim_vectors.shape[1]:
        raise ValueError("claim and context vectors differ in dimension")
    best = _best_support(claim_vectors, context_vectors)
    supported = int(np.count_nonzero(best >= support))
    return Grounding(
        score=supported / len(claims),
        supported=supported,
        checked=len(claims),
        weakest=claims[int(np.argmin(best))],
    )


def _best_support(claim_vectors: NDArray[np.float32], context_vectors: NDArray[np.float32]) -> NDArray[np.float32]:
    if context_vectors.shape[0] == 0:
        return np.zeros(claim_vectors.shape[0], dtype=np.float32)
    similarity = claim_vectors.astype(np.float32, copy=False) @ context_vectors.astype(np.float32, copy=False).T
    # A NaN row (an empty text embedded badly) must count as unsupported, not win max().
    best: NDArray[np.float32] = np.nan_to_num(similarity, nan=-1.0).max(axis=1)
    return best
