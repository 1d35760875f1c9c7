"""Retrieval over a knowledge base of 100k+ chunks: recall and latency of its indexes.

No public corpus can be fetched here, so the chunks are `bench.corpus` passages (seeded,
varied English in ten domains) and the queries are questions written from randomly
picked chunks, both embedded with the real MiniLM on ONNX Runtime. Embedding 100k
chunks takes minutes on two cores, so the chunk vectors are cached in
`~/.cache/envelope/bench/` under the corpus version, model, size and seed, with the
throughput of the run that filled the cache.

Ground truth is exact inner-product search over every chunk vector; an index's
recall@k is the share of the exact top k it returns in its own top k, averaged over the
queries. Latency is one query at a time, in process, after a warm-up; builds use faiss's
threads on every core.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from envelope.bench import corpus
from envelope.embeddings.embedder import MODEL_NAME, SentenceEncoder, loader
from envelope.retrieval.index import ChunkIndex, IndexParams, accurate_index, fast_index

CACHE_DIR = Path.home() / ".cache" / "envelope" / "bench"
EMBED_BLOCK = 4096  # texts per encode call: long enough for length grouping, short enough for progress
WARMUP = 20
TOP = 10
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Embedding:
    """How fast the chunks were embedded (by the run that filled the cache, if `cached`)."""

    chunks: int
    seconds: float
    chunks_per_s: float
    tokens_per_s: float
    mean_tokens: float
    threads: int
    cached: bool


@dataclass(frozen=True, slots=True)
class IndexCost:
    """One way of searching: its recall against exact search, latency, build time and memory."""

    index: str
    recall_at_1: float
    recall_at_5: float
    recall_at_10: float
    p50_us: float
    p99_us: float
    build_s: float  # 0 for exact search, which needs nothing beyond the vectors
    memory_mb: float  # what it holds in memory to answer (the vectors count where it reads them)


@dataclass(frozen=True, slots=True)
class RetrievalCost:
    """The benchmark's figures for one corpus size."""

    chunks: int
    queries: int
    accurate_kind: str
    embedding: Embedding
    query_source_in_top10: float  # queries whose own chunk is in the exact top 10: they are answerable
    indexes: list[IndexCost]


def _silent(_: str) -> None:
    return None


def measure(
    chunks: int,
    *,
    queries: int = 500,
    seed: int = 0,
    params: IndexParams | None = None,
    cache_dir: Path = CACHE_DIR,
    threads: int = os.cpu_count() or 1,
    progress: Progress = _silent,
) -> RetrievalCost:
    """Generate and embed `chunks` passages (or read their cached vectors), build both
    indexes, and measure every way of searching with `queries` questions. Embedding
    runs on `threads` threads."""
    params = params or IndexParams()
    passages = corpus.passages(chunks, seed=seed)
    asked = corpus.queries(passages, queries, seed=seed)
    encoder = loader("onnx")()
    vectors, embedding = _chunk_vectors(
        encoder, [p.text for p in passages], cache_dir / _cache_name(chunks, seed), progress, threads=threads
    )
    probes = encoder.encode([q.text for q in asked], batch_size=32).vectors.astype(np.float32)

    index, fast_s, accurate_s = _build(vectors, params, progress)
    progress(f"measuring {len(asked)} queries, one at a time…")
    truth, _ = index.exact(probes, TOP)
    costs = [_cost(run, probes, truth) for run in _runs(index, fast_s=fast_s, accurate_s=accurate_s)]
    sources = [q.source for q in asked]
    return RetrievalCost(
        chunks=chunks,
        queries=len(asked),
        accurate_kind=index.accurate_kind,
        embedding=embedding,
        query_source_in_top10=float(np.mean([s in row for s, row in zip(sources, truth.tolist(), strict=True)])),
        indexes=costs,
    )


@dataclass(frozen=True, slots=True)
class _Run:
    name: str
    search: Callable[[NDArray[np.float32]], NDArray[np.int64]]  # one query → its top ids
    build_s: float
    memory_mb: float


def _build(vectors: NDArray[np.float32], params: IndexParams, progress: Progress) -> tuple[ChunkIndex, float, float]:
    """Both indexes, each timed: the index and the seconds each took."""
    progress(f"building the fast index (HNSW) over {len(vectors):,} chunks…")
    started = time.perf_counter()
    fast = fast_index(vectors, params)
    fast_s = time.perf_counter() - started
    progress(f"HNSW built in {fast_s:.1f} s; building the accurate index…")
    started = time.perf_counter()
    accurate, kind = accurate_index(vectors, params)
    accurate_s = time.perf_counter() - started
    progress(f"accurate index ({kind}) built in {accurate_s:.1f} s")
    index = ChunkIndex(vectors, fast=fast, accurate=accurate, accurate_kind=kind, params=params)
    return index, fast_s, accurate_s


def _runs(index: ChunkIndex, *, fast_s: float, accurate_s: float) -> list[_Run]:
    """Every way of searching `index`, with what it costs to build and hold."""
    size = index.footprint()
    mb = 1e-6
    approximate = "IVF-PQ" if index.accurate_kind == "ivfpq" else "flat"
    return [
        _Run("fast (HNSW)", lambda q: index.search(q, TOP, kind="fast")[0], fast_s, size.fast * mb),
        _Run(
            f"accurate ({approximate} + re-rank)",
            lambda q: index.search(q, TOP, kind="accurate")[0],
            accurate_s,
            (size.accurate + size.vectors) * mb,
        ),
        _Run(
            f"accurate ({approximate}, no re-rank)",
            lambda q: index.search(q, TOP, kind="accurate", rerank=False)[0],
            accurate_s,
            size.accurate * mb,
        ),
        _Run("exact (brute force)", lambda q: index.exact(q, TOP)[0], 0.0, size.vectors * mb),
    ]


def recall(found: NDArray[np.int64], truth: NDArray[np.int64], k: int) -> float:
    """Mean share of each query's true top `k` found in its returned top `k`."""
    hits = [len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found.tolist(), truth.tolist(), strict=True)]
    return float(np.mean(hits))


def _cost(run: _Run, probes: NDArray[np.float32], truth: NDArray[np.int64]) -> IndexCost:
    for probe in probes[:WARMUP]:
        run.search(probe)
    found = np.empty((len(probes), TOP), dtype=np.int64)
    times = []
    for row, probe in enumerate(probes):
        started = time.perf_counter()
        found[row] = run.search(probe)[0]
        times.append(time.perf_counter() - started)
    times.sort()
    return IndexCost(
        index=run.name,
        recall_at_1=recall(found, truth, 1),
        recall_at_5=recall(found, truth, 5),
        recall_at_10=recall(found, truth, 10),
        p50_us=statistics.median(times) * 1e6,
        p99_us=times[min(len(times) - 1, int(len(times) * 0.99))] * 1e6,
        build_s=run.build_s,
        memory_mb=run.memory_mb,
    )


def _cache_name(chunks: int, seed: int) -> str:
    return f"retrieval-corpus-v{corpus.VERSION}-{MODEL_NAME}-{chunks}-seed{seed}.npy"


def _chunk_vectors(
    encoder: SentenceEncoder, texts: Sequence[str], path: Path, progress: Progress, *, threads: int
) -> tuple[NDArray[np.float32], Embedding]:
    """The chunks' vectors from the cache, or embedded now and cached."""
    stats = path.with_suffix(".json")
    if path.exists() and stats.exists():
        cached: NDArray[np.float32] = np.load(path)
        try:
            figures = Embedding(**(json.loads(stats.read_text()) | {"cached": True}))
        except TypeError:  # figures of an older layout: embed again
            figures = None
        if figures is not None and len(cached) == len(texts):
            progress(f"chunk vectors read from {path}")
            return cached, figures
    blocks = []
    tokens = done = 0
    started = time.perf_counter()
    # a session runs each pass on one thread (as the gateway runs it), so blocks go to
    # a thread per core; ONNX Runtime releases the GIL while it computes
    with ThreadPoolExecutor(threads) as pool:
        size = min(EMBED_BLOCK, -(-len(texts) // threads))
        parts = [texts[start : start + size] for start in range(0, len(texts), size)]
        for embedded in pool.map(lambda part: encoder.encode(part, batch_size=32), parts):
            blocks.append(embedded.vectors.astype(np.float32))
            tokens += sum(embedded.tokens)
            done += len(embedded.tokens)
            progress(f"embedded {done:,} / {len(texts):,} chunks ({done / (time.perf_counter() - started):.0f}/s)")
    vectors: NDArray[np.float32] = np.vstack(blocks)
    seconds = time.perf_counter() - started
    embedding = Embedding(
        chunks=len(texts),
        seconds=seconds,
        chunks_per_s=len(texts) / seconds,
        tokens_per_s=tokens / seconds,
        mean_tokens=tokens / len(texts),
        threads=threads,
        cached=False,
    )
    _write_cache(path, vectors, embedding)
    return vectors, embedding


def _write_cache(path: Path, vectors: NDArray[np.float32], embedding: Embedding) -> None:
    """Vectors then figures, each renamed into place: a half-written cache is never read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    with partial.open("wb") as file:
        np.save(file, vectors, allow_pickle=False)
    os.replace(partial, path)
    figures: dict[str, Any] = asdict(embedding)
    del figures["cached"]
    partial.write_text(json.dumps(figures))
    os.replace(partial, path.with_suffix(".json"))
