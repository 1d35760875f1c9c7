"""The per-replica semantic index: nearest questions within one partition only,
expiry, eviction of the oldest past the limit, rebuild after many deaths, purges."""

from __future__ import annotations

import time

import numpy as np

from envelope.cache.semantic_index import REBUILD_MIN_DEAD, Entry, SemanticIndex

RNG = np.random.default_rng(7)
FAR = time.time() + 3600


def unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def random_vectors(n: int) -> np.ndarray:
    return np.stack([unit(RNG.standard_normal(384)) for _ in range(n)])


def near(vector: np.ndarray, noise: float = 0.05) -> np.ndarray:
    return unit(vector + noise * RNG.standard_normal(384) / np.sqrt(384) * 10)


def test_the_nearest_question_comes_first_with_its_cosine() -> None:
    index = SemanticIndex(max_entries=100)
    vectors = random_vectors(20)
    for i, v in enumerate(vectors):
        index.add("acme:faq:p", v, Entry(f"k{i}", f"q{i}", FAR))
    found = index.search("acme:faq:p", near(vectors[7]), k=3)
    assert found[0].entry.key == "k7"
    assert abs(found[0].similarity - float(np.dot(near(vectors[7], 0.0), vectors[7]))) < 0.2
    assert found[0].similarity >= found[1].similarity >= found[2].similarity
    assert len(index) == 20


def test_a_search_never_leaves_its_partition() -> None:
    index = SemanticIndex(max_entries=100)
    v = random_vectors(1)[0]
    index.add("acme:faq:p", v, Entry("acme-key", "q", FAR))
    assert index.search("beta:faq:p", v, k=4) == []
    assert index.search("acme:faq:other", v, k=4) == []
    assert [c.entry.key for c in index.search("acme:faq:p", v, k=4)] == ["acme-key"]


def test_expired_entries_are_not_found() -> None:
    index = SemanticIndex(max_entries=100)
    v = random_vectors(1)[0]
    index.add("t:r:p", v, Entry("k", "q", time.time() + 0.5))
    assert index.search("t:r:p", v, k=1)
    assert index.search("t:r:p", v, k=1, now=time.time() + 1.0) == []
    assert len(index) == 0


def test_the_oldest_go_first_past_max_entries() -> None:
    index = SemanticIndex(max_entries=5)
    vectors = random_vectors(8)
    for i, v in enumerate(vectors):
        index.add("t:r:p", v, Entry(f"k{i}", f"q{i}", FAR))
    assert len(index) == 5
    assert all(c.entry.key != "k0" for c in index.search("t:r:p", vectors[0], k=5))
    assert index.search("t:r:p", vectors[7], k=1)[0].entry.key == "k7"


def test_the_same_question_again_replaces_the_older_entry() -> None:
    index = SemanticIndex(max_entries=10)
    v = random_vectors(1)[0]
    index.add("t:r:p", v, Entry("old", "same question", FAR))
    index.add("t:r:p", v, Entry("new", "same question", FAR))
    assert len(index) == 1
    assert [c.entry.key for c in index.search("t:r:p", v, k=4)] == ["new"]


def test_a_partition_full_of_tombstones_is_rebuilt_and_still_finds_the_living() -> None:
    index = SemanticIndex(max_entries=10_000)
    count = 3 * REBUILD_MIN_DEAD
    vectors = random_vectors(count)
    for i, v in enumerate(vectors):
        index.add("t:r:p", v, Entry(f"k{i}", f"q{i}", FAR))
    for i in range(0, count, 4):  # keep every fourth
        for j in range(i + 1, min(i + 4, count)):
            index.discard("t:r:p", f"k{j}")
    assert len(index) == count // 4
    for i in range(0, count, 4):
        assert index.search("t:r:p", vectors[i], k=1)[0].entry.key == f"k{i}"
    # without a rebuild 144 tombstones would be left beside 48 living entries
    assert index.tombstones <= len(index)


def test_purge_by_tenant_and_by_route() -> None:
    index = SemanticIndex(max_entries=100)
    v = random_vectors(3)
    index.add("acme:faq:p", v[0], Entry("a", "q", FAR))
    index.add("acme:chat:p", v[1], Entry("b", "q", FAR))
    index.add("beta:faq:p", v[2], Entry("c", "q", FAR))
    assert index.purge(tenant="acme", route="faq") == 1
    assert index.purge(route="faq") == 1
    assert len(index) == 1 and index.search("acme:chat:p", v[1], k=1)[0].entry.key == "b"
    assert index.purge() == 1 and len(index) == 0


def test_a_batch_repeating_a_question_keeps_the_later_and_loses_no_other_entry() -> None:
    index = SemanticIndex(max_entries=10_000)
    vectors = random_vectors(100 + 4)
    for i in range(100):
        index.add("t:r:p", vectors[i], Entry(f"k{i}", f"q{i}", FAR))
    for i in range(63):  # one tombstone short of a rebuild
        index.discard("t:r:p", f"k{i}")
    batch = [Entry("first", "again", FAR), Entry("second", "again", FAR), Entry("b", "qb", FAR), Entry("c", "qc", FAR)]
    index.add_many("t:r:p", vectors[100:], batch)
    assert len(index) == 37 + 3
    assert index.search("t:r:p", vectors[101], k=1)[0].entry.key == "second"
    assert index.search("t:r:p", vectors[102], k=1)[0].entry.key == "b"
    assert index.search("t:r:p", vectors[103], k=1)[0].entry.key == "c"
    for i in range(63, 100):
        assert index.search("t:r:p", vectors[i], k=1)[0].entry.key == f"k{i}"
