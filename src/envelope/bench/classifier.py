"""The classifier's cost per request, apart from the gateway's: the MiniLM embedding
(alone, and micro-batched as concurrent requests share forward passes) on each
runtime, and the three logistic-regression heads with the risk rules. Measured in
process over the held-out prompts of the shipped set (`envelope/classifier/data`),
one thread, as `envelope serve` runs it."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from envelope.classifier import dataset
from envelope.classifier.model import Classifier
from envelope.embeddings.embedder import Runtime, loader


@dataclass(frozen=True, slots=True)
class ClassifierCost:
    runtime: str
    prompts: int
    embed_single_p50_ms: float  # one request alone: its own forward pass
    embed_single_p99_ms: float
    embed_batched_ms: float  # per request when 32 requests share forward passes
    heads_and_rules_us: float  # per request, after the embedding
    cpu_single_ms: float  # CPU per request, alone
    cpu_batched_ms: float  # CPU per request, batched


def measure(runtime: Runtime, rounds: int = 2) -> ClassifierCost:
    texts = [p.text for p in dataset.split(dataset.load()).held_out]
    model, classifier = loader(runtime)(), Classifier.load()
    model.encode(texts[:8])  # warm up

    singles: list[float] = []
    cpu = time.process_time()
    for _ in range(rounds):
        for text in texts:
            started = time.perf_counter()
            model.encode([text])
            singles.append((time.perf_counter() - started) * 1000.0)
    cpu_single = (time.process_time() - cpu) * 1000.0 / len(singles)

    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        vectors = model.encode(texts, batch_size=32).vectors
    batched = (time.perf_counter() - started) * 1000.0 / (rounds * len(texts))
    cpu_batched = (time.process_time() - cpu) * 1000.0 / (rounds * len(texts))

    started = time.perf_counter()
    for _ in range(rounds * 10):
        for vector, text in zip(vectors, texts, strict=True):
            classifier.classify(vector, text)
    heads = (time.perf_counter() - started) * 1e6 / (rounds * 10 * len(texts))

    singles.sort()
    return ClassifierCost(
        runtime=runtime,
        prompts=len(texts),
        embed_single_p50_ms=statistics.median(singles),
        embed_single_p99_ms=singles[min(len(singles) - 1, int(len(singles) * 0.99))],
        embed_batched_ms=batched,
        heads_and_rules_us=heads,
        cpu_single_ms=cpu_single,
        cpu_batched_ms=cpu_batched,
    )
