"""Build the cache stores a config names (the only dispatch on its URL)."""

from __future__ import annotations

from envelope.cache.memory import MemoryAnswers
from envelope.cache.ports import AnswerStore, IndexFeed
from envelope.cache.redis import RedisAnswers, RedisFeed
from envelope.config.documents import CacheDoc


def build(doc: CacheDoc) -> AnswerStore:
    if doc.store_url.startswith("redis://"):
        return RedisAnswers(doc.store_url, prefix=doc.key_prefix, timeout_s=doc.timeout_s)
    return MemoryAnswers(doc.max_entries)


def build_feed(doc: CacheDoc) -> IndexFeed | None:
    """The semantic index's shared feed; none for memory:// (one process)."""
    if doc.store_url.startswith("redis://"):
        return RedisFeed(
            doc.store_url,
            prefix=doc.key_prefix,
            timeout_s=max(doc.timeout_s, 1.0),
            max_records=doc.semantic.max_entries,
        )
    return None
