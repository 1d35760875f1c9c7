"""The retrieval benchmark end to end on a tiny corpus (real MiniLM), and its cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from envelope.bench.retrieval import measure, recall


def test_recall_counts_the_true_neighbours_found_in_the_top_k() -> None:
    truth = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int64)
    found = np.array([[1, 3, 9], [6, 7, 8]], dtype=np.int64)
    assert recall(found, truth, 1) == 0.5
    assert recall(found, truth, 3) == (2 / 3 + 1 / 3) / 2


def test_a_small_run_measures_every_index_and_caches_the_vectors(tmp_path: Path) -> None:
    lines: list[str] = []
    first = measure(300, queries=30, cache_dir=tmp_path, progress=lines.append)
    assert not first.embedding.cached and first.embedding.chunks_per_s > 0
    assert first.accurate_kind == "flat" and first.queries == 30
    assert [c.index for c in first.indexes] == [
        "fast (HNSW)",
        "accurate (flat + re-rank)",
        "accurate (flat, no re-rank)",
        "exact (brute force)",
    ]
    for cost in first.indexes:
        assert 0 < cost.p50_us <= cost.p99_us and cost.memory_mb > 0
    assert first.indexes[-1].recall_at_10 == first.indexes[1].recall_at_10 == 1.0
    assert first.query_source_in_top10 > 0.5  # a question finds the chunk it was written from
    assert any("embedded 300" in line for line in lines)

    again = measure(300, queries=30, cache_dir=tmp_path, progress=lines.append)
    assert again.embedding.cached and again.embedding.seconds == first.embedding.seconds
    assert any("read from" in line for line in lines)
