"""The semantic cache's lookup cost at 10k, 100k and 1M indexed questions, in process.

A lookup is what the cache stage does after the embedding: search the request's
partition for the nearest `candidates` questions and run the guard on those above the
threshold. All entries sit in one partition — the worst case, one tenant's one route.

Embedding a million real questions would take hours here, so the indexed vectors are
synthetic but shaped like real ones: the MiniLM embeddings of the project's shipped
questions (cache pairs and classifier prompts) as centres, each entry a centre plus
Gaussian noise, renormalised (neighbours of one centre have cosine ≈ 0.75, as
related questions do). Probes: half are stored vectors slightly moved (a paraphrase:
their own entry should come first — the share that does is the recall), half new
vectors (a miss).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from envelope.cache import evaluation
from envelope.cache.semantic_index import Entry, SemanticIndex
from envelope.classifier import dataset
from envelope.core.cache_guard import conflict
from envelope.embeddings.embedder import loader

PARTITION = "bench:faq:p"
THRESHOLD = 0.9
CHUNK = 50_000


@dataclass(frozen=True, slots=True)
class LookupCost:
    entries: int
    build_s: float  # to index them all, faiss on every core
    lookup_p50_us: float
    lookup_p99_us: float
    lookup_cpu_us: float  # mean CPU per lookup
    recall: float  # paraphrase probes whose own entry came first
    index_mb: float  # vectors and graph links, estimated


def measure(sizes: list[int], *, probes: int = 2000, candidates: int = 4, seed: int = 0) -> list[LookupCost]:
    rng = np.random.default_rng(seed)
    texts = _questions()
    centres = loader("onnx")().encode(texts, batch_size=32).vectors.astype(np.float32)
    return [_measure_one(size, centres, texts, rng, probes=probes, candidates=candidates) for size in sizes]


def _measure_one(
    size: int,
    centres: np.ndarray[Any, Any],
    texts: list[str],
    rng: np.random.Generator,
    *,
    probes: int,
    candidates: int,
) -> LookupCost:
    index = SemanticIndex(max_entries=size)
    far = time.time() + 86400
    stored = np.sort(rng.choice(size, min(probes // 2, size), replace=False))
    kept = []  # the vectors of the stored entries that will be probed
    started = time.perf_counter()
    for start in range(0, size, CHUNK):
        count = min(CHUNK, size - start)
        entries = [Entry(f"bench:faq:{i}", f"{texts[i % len(texts)]} #{i}", far) for i in range(start, start + count)]
        points = _points(centres, rng, count, noise=0.6)
        index.add_many(PARTITION, points, entries)
        kept.append(points[stored[(stored >= start) & (stored < start + count)] - start])
    build_s = time.perf_counter() - started

    near = _unit(np.vstack(kept) + rng.normal(0, 0.1 / np.sqrt(384), (len(stored), 384)))
    queries = np.vstack([near, _points(centres, rng, probes - len(stored), noise=0.6)])
    asked = [f"{texts[i % len(texts)]} #{i}" for i in stored] + ["a question not asked before"] * (probes - len(stored))

    times = []
    cpu = time.process_time()
    for vector, question in zip(queries, asked, strict=True):
        began = time.perf_counter()
        for candidate in index.search(PARTITION, vector, k=candidates):
            if candidate.similarity < THRESHOLD or conflict(question, candidate.entry.text) is None:
                break
        times.append(time.perf_counter() - began)
    cpu_us = (time.process_time() - cpu) * 1e6 / probes
    found_own = 0
    for i, vector in zip(stored, near, strict=True):
        first = index.search(PARTITION, vector, k=1)
        found_own += bool(first) and first[0].entry.key == f"bench:faq:{i}"
    times.sort()
    return LookupCost(
        entries=size,
        build_s=build_s,
        lookup_p50_us=statistics.median(times) * 1e6,
        lookup_p99_us=times[min(len(times) - 1, int(len(times) * 0.99))] * 1e6,
        lookup_cpu_us=cpu_us,
        recall=found_own / max(len(stored), 1),
        index_mb=size * (384 * 4 + 32 * 2 * 4) / 1e6,
    )


def _questions() -> list[str]:
    pairs = evaluation.load()
    texts = {t for p in pairs for t in (p.cached, p.query)} | {p.text for p in dataset.load()}
    return sorted(texts)


def _points(
    centres: np.ndarray[Any, Any], rng: np.random.Generator, count: int, *, noise: float
) -> np.ndarray[Any, Any]:
    chosen = centres[rng.integers(0, len(centres), count)]
    return _unit(chosen + rng.normal(0, noise / np.sqrt(384), (count, 384)))


def _unit(vectors: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    unit: np.ndarray[Any, Any] = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    return unit
