"""Ingest files into a knowledge base: load, chunk with overlap, embed in batches, index.

An ingest into an existing base is an update: files whose content (SHA-256) and
chunking settings are unchanged keep their chunks and vectors (nothing re-embedded);
changed and new files are chunked and embedded; `remove` drops documents. Every change
writes a new version (`Library.write`); nothing changed writes nothing.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from envelope.embeddings.embedder import MODEL_NAME, SentenceEncoder
from envelope.retrieval.chunking import chunk
from envelope.retrieval.library import (
    DocumentEntry,
    KnowledgeBase,
    KnowledgeBaseError,
    Library,
    Manifest,
    StoredChunk,
    check_name,
)
from envelope.retrieval.loaders import expand, load

CHUNK_TOKENS = 200  # MiniLM reads at most 256 word pieces; o200k tokens run a little fewer
OVERLAP_TOKENS = 40

Progress = Callable[[int, int], None]  # (chunks embedded so far, chunks to embed)


@dataclass
class IngestReport:
    name: str
    version: int | None  # None: nothing changed, no version written
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    chunks: int = 0
    embedded: int = 0
    seconds: float = 0.0
    accurate_kind: str | None = None


@dataclass(frozen=True, slots=True)
class _Doc:
    entry: DocumentEntry  # first/count relative to this doc
    chunks: list[StoredChunk]
    vectors: NDArray[np.float32] | None  # None: to embed


def ingest(
    library: Library,
    name: str,
    paths: Sequence[Path],
    *,
    encoder: Callable[[], SentenceEncoder],
    count: Callable[[str], int],
    chunk_tokens: int | None = None,
    overlap_tokens: int | None = None,
    remove: Sequence[str] = (),
    batch_size: int = 64,
    progress: Progress | None = None,
) -> IngestReport:
    """Add or update the files under `paths` in knowledge base `name` (created if new) and
    drop the documents in `remove`. `encoder` is called only if something needs embedding."""
    started = time.perf_counter()
    check_name(name)
    previous = library.load(name) if library.current(name) is not None else None
    settings = _settings(previous, chunk_tokens, overlap_tokens)
    report = IngestReport(name, None)
    docs: dict[str, _Doc] = {} if previous is None else _carried(previous)
    rechunk = previous is not None and settings != (previous.manifest.chunk_tokens, previous.manifest.overlap_tokens)
    for named in remove:
        key = _known(docs, named)
        del docs[key]
        report.removed.append(key)
    for path in expand(list(paths)):
        key = str(path.resolve())
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        old = docs.get(key)
        if old is not None and old.entry.sha256 == digest and not rechunk:
            report.unchanged.append(key)
            continue
        (report.updated if old is not None else report.added).append(key)
        docs[key] = _chunked(path, key, digest, settings, count)
    if previous is not None and not (report.added or report.updated or report.removed):
        report.chunks = len(previous.chunks)
        report.seconds = time.perf_counter() - started
        return report
    report.embedded = _embed(docs, encoder, batch_size, progress)
    written = _write(library, name, settings, docs)
    report.version, report.chunks, report.accurate_kind = written.version, written.chunks, written.accurate_kind
    report.seconds = time.perf_counter() - started
    return report


def _settings(previous: KnowledgeBase | None, chunk_tokens: int | None, overlap_tokens: int | None) -> tuple[int, int]:
    base = (previous.manifest.chunk_tokens, previous.manifest.overlap_tokens) if previous else None
    size = chunk_tokens or (base[0] if base else CHUNK_TOKENS)
    overlap = overlap_tokens if overlap_tokens is not None else (base[1] if base else OVERLAP_TOKENS)
    if not 0 <= overlap < size:
        raise KnowledgeBaseError(f"overlap ({overlap} tokens) must be less than the chunk size ({size} tokens)")
    return size, overlap


def _carried(previous: KnowledgeBase) -> dict[str, _Doc]:
    """The previous version's documents with their chunks and vectors (a document given
    again with new chunking settings is re-chunked; the others keep theirs)."""
    vectors = previous.index.vectors
    docs = {}
    for entry in previous.manifest.documents:
        rows = slice(entry.first, entry.first + entry.count)
        docs[entry.path] = _Doc(entry, list(previous.chunks[rows]), np.array(vectors[rows], dtype=np.float32))
    return docs


def _known(docs: dict[str, _Doc], path: str) -> str:
    for key in (path, str(Path(path).resolve())):
        if key in docs:
            return key
    raise KnowledgeBaseError(f"{path}: no such document in the knowledge base")


def _chunked(path: Path, key: str, digest: str, settings: tuple[int, int], count: Callable[[str], int]) -> _Doc:
    source = load(path)
    pieces = chunk(source.text, max_tokens=settings[0], overlap_tokens=settings[1], count=count)
    label = source.title or path.name
    chunks = [StoredChunk(piece.text, label, piece.tokens) for piece in pieces]
    return _Doc(DocumentEntry(key, digest, source.kind, source.title, 0, len(chunks)), chunks, None)


def _embed(
    docs: dict[str, _Doc], encoder: Callable[[], SentenceEncoder], batch_size: int, progress: Progress | None
) -> int:
    todo = [(key, doc) for key, doc in docs.items() if doc.vectors is None]
    texts = [c.text for _, doc in todo for c in doc.chunks]
    if not texts:
        return 0
    model = encoder()
    rows: list[NDArray[np.float32]] = []
    for start in range(0, len(texts), batch_size):
        rows.append(np.asarray(model.encode(texts[start : start + batch_size], batch_size=batch_size).vectors))
        if progress is not None:
            progress(min(start + batch_size, len(texts)), len(texts))
    vectors = np.concatenate(rows).astype(np.float32)
    at = 0
    for key, doc in todo:
        n = len(doc.chunks)
        docs[key] = _Doc(doc.entry, doc.chunks, vectors[at : at + n])
        at += n
    return len(texts)


def _write(library: Library, name: str, settings: tuple[int, int], docs: dict[str, _Doc]) -> Manifest:
    entries: list[DocumentEntry] = []
    chunks: list[StoredChunk] = []
    vectors: list[NDArray[np.float32]] = []
    for key in sorted(docs):
        doc = docs[key]
        entry = doc.entry
        entries.append(DocumentEntry(entry.path, entry.sha256, entry.kind, entry.title, len(chunks), len(doc.chunks)))
        chunks.extend(doc.chunks)
        assert doc.vectors is not None
        vectors.append(doc.vectors)
    if not chunks:
        raise KnowledgeBaseError(f"knowledge base {name!r} would have no chunks (nothing to index)")
    manifest = Manifest(
        name=name,
        version=0,
        created=0.0,
        chunk_tokens=settings[0],
        overlap_tokens=settings[1],
        embedding_model=MODEL_NAME,
        documents=tuple(entries),
        chunks=len(chunks),
        accurate_kind="",
    )
    return library.write(manifest, chunks, np.concatenate(vectors).astype(np.float32))
