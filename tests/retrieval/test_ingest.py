"""Knowledge bases on disk: ingest, update without re-embedding, remove, delete, versions
(real MiniLM embeddings, real faiss indexes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from envelope.embeddings.embedder import SentenceEncoder, loader
from envelope.retrieval.ingest import ingest
from envelope.retrieval.library import KnowledgeBaseError, Library
from envelope.tokens.tiktoken_counter import TiktokenCounter

COUNT = TiktokenCounter("o200k_base").text_tokens
ENCODER = loader("onnx")


def no_encoder() -> SentenceEncoder:
    raise AssertionError("nothing should need embedding")


def test_ingest_update_remove_delete(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Meals\n\nMeals are reimbursed up to 45 euros per day.\n")
    (docs / "b.txt").write_text("Passwords are rotated every ninety days. " * 30)
    library = Library(tmp_path / "kb")
    first = ingest(library, "hb", [docs], encoder=ENCODER, count=COUNT, chunk_tokens=60, overlap_tokens=10)
    assert first.version == 1 and len(first.added) == 2 and first.embedded == first.chunks > 2
    assert library.current("hb") == 1 and library.names() == ["hb"]
    again = ingest(library, "hb", [docs], encoder=no_encoder, count=COUNT)
    assert again.version is None and len(again.unchanged) == 2  # settings remembered, nothing embedded
    (docs / "a.md").write_text("# Meals\n\nMeals are reimbursed up to 60 euros per day.\n")
    second = ingest(library, "hb", [docs], encoder=ENCODER, count=COUNT)
    assert second.version == 2 and second.embedded == 1 and len(second.updated) == 1
    base = library.load("hb")
    assert any("60 euros" in c.text for c in base.chunks) and not any("45 euros" in c.text for c in base.chunks)
    query = ENCODER().encode(["how much for meals per day?"]).vectors[0]
    ids, _ = base.index.search(query, 1, kind="fast")
    assert "60 euros" in base.chunks[int(ids[0][0])].text
    third = ingest(library, "hb", [], encoder=no_encoder, count=COUNT, remove=[str(docs / "b.txt")])
    assert third.version == 3 and third.chunks == 1
    assert sorted(p.name for p in (tmp_path / "kb" / "hb").iterdir()) == ["CURRENT", "v000002", "v000003"]
    with pytest.raises(KnowledgeBaseError, match="no such document"):
        ingest(library, "hb", [], encoder=no_encoder, count=COUNT, remove=["missing.md"])
    with pytest.raises(KnowledgeBaseError, match="no chunks"):
        ingest(library, "hb", [], encoder=no_encoder, count=COUNT, remove=[str(docs / "a.md")])
    assert library.delete("hb") and library.current("hb") is None and not library.delete("hb")


def test_names_and_settings_are_checked(tmp_path: Path) -> None:
    library = Library(tmp_path)
    for bad in ("../up", ".hidden", "a b", "x" * 65):
        with pytest.raises(KnowledgeBaseError, match="knowledge base name"):
            ingest(library, bad, [], encoder=no_encoder, count=COUNT)
    with pytest.raises(KnowledgeBaseError, match="overlap"):
        ingest(library, "ok", [], encoder=no_encoder, count=COUNT, chunk_tokens=50, overlap_tokens=50)
    with pytest.raises(KnowledgeBaseError, match="does not exist"):
        library.load("ok")
