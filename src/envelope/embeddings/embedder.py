"""The process's MiniLM as an async service: loaded on first use, concurrent calls
micro-batched (`Batcher`) into shared forward passes of at most `max_batch` inputs,
each run in a worker thread so the event loop stays free.

One instance serves both the `minilm` embeddings provider and the classifier when
both are configured (bootstrap shares it): one copy of the weights per process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from envelope.embeddings.batcher import Batcher
from envelope.embeddings.minilm import MiniLM

MODEL_NAME = "all-MiniLM-L6-v2"


@dataclass(frozen=True, slots=True)
class Row:
    """One input's unit vector and the tokens it used."""

    vector: np.ndarray[Any, np.dtype[np.float32]]
    tokens: int


class Embedder:
    def __init__(self, max_batch: int = 32, load: Callable[[], MiniLM] = MiniLM.load) -> None:
        self._max_batch = max_batch
        self._load = load
        self._lock = asyncio.Lock()
        self._model: MiniLM | None = None
        self._batcher: Batcher[str, Row] = Batcher(self._embed_batch, max_batch=max_batch)

    async def embed(self, texts: list[str]) -> list[Row]:
        """One row per text, in order. Loading errors (the wheel missing, a broken file)
        and encoding errors propagate as they are; callers say what they mean to them."""
        return await self._batcher.submit(texts)

    async def load(self) -> MiniLM:
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
