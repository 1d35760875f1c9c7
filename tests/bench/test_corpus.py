"""The retrieval benchmark's generated corpus: seeded, varied, and every template fills."""

from __future__ import annotations

import random
import re
import statistics

from envelope.bench import corpus


def test_the_same_seed_gives_the_same_corpus_and_another_seed_another() -> None:
    assert corpus.passages(300, seed=7) == corpus.passages(300, seed=7)
    assert corpus.passages(300, seed=7) != corpus.passages(300, seed=8)
    first = corpus.passages(300, seed=7)
    assert corpus.queries(first, 50, seed=7) == corpus.queries(first, 50, seed=7)


def test_passages_are_distinct_varied_and_of_chunk_length() -> None:
    passages = corpus.passages(3_000)
    texts = [p.text for p in passages]
    assert len(set(texts)) == len(texts)
    words = [len(t.split()) for t in texts]
    assert min(words) >= 30 and max(words) <= 90 and 40 <= statistics.median(words) <= 80
    # not near-duplicates: few passages share their opening words
    assert len({" ".join(t.split()[:8]) for t in texts}) > 0.9 * len(texts)
    assert all(not re.search(r"[\[\]{}|]", p.text + p.question) for p in passages)


def test_a_question_names_its_subject_and_ends_with_a_question_mark() -> None:
    passages = corpus.passages(500, seed=3)
    for query in corpus.queries(passages, 100, seed=3):
        assert query.text.endswith("?")
        assert query.text != passages[query.source].text.split(".")[0]
    sources = [q.source for q in corpus.queries(passages, 100, seed=3)]
    assert len(set(sources)) == 100


def test_every_template_of_every_domain_fills() -> None:
    rng = random.Random(0)
    for domain in corpus._DOMAINS:
        for statement, question in domain.facts:
            values: dict[str, str] = {}
            corpus._fill(domain.subject, values, rng)
            values["subject"] = "the subject"
            for text in (corpus._fill(statement, values, rng), corpus._fill(question, values, rng)):
                assert not re.search(r"[\[\]{}|]", text), text
