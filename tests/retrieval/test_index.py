"""`ChunkIndex`: recall of both indexes against exact search, re-ranking, padding, save/load.

The vectors are clustered random unit vectors (a centre plus noise, as embeddings of
related texts are), small enough that the whole module runs in about ten seconds.
Recall floors are the measured figures (seeds 0–2) less a margin.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from envelope.retrieval.index import IVFPQ_MIN_VECTORS, ChunkIndex, IndexKind, IndexParams

DIM = 384
# a cheaper graph than the defaults keeps the build quick; the IVF-PQ side keeps its defaults
PARAMS = IndexParams(hnsw_m=16, ef_construction=40)
Matrix = np.ndarray[Any, np.dtype[np.float32]]
CASES: list[tuple[IndexKind, bool]] = [("fast", True), ("accurate", True), ("accurate", False)]


def _unit(rows: np.ndarray[Any, Any]) -> Matrix:
    unit: Matrix = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
    return unit


def _clustered(n: int, *, seed: int = 0, queries: int = 200) -> tuple[Matrix, Matrix]:
    rng = np.random.default_rng(seed)
    centres = _unit(rng.normal(size=(100, DIM)))
    vectors = _unit(centres[rng.integers(0, 100, n)] + rng.normal(0, 1.2 / np.sqrt(DIM), (n, DIM)))
    probes = _unit(vectors[rng.integers(0, n, queries)] + rng.normal(0, 0.6 / np.sqrt(DIM), (queries, DIM)))
    return vectors, probes


def _recall(found: np.ndarray[Any, Any], truth: np.ndarray[Any, Any]) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found.tolist(), truth.tolist(), strict=True)]))


@pytest.fixture(scope="module")
def small() -> tuple[ChunkIndex, Matrix]:
    vectors, queries = _clustered(2_000)
    return ChunkIndex.build(vectors, PARAMS), queries


@pytest.fixture(scope="module")
def large() -> tuple[ChunkIndex, Matrix]:
    vectors, queries = _clustered(IVFPQ_MIN_VECTORS)
    return ChunkIndex.build(vectors, PARAMS), queries


def test_a_small_base_searches_exactly_for_accuracy(small: tuple[ChunkIndex, Matrix]) -> None:
    index, queries = small
    truth, truth_scores = index.exact(queries, 10)
    assert index.accurate_kind == "flat" and len(index) == 2_000 and index.dim == DIM
    ids, scores = index.search(queries, 10, kind="accurate")
    assert _recall(ids, truth) == 1.0
    np.testing.assert_allclose(scores, truth_scores, rtol=1e-5)
    assert _recall(index.search(queries, 10, kind="fast")[0], truth) >= 0.98  # measured ≥ 0.999


def test_a_large_base_trains_ivfpq_and_both_indexes_find_the_true_neighbours(
    large: tuple[ChunkIndex, Matrix],
) -> None:
    index, queries = large
    truth, _ = index.exact(queries, 10)
    assert index.accurate_kind == "ivfpq"
    assert _recall(index.search(queries, 10, kind="fast")[0], truth) >= 0.98  # measured ≥ 0.999
    assert _recall(index.search(queries, 10, kind="accurate")[0], truth) >= 0.92  # measured ≥ 0.954


def test_reranking_beats_the_pq_approximation_and_gives_exact_scores(large: tuple[ChunkIndex, Matrix]) -> None:
    index, queries = large
    truth, _ = index.exact(queries, 10)
    ids, scores = index.search(queries, 10, kind="accurate")
    rough_ids, rough_scores = index.search(queries, 10, kind="accurate", rerank=False)
    assert _recall(ids, truth) >= _recall(rough_ids, truth) + 0.2  # measured 0.95 against 0.56
    vectors, _ = _clustered(IVFPQ_MIN_VECTORS)
    exact = np.einsum("qkd,qd->qk", vectors[ids], queries)
    np.testing.assert_allclose(scores, exact, rtol=1e-4, atol=1e-6)
    assert np.all(np.diff(scores, axis=1) <= 0)
    assert not np.allclose(rough_scores, np.einsum("qkd,qd->qk", vectors[rough_ids], queries), atol=1e-3)


def test_save_and_load_give_identical_results(large: tuple[ChunkIndex, Matrix], tmp_path: Path) -> None:
    index, queries = large
    index.save(tmp_path / "kb")
    for mmap in (True, False):
        loaded = ChunkIndex.load(tmp_path / "kb", mmap=mmap)
        assert (len(loaded), loaded.dim, loaded.accurate_kind, loaded.params) == (
            len(index), index.dim, index.accurate_kind, index.params,
        )  # fmt: skip
        for kind, rerank in CASES:
            before = index.search(queries, 10, kind=kind, rerank=rerank)
            after = loaded.search(queries, 10, kind=kind, rerank=rerank)
            np.testing.assert_array_equal(before[0], after[0])
            np.testing.assert_array_equal(before[1], after[1])
    loaded.save(tmp_path / "kb")  # over the files it was mapped from
    np.testing.assert_array_equal(ChunkIndex.load(tmp_path / "kb").exact(queries, 5)[0], index.exact(queries, 5)[0])


def test_places_past_the_last_chunk_are_empty() -> None:
    vectors, queries = _clustered(50, queries=3)
    index = ChunkIndex.build(vectors, PARAMS)
    for ids, scores in (
        index.search(queries, 60, kind="fast"),
        index.search(queries, 60, kind="accurate"),
        index.exact(queries, 60),
    ):
        assert ids.shape == scores.shape == (3, 60)
        assert np.all(ids[:, 50:] == -1) and np.all(scores[:, 50:] == -np.inf)
        assert all(sorted(row) == list(range(50)) for row in ids[:, :50].tolist())


def test_one_vector_is_one_query(small: tuple[ChunkIndex, Matrix]) -> None:
    index, queries = small
    for kind in ("fast", "accurate"):
        ids, scores = index.search(queries[0], 5, kind=kind)
        assert ids.shape == scores.shape == (1, 5)
        np.testing.assert_array_equal(ids, index.search(queries[:1], 5, kind=kind)[0])
    assert index.exact(queries[0], 5)[0].shape == (1, 5)


def test_concurrent_searches_agree_with_sequential_ones(large: tuple[ChunkIndex, Matrix]) -> None:
    index, queries = large
    expected = [index.search(q, 10, kind="accurate")[0] for q in queries[:40]]
    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(lambda q: index.search(q, 10, kind="accurate")[0], queries[:40]))
    for want, got in zip(expected, found, strict=True):
        np.testing.assert_array_equal(want, got)


def test_bad_arguments_are_refused(small: tuple[ChunkIndex, Matrix]) -> None:
    index, queries = small
    with pytest.raises(ValueError, match="k must be"):
        index.search(queries, 0, kind="fast")
    with pytest.raises(ValueError, match="384-d"):
        index.search(queries[:, :100], 5, kind="fast")
    with pytest.raises(ValueError, match="unknown index kind"):
        index.search(queries, 5, kind="slow")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        IndexParams(pq_m=0)
    with pytest.raises(ValueError, match="non-empty"):
        ChunkIndex.build(np.zeros((0, DIM), dtype=np.float32))


def test_automatic_lists_leave_enough_training_points_per_list() -> None:
    params = IndexParams()
    assert params.lists(100_000) == 1265  # ≈ 4·√n
    assert params.lists(10_000) == 256  # 10,000 / 39
    assert IndexParams(nlist=100).lists(100_000) == 100
    assert params.candidates(1) == 32 and params.candidates(10) == 40
