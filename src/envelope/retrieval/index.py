"""A knowledge base's chunk vectors and its two indexes, *fast* and *accurate*.

The vectors are float32 unit rows (MiniLM, 384-d); a chunk's id is its row number, so
the indexes need no id map and the rows double as the exact store for re-ranking.

- **fast**: a faiss `IndexHNSWFlat` graph, inner product. Its scores are exact (the
  graph keeps full vectors); only the neighbours it reaches are approximate.
- **accurate**: a faiss `IndexIVFPQ` over an `IndexFlatIP` quantizer (inner product),
  whose approximate candidates — `max(rerank_factor · k, rerank_min)` of them — are
  re-ranked by their exact inner product with the full vectors. Below
  `IVFPQ_MIN_VECTORS` chunks it is exact flat search instead: each of the 256
  centroids of a PQ codebook wants ≥ 39 training points (faiss warns below that), so
  under ~10,000 vectors the codebooks would be undertrained, and brute force over so
  few rows costs about a millisecond anyway. `accurate_kind` records which was built.

Searches may run from several worker threads at once: faiss searches only read the
index, and the search settings (`efSearch`, `nprobe`) are set once, when the index is
built or loaded, never per call.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal, get_args

import faiss
import numpy as np
from numpy.typing import ArrayLike, NDArray

IndexKind = Literal["fast", "accurate"]
AccurateKind = Literal["ivfpq", "flat"]
Vectors = NDArray[np.float32]
Ids = NDArray[np.int64]
Scores = NDArray[np.float32]

IVFPQ_MIN_VECTORS = 10_000
MIN_POINTS_PER_LIST = 39  # below this many training points per centroid faiss's k-means is unreliable
PQ_BITS = 8  # 256 centroids per sub-quantizer: one byte per sub-vector
FORMAT = 1
_VECTORS, _FAST, _ACCURATE, _META = "vectors.npy", "fast.faiss", "accurate.faiss", "index.json"
_EXACT_BLOCK = 64  # queries per matrix product in `exact`: bounds the (queries × n) scores in memory


@dataclass(frozen=True, slots=True)
class IndexParams:
    """How the two indexes are built and searched.

    `nlist` None picks ≈ 4·√n inverted lists; either way at most n / 39, so every list
    has enough training points. `pq_m` sub-quantizers of 8 bits must divide the
    dimension (384 / 48: 8 dimensions, one byte each).
    """

    hnsw_m: int = 32
    ef_construction: int = 200
    ef_search: int = 64
    nlist: int | None = None
    pq_m: int = 48
    nprobe: int = 16
    rerank_factor: int = 4
    rerank_min: int = 32

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(f"IndexParams.{field.name} must be a positive whole number, not {value!r}")

    def lists(self, n: int) -> int:
        """The inverted lists of an IVF index over `n` vectors."""
        wanted = self.nlist if self.nlist is not None else round(4 * math.sqrt(n))
        return max(1, min(wanted, n // MIN_POINTS_PER_LIST))

    def candidates(self, k: int) -> int:
        """How many approximate neighbours to re-rank exactly for a top `k`."""
        return max(self.rerank_factor * k, self.rerank_min)


@dataclass(frozen=True, slots=True)
class Footprint:
    """Bytes held by each part of a `ChunkIndex` (faiss parts: their serialized size)."""

    vectors: int
    fast: int
    accurate: int


def fast_index(vectors: Vectors, params: IndexParams) -> Any:
    """An HNSW graph over `vectors` (inner product); the slow part of `ChunkIndex.build`."""
    rows = _matrix(vectors)
    index = faiss.IndexHNSWFlat(rows.shape[1], params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = params.ef_construction
    index.add(rows)
    return index


def accurate_index(vectors: Vectors, params: IndexParams) -> tuple[Any, AccurateKind]:
    """A trained IVF-PQ index over `vectors`, or exact flat search when they are too few
    to train one (module docstring); and which of the two it is."""
    rows = _matrix(vectors)
    n, dim = rows.shape
    if n < IVFPQ_MIN_VECTORS:
        flat = faiss.IndexFlatIP(dim)
        flat.add(rows)
        return flat, "flat"
    if dim % params.pq_m:
        raise ValueError(f"pq_m={params.pq_m} does not divide the dimension {dim}")
    quantizer = faiss.IndexFlatIP(dim)  # faiss's Python wrapper keeps it alive as long as `index`
    index = faiss.IndexIVFPQ(quantizer, dim, params.lists(n), params.pq_m, PQ_BITS, faiss.METRIC_INNER_PRODUCT)
    index.cp.spherical = True  # unit vectors, inner product: centroids belong on the sphere too
    index.train(rows)
    index.add(rows)
    return index, "ivfpq"


class ChunkIndex:
    """One knowledge base's chunk vectors (ids = row numbers) with a fast and an accurate index."""

    def __init__(
        self, vectors: Vectors, *, fast: Any, accurate: Any, accurate_kind: AccurateKind, params: IndexParams
    ) -> None:
        """Assemble from parts built by `fast_index` and `accurate_index` (or use `build`)."""
        if vectors.ndim != 2 or fast.ntotal != len(vectors) or accurate.ntotal != len(vectors):
            raise ValueError("the indexes do not hold the same vectors")
        if accurate_kind not in get_args(AccurateKind):
            raise ValueError(f"unknown accurate index kind {accurate_kind!r}")
        self._vectors = vectors
        self._fast = fast
        self._accurate = accurate
        self.accurate_kind: AccurateKind = accurate_kind
        self.params = params
        # set once here: a per-call setting would race between concurrent searches
        fast.hnsw.efSearch = params.ef_search
        if accurate_kind == "ivfpq":
            accurate.nprobe = params.nprobe

    @classmethod
    def build(cls, vectors: ArrayLike, params: IndexParams | None = None) -> ChunkIndex:
        """Index `vectors` (n × d float32 unit rows); about a minute for 100k on two cores."""
        params = params or IndexParams()
        rows = _matrix(vectors)
        accurate, kind = accurate_index(rows, params)
        return cls(rows, fast=fast_index(rows, params), accurate=accurate, accurate_kind=kind, params=params)

    def __len__(self) -> int:
        return len(self._vectors)

    @property
    def vectors(self) -> Vectors:
        """The full chunk vectors (row = chunk id; memory-mapped when loaded): read only."""
        return self._vectors

    @property
    def dim(self) -> int:
        """The vectors' dimension."""
        return int(self._vectors.shape[1])

    def search(self, queries: ArrayLike, k: int, *, kind: IndexKind, rerank: bool = True) -> tuple[Ids, Scores]:
        """The `k` chunks nearest each query (q × d, or one d-vector), best first, as
        (ids, scores), both q × k; id −1 and score −inf fill the places past the last
        match. `rerank` applies to an IVF-PQ accurate index: False returns its
        approximate PQ scores (cheaper, for a caller running late)."""
        rows = self._queries(queries)
        _check_k(k)
        if kind == "fast":
            scores, ids = self._fast.search(rows, k)
        elif kind == "accurate":
            if self.accurate_kind == "ivfpq" and rerank:
                _, candidates = self._accurate.search(rows, self.params.candidates(k))
                return self._rerank(rows, candidates, k)
            scores, ids = self._accurate.search(rows, k)
        else:
            raise ValueError(f"unknown index kind {kind!r}")
        return _padded(ids, scores)

    def exact(self, queries: ArrayLike, k: int) -> tuple[Ids, Scores]:
        """The true top `k` by brute force over every vector (the ground truth for recall)."""
        rows = self._queries(queries)
        _check_k(k)
        found = min(k, len(self))
        ids = np.full((len(rows), k), -1, dtype=np.int64)
        scores = np.full((len(rows), k), -np.inf, dtype=np.float32)
        for start in range(0, len(rows), _EXACT_BLOCK):
            block = rows[start : start + _EXACT_BLOCK] @ self._vectors.T
            top = np.argpartition(-block, found - 1, axis=1)[:, :found]
            top_scores = np.take_along_axis(block, top, axis=1)
            order = np.argsort(-top_scores, axis=1, kind="stable")
            ids[start : start + len(block), :found] = np.take_along_axis(top, order, axis=1)
            scores[start : start + len(block), :found] = np.take_along_axis(top_scores, order, axis=1)
        return ids, scores

    def footprint(self) -> Footprint:
        """Bytes held by the vectors and each index (serializes the indexes: not for a hot path)."""
        return Footprint(
            vectors=int(self._vectors.nbytes),
            fast=int(faiss.serialize_index(self._fast).nbytes),
            accurate=int(faiss.serialize_index(self._accurate).nbytes),
        )

    def save(self, directory: Path) -> None:
        """Write the vectors (.npy), both indexes and their parameters into `directory`.
        Each file is written beside its target and renamed into place, so saving over
        the directory this index was memory-mapped from is safe; the parameters go
        last, so a directory without them is an incomplete save."""
        directory.mkdir(parents=True, exist_ok=True)
        with _replacing(directory / _VECTORS) as temporary, temporary.open("wb") as file:
            np.save(file, np.asarray(self._vectors), allow_pickle=False)
        for name, index in ((_FAST, self._fast), (_ACCURATE, self._accurate)):
            with _replacing(directory / name) as temporary:
                faiss.write_index(index, str(temporary))
        meta = {"format": FORMAT, "accurate_kind": self.accurate_kind, "params": asdict(self.params)}
        with _replacing(directory / _META) as temporary:
            temporary.write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, directory: Path, *, mmap: bool = True) -> ChunkIndex:
        """Read what `save` wrote; with `mmap` the vectors stay on disk, paged in as re-ranking touches them."""
        meta = json.loads((directory / _META).read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"{directory}: index format {meta.get('format')!r}, expected {FORMAT}")
        try:
            params = IndexParams(**meta["params"])
        except TypeError as exc:  # a field this version does not know
            raise ValueError(f"{directory}: {exc}") from exc
        vectors = np.load(directory / _VECTORS, mmap_mode="r" if mmap else None, allow_pickle=False)
        return cls(
            vectors,
            fast=faiss.read_index(str(directory / _FAST)),
            accurate=faiss.read_index(str(directory / _ACCURATE)),
            accurate_kind=meta["accurate_kind"],
            params=params,
        )

    def _queries(self, queries: ArrayLike) -> Vectors:
        rows = np.asarray(queries, dtype=np.float32)
        if rows.ndim == 1:
            rows = rows[np.newaxis, :]
        if rows.ndim != 2 or rows.shape[1] != self.dim:
            raise ValueError(f"queries must be {self.dim}-d vectors, got shape {np.shape(queries)}")
        return np.ascontiguousarray(rows)

    def _rerank(self, rows: Vectors, candidates: Ids, k: int) -> tuple[Ids, Scores]:
        """The top `k` of `candidates` by exact inner product with the stored vectors."""
        missing = candidates < 0
        gathered = np.asarray(self._vectors[np.where(missing, 0, candidates).ravel()])
        exact = np.einsum("qcd,qd->qc", gathered.reshape(*candidates.shape, self.dim), rows)
        exact[missing] = -np.inf
        order = np.argsort(-exact, axis=1, kind="stable")[:, :k]
        ids = np.take_along_axis(candidates, order, axis=1)
        return _padded(ids, np.take_along_axis(exact, order, axis=1))


@contextmanager
def _replacing(target: Path) -> Iterator[Path]:
    """A temporary path beside `target`, renamed onto it when the block succeeds."""
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        yield temporary
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, target)


def _matrix(vectors: ArrayLike) -> Vectors:
    rows = np.ascontiguousarray(vectors, dtype=np.float32)
    if rows.ndim != 2 or not len(rows):
        raise ValueError(f"vectors must be a non-empty n × d matrix, got shape {rows.shape}")
    return rows


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")


def _padded(ids: NDArray[Any], scores: NDArray[Any]) -> tuple[Ids, Scores]:
    """faiss's results with every empty place (id −1) scored −inf, whatever faiss put there."""
    ids = ids.astype(np.int64, copy=False)
    scores = scores.astype(np.float32, copy=True)
    scores[ids < 0] = -np.inf
    return ids, scores
