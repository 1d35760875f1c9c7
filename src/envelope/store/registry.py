"""Choose a store adapter from a URL (the only dispatch on it)."""

from __future__ import annotations

from envelope.store.memory import MemoryStore
from envelope.store.ports import Store
from envelope.store.sql import SQLStore


def build(url: str) -> Store:
    """`memory://` keeps everything in process; any SQLAlchemy async URL goes to SQL."""
    if url == "memory://":
        return MemoryStore()
    return SQLStore(url)
