"""Sentence boundaries in plain text, with offsets.

Shared by chunking (cut between sentences), context compression (select sentences)
and groundedness (score an answer sentence by sentence). A rule-based splitter: a
sentence ends at `.`, `!`, `?` or `…` (with closing quotes or brackets) followed by
whitespace and an upper-case letter, digit or opening quote, or at a blank line; the
usual abbreviations ("e.g.", "Dr.", "U.S.") and decimals do not end one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st vs etc e.g i.e cf fig no nos vol approx inc ltd co corp dept est jan feb "  # noqa: SIM905 (a word list reads best as words)
    "mar apr jun jul aug sep sept oct nov dec mon tue wed thu fri sat sun u.s u.k a.m p.m ".split()
)
_END = re.compile(r"""[.!?…]+["'”’)\]]*(?=\s+["'“‘(\[]?[A-Z0-9])|\n\s*\n""")


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str
    start: int
    end: int


def sentences(text: str) -> list[Sentence]:
    """`text` cut into sentences, each stripped, with its [start, end) span in `text`."""
    out: list[Sentence] = []
    begin = 0
    for match in _END.finditer(text):
        if match.group().startswith((".",)) and _abbreviation_before(text, match.start()):
            continue
        _keep(text, begin, match.end(), out)
        begin = match.end()
    _keep(text, begin, len(text), out)
    return out


def _abbreviation_before(text: str, dot: int) -> bool:
    word_start = dot
    while word_start > 0 and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:dot].lower().lstrip("(\"'“")
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def _keep(text: str, begin: int, end: int, out: list[Sentence]) -> None:
    piece = text[begin:end]
    stripped = piece.strip()
    if stripped:
        start = begin + (len(piece) - len(piece.lstrip()))
        out.append(Sentence(stripped, start, start + len(stripped)))
