"""The shipped labelled pairs and the semantic cache's measured safety on them: the
scoring is checked on made-up similarities, then re-measured with the real MiniLM
and guard (the figures README.md reports)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envelope.cache import evaluation
from envelope.cache.evaluation import Pair
from envelope.embeddings.embedder import Embedder


def test_the_shipped_pairs_load_with_both_splits_and_every_kind() -> None:
    pairs = evaluation.load()
    assert len(pairs) >= 600
    assert {p.split for p in pairs} == {"dev", "test"}
    assert {p.kind for p in pairs} == set(evaluation.SAME_KINDS) | set(evaluation.OTHER_KINDS)
    assert len({(p.cached, p.query) for p in pairs}) == len(pairs)


def test_a_bad_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    good = {"cached": "a", "query": "b", "same": True, "kind": "paraphrase", "split": "dev"}
    path.write_text(json.dumps(good) + "\n" + json.dumps(good | {"kind": "negation"}) + "\n")
    with pytest.raises(ValueError, match=r"pairs\.jsonl:2"):
        evaluation.load(path)


def test_rates_count_served_pairs_and_the_guard_refuses_flips() -> None:
    pairs = [
        Pair("How do I reset my password?", "how can I reset my password", True, "paraphrase", "dev"),
        Pair("How do I enable 2FA?", "How do I disable 2FA?", False, "polarity", "dev"),
        Pair("What is the capital of Australia?", "What is the largest city in Australia?", False, "related", "dev"),
    ]
    sims = [0.95, 0.97, 0.80]
    guarded = evaluation.report(pairs, sims, threshold=0.9, guard=True)
    bare = evaluation.report(pairs, sims, threshold=0.9, guard=False)
    assert (guarded.hit_rate, guarded.false_hit_rate) == (1.0, 0.0)
    assert (bare.hit_rate, bare.false_hit_rate) == (1.0, 0.5)
    assert evaluation.report(pairs, sims, threshold=0.96, guard=False).hit_rate == 0.0
    # the lowest threshold with no false hit, similarity alone: just above the polarity pair
    assert evaluation.tune(pairs, sims, guard=False, max_false_hit_rate=0.0) == 0.975


async def test_measured_on_the_test_split_with_the_real_model() -> None:
    pairs = evaluation.load()
    embedder = Embedder()
    try:
        sims = await evaluation.similarities(pairs, embedder)
    finally:
        await embedder.close()
    dev = [(p, s) for p, s in zip(pairs, sims, strict=True) if p.split == "dev"]
    test = [(p, s) for p, s in zip(pairs, sims, strict=True) if p.split == "test"]
    threshold = evaluation.tune([p for p, _ in dev], [s for _, s in dev], guard=True, max_false_hit_rate=0.01)
    assert 0.85 <= threshold <= 0.95
    guarded = evaluation.report([p for p, _ in test], [s for _, s in test], threshold=threshold, guard=True)
    bare = evaluation.report([p for p, _ in test], [s for _, s in test], threshold=threshold, guard=False)
    # README: with the guard most false hits are gone while the hit rate barely moves
    assert guarded.false_hit_rate <= 0.06
    assert bare.false_hit_rate >= 5 * max(guarded.false_hit_rate, 0.01)
    assert guarded.hit_rate >= 0.35 and bare.hit_rate - guarded.hit_rate <= 0.05
    negations = next(t for t in guarded.kinds if t.kind == "negation")
    assert negations.rate <= 0.06
