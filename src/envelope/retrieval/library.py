"""The knowledge bases on disk: versions written whole, then made current atomically.

    DIRECTORY/NAME/CURRENT            the current version's number (replaced atomically)
    DIRECTORY/NAME/v000007/manifest.json   documents, their chunk rows, chunking settings
    DIRECTORY/NAME/v000007/chunks.jsonl    one chunk a line: text, source, tokens
    DIRECTORY/NAME/v000007/index/          the chunk vectors and both indexes (`ChunkIndex`)

`envelope kb ingest` writes a new version beside the current one and then replaces
CURRENT, so a gateway reading the base never sees half a version; gateways poll
CURRENT (`retrieval/shelf.py`). The two newest versions are kept (a gateway may still
be loading the previous one), older ones are removed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from envelope.retrieval.index import ChunkIndex

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
KEEP_VERSIONS = 2


class KnowledgeBaseError(ValueError):
    """A knowledge base that is missing, misnamed or unreadable."""


@dataclass(frozen=True, slots=True)
class DocumentEntry:
    """One ingested file: its content digest and the rows of its chunks."""

    path: str
    sha256: str
    kind: str
    title: str | None
    first: int
    count: int


@dataclass(frozen=True, slots=True)
class StoredChunk:
    text: str
    source: str
    tokens: int


@dataclass(frozen=True, slots=True)
class Manifest:
    name: str
    version: int
    created: float
    chunk_tokens: int
    overlap_tokens: int
    embedding_model: str
    documents: tuple[DocumentEntry, ...]
    chunks: int
    accurate_kind: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        raw: dict[str, Any] = json.loads(text)
        raw["documents"] = tuple(DocumentEntry(**d) for d in raw["documents"])
        return cls(**raw)


@dataclass(frozen=True, slots=True, eq=False)
class KnowledgeBase:
    """One version of a knowledge base, loaded: its chunks and their indexes."""

    manifest: Manifest
    chunks: tuple[StoredChunk, ...]
    index: ChunkIndex

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> int:
        return self.manifest.version


class Library:
    """The directory of knowledge bases."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.name for p in self.directory.iterdir() if (p / "CURRENT").is_file())

    def current(self, name: str) -> int | None:
        """The current version of `name`, or None if it has none (cheap: one small read)."""
        try:
            return int((self._base(name) / "CURRENT").read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def load(self, name: str, version: int | None = None) -> KnowledgeBase:
        version = self.current(name) if version is None else version
        if version is None:
            raise KnowledgeBaseError(f"knowledge base {name!r} does not exist in {self.directory}")
        folder = self._base(name) / _folder(version)
        try:
            manifest = Manifest.from_json((folder / "manifest.json").read_text())
            with (folder / "chunks.jsonl").open(encoding="utf-8") as lines:
                chunks = tuple(StoredChunk(**json.loads(line)) for line in lines)
            index = ChunkIndex.load(folder / "index")
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise KnowledgeBaseError(f"knowledge base {name!r} v{version} is unreadable: {exc}") from exc
        if len(chunks) != manifest.chunks or len(index) != manifest.chunks:
            raise KnowledgeBaseError(f"knowledge base {name!r} v{version}: chunks and index disagree")
        return KnowledgeBase(manifest, chunks, index)

    def write(
        self,
        manifest: Manifest,
        chunks: list[StoredChunk],
        vectors: NDArray[np.float32],
    ) -> Manifest:
        """Build the indexes and write `manifest`'s content as the next version, then make it
        current. Returns the manifest as written (its version and accurate index kind)."""
        base = self._base(manifest.name)
        base.mkdir(parents=True, exist_ok=True)
        version = max([*self._versions(base), self.current(manifest.name) or 0]) + 1
        index = ChunkIndex.build(vectors)
        written = Manifest(
            **{
                **asdict(manifest),
                "documents": manifest.documents,
                "version": version,
                "created": time.time(),
                "chunks": len(chunks),
                "accurate_kind": index.accurate_kind,
            }
        )
        staging = base / f".staging-{os.getpid()}-{version}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        with (staging / "chunks.jsonl").open("w", encoding="utf-8") as out:
            for chunk in chunks:
                out.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
        index.save(staging / "index")
        (staging / "manifest.json").write_text(written.to_json())
        staging.rename(base / _folder(version))
        pointer = base / f".CURRENT-{os.getpid()}"
        pointer.write_text(f"{version}\n")
        os.replace(pointer, base / "CURRENT")
        for old in sorted(self._versions(base))[:-KEEP_VERSIONS]:
            shutil.rmtree(base / _folder(old), ignore_errors=True)
        return written

    def delete(self, name: str) -> bool:
        """Remove knowledge base `name` altogether; False if there was none."""
        base = self._base(name)
        if not base.exists():
            return False
        (base / "CURRENT").unlink(missing_ok=True)  # readers stop seeing it first
        shutil.rmtree(base)
        return True

    def _base(self, name: str) -> Path:
        check_name(name)
        return self.directory / name

    @staticmethod
    def _versions(base: Path) -> list[int]:
        return [int(p.name[1:]) for p in base.glob("v[0-9]*") if p.name[1:].isdigit()]


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise KnowledgeBaseError(
            f"knowledge base name {name!r}: use letters, digits, '_', '.' or '-' (at most 64, not starting with . _ -)"
        )
    return name


def _folder(version: int) -> str:
    return f"v{version:06d}"
