"""A synthetic knowledge-base corpus for the retrieval benchmark: seeded English passages
and questions about them.

No public corpus can be downloaded here, so passages are written from templates (the
phrasebook is `corpus_templates`). Each of ten domains (software, finance, health,
travel, cooking, law, HR policy, product manuals, education, cars) has a subject (a
service, a company, a medicine, a device…) and a dozen facts about it; a fact is a
statement with slots (names, places, numbers, dates) and the question it answers,
worded differently. A passage is 2–4 facts about one subject (≈ 40–80 words): the same
template rarely meets the same companions and values, so texts are varied rather than
near-duplicates. Its question asks about its first fact. `[a|b]` in a template picks
one wording, `{slot}` a value, `{Slot}` the value capitalised. Bump `VERSION` whenever
the output changes: it keys cached embeddings.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from envelope.bench import corpus_templates

VERSION = 1

Slot = Callable[[random.Random], str]


@dataclass(frozen=True, slots=True)
class Passage:
    """A chunk's text and a question its first sentence answers."""

    text: str
    question: str


@dataclass(frozen=True, slots=True)
class Query:
    """A question written from chunk `source`."""

    source: int
    text: str


@dataclass(frozen=True, slots=True)
class _Domain:
    subject: str  # a template for the passage's subject
    short: str  # how later sentences may refer to it
    facts: tuple[tuple[str, str], ...]  # (statement, question)


def passages(count: int, *, seed: int = 0) -> list[Passage]:
    """`count` distinct passages, the same for the same seed."""
    rng = random.Random(seed)
    seen: set[str] = set()
    found: list[Passage] = []
    while len(found) < count:
        passage = _passage(rng)
        if passage.text not in seen:
            seen.add(passage.text)
            found.append(passage)
    return found


def queries(corpus: list[Passage], count: int, *, seed: int = 0) -> list[Query]:
    """The questions of `count` passages picked at random (distinct while there are enough)."""
    rng = random.Random(seed + 1)  # not the corpus's own stream
    picked = rng.sample(range(len(corpus)), min(count, len(corpus)))
    return [Query(i, corpus[i].question) for i in picked]


def _passage(rng: random.Random) -> Passage:
    domain = rng.choice(_DOMAINS)
    named: dict[str, str] = {}  # the subject's own slots, which its question names again
    subject = _fill(domain.subject, named, rng)
    facts = rng.sample(domain.facts, 4)
    sentences: list[str] = []
    question = ""
    for statement, asked in facts:
        values = named | {"subject": domain.short if sentences and rng.random() < 0.6 else subject}
        sentence = _fill(statement, values, rng)
        if not sentences:
            question = _fill(asked, values, rng)
        sentences.append(sentence)
        words = sum(len(s.split()) for s in sentences)
        if len(sentences) >= 2 and words >= 40:
            break
    while len(sentences) > 2 and sum(len(s.split()) for s in sentences) > 80:
        sentences.pop()
    return Passage(" ".join(sentences), question)


_SLOT = re.compile(r"\{(\w+)\}")
_CHOICE = re.compile(r"\[([^\[\]]*)\]")
_PLURAL_POSSESSIVE = re.compile(r"(?<=\w)s's\b")  # "Gallagher Systems' policy"


def _fill(template: str, values: dict[str, str], rng: random.Random) -> str:
    """Expand `[a|b]` choices, then `{slot}`s; a slot keeps its value within `values`
    (a statement and its question share them). A trailing digit names another value
    of the same kind: `{symptom}` and `{symptom2}` differ."""
    text = _CHOICE.sub(lambda m: rng.choice(m.group(1).split("|")), template)

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        key = name.lower()
        kind = key.rstrip("0123456789")
        while key not in values or (key != kind and values[key] == values.get(kind)):
            values[key] = _SLOTS[kind](rng) if kind in _SLOTS else rng.choice(_WORDS[kind])
        filled = values[key]
        return filled[:1].upper() + filled[1:] if name[0].isupper() else filled

    return _PLURAL_POSSESSIVE.sub("s'", _SLOT.sub(value, text))


def _number(low: int, high: int, step: int = 1) -> Slot:
    return lambda rng: f"{rng.randrange(low, high + 1, step):,}"


def _person(rng: random.Random) -> str:
    return f"{rng.choice(_WORDS['first'])} {rng.choice(_WORDS['last'])}"


def _company(rng: random.Random) -> str:
    return f"{rng.choice(_WORDS['last'])} {rng.choice(_WORDS['firm'])}"


def _drug(rng: random.Random) -> str:
    return rng.choice(_WORDS["stem"]) + rng.choice(_WORDS["ending"])


def _code(rng: random.Random) -> str:
    letters = "".join(rng.choice("ABCDEFGHKLMNPRSTVXZ") for _ in range(2))
    return f"{letters}-{rng.randrange(100, 990, 10)}"


_SLOTS: Mapping[str, Slot] = {
    "n": _number(2, 12),
    "big": _number(200, 90_000, 100),
    "pct": _number(2, 45),
    "share": _number(40, 98),
    "cents": _number(5, 95),
    "money": lambda rng: f"${rng.randrange(5, 2_000):,}",
    "millions": lambda rng: f"${rng.randrange(2, 950)}.{rng.randrange(10)} million",
    "days": _number(3, 90),
    "hours": _number(2, 72),
    "minutes": _number(5, 120, 5),
    "seconds": _number(5, 90, 5),
    "weeks": _number(2, 26),
    "months": _number(2, 24),
    "years": _number(2, 10),
    "year": lambda rng: str(rng.randrange(2012, 2026)),
    "version": lambda rng: f"{rng.randrange(1, 10)}.{rng.randrange(0, 21)}",
    "clock": lambda rng: f"{rng.randrange(6, 23)}:{rng.choice(['00', '15', '30', '45'])}",
    "oven": _number(150, 240, 10),
    "mg": _number(5, 500, 5),
    "km": _number(5_000, 120_000, 5_000),
    "psi": _number(28, 42),
    "code": _code,
    "drug": _drug,
    "person": _person,
    "company": _company,
    "other": _company,
}


def _words(text: str) -> dict[str, list[str]]:
    lists = (line.partition(":") for line in text.strip().splitlines())
    return {name.strip(): [w.strip() for w in items.split(",")] for name, _, items in lists}


def _domains(text: str) -> tuple[_Domain, ...]:
    domains = []
    for block in text.strip().split("\n\n"):
        head, *lines = block.strip().splitlines()
        subject, _, short = head.removeprefix("# ").partition(" | ")
        statements, questions = lines[0::2], [q.removeprefix("? ") for q in lines[1::2]]
        if len(statements) != len(questions) or not all(q.startswith("? ") for q in lines[1::2]):
            raise ValueError(f"corpus template block {head!r}: statements and questions must alternate")
        domains.append(_Domain(subject, short, tuple(zip(statements, questions, strict=True))))
    return tuple(domains)


_WORDS = _words(corpus_templates.WORDS)
_DOMAINS = _domains(corpus_templates.DOMAINS)
