"""Files to text: each format, and the errors that name the file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pypdf import PdfWriter

from envelope.retrieval.loaders import DocumentError, expand, kind_of, load


def pdf_bytes(text: str) -> bytes:
    """A minimal one-page PDF showing `text` in Helvetica, with a correct xref table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_kinds_by_suffix() -> None:
    assert kind_of(Path("a.MD")) == "markdown" and kind_of(Path("b.htm")) == "html"
    assert kind_of(Path("c.pdf")) == "pdf" and kind_of(Path("d.txt")) == "text" and kind_of(Path("e.docx")) is None


def test_text_with_bom_and_paragraphs(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes("\ufeffFirst   line\nsame paragraph.\n\n\nSecond one.".encode())
    assert load(path).text == "First line same paragraph.\n\nSecond one."


def test_markdown_drops_markup(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text(
        "---\ntitle: x\n---\n# Refunds\n\nSee **the** [policy](http://x.example/p) ![logo](l.png) and `code`.\n\n"
        "- item one\n- item two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```\nprint('kept')\n```\n<!-- hidden -->\n"
    )
    source = load(path)
    assert source.title == "Refunds"
    assert "See the policy and code." in source.text
    assert "http" not in source.text and "logo" not in source.text and "hidden" not in source.text
    assert "item one" in source.text and "print('kept')" in source.text and "1 2" in source.text


def test_html_keeps_text_and_drops_scripts(tmp_path: Path) -> None:
    path = tmp_path / "a.html"
    path.write_text(
        "<html><head><title>Guide</title><style>p{}</style></head><body><h1>Intro</h1>"
        "<p>One &amp; two.</p><script>var x = 1;</script><ul><li>Three</li></ul></body></html>"
    )
    source = load(path)
    assert source.title == "Guide"
    assert source.text == "Intro.\n\nOne & two.\n\nThree"


def test_pdf_text_is_extracted(tmp_path: Path) -> None:
    path = tmp_path / "a.pdf"
    path.write_bytes(pdf_bytes("Hello PDF world"))
    assert load(path).text == "Hello PDF world"


def test_encrypted_pdf_is_refused(tmp_path: Path) -> None:
    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    writer.encrypt("secret")
    path = tmp_path / "locked.pdf"
    with path.open("wb") as out:
        writer.write(out)
    with pytest.raises(DocumentError, match=r"locked\.pdf: encrypted PDF"):
        load(path)


@pytest.mark.parametrize(("name", "data", "message"), [
    ("bad.txt", b"\xff\xfe\xfa not utf-8", "not UTF-8 text"),
    ("empty.md", b"   \n\n", "no text"),
    ("broken.pdf", b"%PDF-1.4 nothing here", "unreadable PDF|no text"),
])  # fmt: skip
def test_unreadable_files_are_named(tmp_path: Path, name: str, data: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(DocumentError, match=re.escape(name)):
        load(path)
    with pytest.raises(DocumentError, match=message):
        load(path)


def test_expand_walks_directories_and_names_bad_paths(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ("b.md", "sub/a.txt", "c.png", ".hidden/d.txt"):
        (tmp_path / name).write_text("x")
    assert [p.relative_to(tmp_path).as_posix() for p in expand([tmp_path])] == ["b.md", "sub/a.txt"]
    with pytest.raises(DocumentError, match="unsupported"):
        expand([tmp_path / "c.png"])
    with pytest.raises(DocumentError, match="no such file"):
        expand([tmp_path / "missing.md"])
