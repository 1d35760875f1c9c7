"""The process's MiniLM as an async service: loaded on first use, concurrent calls
micro-batched (`Batcher`) into shared forward passes of at most `max_batch` inputs,
each run in a worker thread so the event loop stays free.

One instance serves both the `minilm` embeddings provider and the classifier when
both are configured (bootstrap shares it): one copy of the weights per process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

from envelope.embeddings.batcher import Batcher
from envelope.embeddings.minilm import Embedded, MiniLM

MODEL_NAME = "all-MiniLM-L6-v2"
Runtime = Literal["onnx", "numpy"]


class SentenceEncoder(Protocol):
    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> Embedded: ...


def loader(runtime: Runtime) -> Callable[[], SentenceEncoder]:
    """How to load the model for a runtime: ONNX Runtime (≈1.5–2× faster) or numpy
    (no extra dependency in play); both give the same vectors (cosine ≥ 0.99999)."""
    if runtime == "onnx":
        from envelope.embeddings.onnx_minilm import OnnxMiniLM  # onnxruntime loads only if chosen

        return OnnxMiniLM.load
    return MiniLM.load


@dataclass(frozen=True, slots=True)
class Row:
    """One input's unit vector and the tokens it used."""

    vector: np.ndarray[Any, np.dtype[np.float32]]
    tokens: int


class Embedder:
    def __init__(self, max_batch: int = 32, runtime: Runtime = "onnx") -> None:
        self._max_batch = max_batch
        self._load = loader(runtime)
        self._lock = asyncio.Lock()
        self._model: SentenceEncoder | None = None
        self._batcher: Batcher[str, Row] = Batcher(self._embed_batch, max_batch=max_batch)

    async def embed(self, texts: list[str]) -> list[Row]:
        """One row per text, in order. Loading errors (the wheel missing, a broken file)
        and encoding errors propagate as they are; callers say what they mean to them."""
        return await self._batcher.submit(texts)

    async def load(self) -> SentenceEncoder:
        async with self._lock:
            if self._model is None:
                self._model = await asyncio.to_thread(self._load)
            return self._model

    async def close(self) -> None:
        """Stop the batching worker; the loaded model is simply dropped."""
        await self._batcher.close()

    async def _embed_batch(self, texts: list[str]) -> list[Row]:
        """One forward pass, in a worker thread; runs in the batcher's task, not a caller's."""
        model = await self.load()
        embedded = await asyncio.to_thread(model.encode, texts, batch_size=self._max_batch)
        return [Row(vector, tokens) for vector, tokens in zip(embedded.vectors, embedded.tokens, strict=True)]
