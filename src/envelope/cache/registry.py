"""Build the answer store a config names (the only dispatch on its URL)."""

from __future__ import annotations

from envelope.cache.memory import MemoryAnswers
from envelope.cache.ports import AnswerStore
from envelope.cache.redis import RedisAnswers
from envelope.config.documents import CacheDoc


def build(doc: CacheDoc) -> AnswerStore:
    if doc.store_url.startswith("redis://"):
        return RedisAnswers(doc.store_url, prefix=doc.key_prefix, timeout_s=doc.timeout_s)
    return MemoryAnswers(doc.max_entries)
