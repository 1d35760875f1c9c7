"""Files to text: each format, and the errors that name the file."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from envelope.retrieval.loaders import DocumentError, expand, kind_of, load


def pdf_bytes(*pages: str, title: str | None = None) -> bytes:
    """A minimal PDF showing each of `pages` in Helvetica, with a correct xref table."""
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode()]
    font = 3 + 2 * len(pages)
    for i, text in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    info = ""
    if title is not None:
        objects.append(f"<< /Title ({title}) >>".encode())
        info = f" /Info {len(objects)} 0 R"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def written(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_kinds_by_suffix() -> None:
    assert [kind_of(Path(n)) for n in ("a.MD", "b.markdown", "c.htm", "d.HTML", "e.pdf", "f.txt", "g.Text")] == [
        "markdown", "markdown", "html", "html", "pdf", "text", "text"
    ]  # fmt: skip
    assert kind_of(Path("e.docx")) is None and kind_of(Path("README")) is None


def test_text_with_bom_and_paragraphs(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes("\ufeffFirst   line\r\nsame\tparagraph.\r\n\r\n \n\nSecond one.\n".encode())
    source = load(path)
    assert source.text == "First line same paragraph.\n\nSecond one."
    assert source.kind == "text" and source.title is None and source.path == str(path)


def test_markdown_drops_markup(tmp_path: Path) -> None:
    source = load(
        written(
            tmp_path / "a.md",
            "---\ntitle: x\n---\n## Before\n\n# Refunds #\n\n"
            "See **the** [policy](http://x.example/p) ![logo](l.png) and `a_b *c*`.\n\n"
            "- item *one*\n1. item two\n> quoted __text__\n\n| a | b |\n|---|:-:|\n| 1 | 2 |\n\n"
            "```python\nprint('**kept**')\n```\n<!-- hidden\nhere -->\nsnake_case_name and 2 * 3 * 4\n\n"
            "[ref]: http://x.example/ref\n",
        )
    )
    assert source.title == "Refunds"
    assert source.text.split("\n\n")[:3] == ["Before.", "Refunds.", "See the policy and a_b *c*."]
    for gone in ("http", "logo", "hidden", "title: x", "|", "---", "```", "- item", "1.", ">"):
        assert gone not in source.text, gone
    for kept in ("item one item two quoted text", "a b\n\n1 2", "print('**kept**')", "snake_case_name and 2 * 3 * 4"):
        assert kept in source.text, kept


def test_markdown_without_a_level_one_heading_has_no_title(tmp_path: Path) -> None:
    source = load(written(tmp_path / "b.markdown", "## Only a section\n\nBody \\*not emphasis\\*.\n"))
    assert source.title is None and source.text == "Only a section.\n\nBody *not emphasis*."


def test_html_keeps_text_and_drops_scripts(tmp_path: Path) -> None:
    path = written(
        tmp_path / "a.html",
        "<html><head><title> The\nGuide </title><meta charset=utf-8><style>p{}</style></head><body>"
        "<h1>Intro</h1><p>One &amp; two&nbsp;words.</p><script>var x = '<p>no</p>';</script>"
        "<noscript>enable js</noscript><template><p>later</p></template><!-- note -->"
        "<ul><li>Three</li><li>Four<br>Five</li></ul><table><tr><th>a</th><th>b</th></tr>"
        "<tr><td>1</td><td>2</td></tr></table><h2>Done?</h2><p>Some <b>bold</b>text.</p></body></html>",
    )
    source = load(path)
    assert source.title == "The Guide"
    assert source.text == "Intro.\n\nOne & two words.\n\nThree\n\nFour\n\nFive\n\na b\n\n1 2\n\nDone?\n\nSome boldtext."


def test_html_title_falls_back_to_the_first_h1(tmp_path: Path) -> None:
    # no </head>: the body still counts
    source = load(written(tmp_path / "b.htm", "<head><meta name=x><body><h1>First</h1><h1>Second</h1>"))
    assert source.title == "First" and source.text == "First.\n\nSecond."


def test_pdf_text_and_title_are_extracted(tmp_path: Path) -> None:
    path = tmp_path / "a.pdf"
    path.write_bytes(pdf_bytes("Hello PDF world"))
    assert load(path).text == "Hello PDF world"
    path.write_bytes(pdf_bytes("Page one.", "Page two.", title="Handbook"))
    source = load(path)
    assert source.kind == "pdf" and source.title == "Handbook" and source.text == "Page one.\n\nPage two."


def test_encrypted_pdf_is_refused(tmp_path: Path) -> None:
    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    writer.encrypt("secret", algorithm="RC4-128")
    path = tmp_path / "locked.pdf"
    with path.open("wb") as out:
        writer.write(out)
    with pytest.raises(DocumentError, match=r"locked\.pdf: encrypted PDF"):
        load(path)


def test_a_pdf_locked_only_against_editing_is_read(tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes("Open to read."))))
    writer.encrypt("", owner_password="owner", algorithm="RC4-128")  # empty user password
    path = tmp_path / "owner.pdf"
    with path.open("wb") as out:
        writer.write(out)
    assert load(path).text == "Open to read."


@pytest.mark.parametrize(("name", "data", "message"), [
    ("bad.txt", b"\xff\xfe\xfa not utf-8", "not UTF-8 text"),
    ("latin.html", "<p>caf\u00e9</p>".encode("latin-1"), "not UTF-8 text"),
    ("empty.txt", b"", "no text"),
    ("blank.md", b"   \n\n<!-- only a comment -->\n", "no text"),
    ("scripts.html", b"<script>x()</script>", "no text"),
    ("broken.pdf", b"%PDF-1.4 nothing here", "unreadable PDF|no text"),
    ("notes.doc", b"words", "unsupported file type"),
])  # fmt: skip
def test_unreadable_files_are_named(tmp_path: Path, name: str, data: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(DocumentError, match=re.escape(name)) as raised:
        load(path)
    assert re.search(message, str(raised.value))


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match=r"gone\.txt"):
        load(tmp_path / "gone.txt")


def test_expand_walks_directories_and_names_bad_paths(tmp_path: Path) -> None:
    for folder in ("sub/deeper", ".hidden", "a"):
        (tmp_path / folder).mkdir(parents=True)
    for name in ("b.md", "sub/a.txt", "sub/deeper/z.PDF", "c.png", ".hidden/d.txt", "sub/.e.md", "a/x.html"):
        (tmp_path / name).write_text("x")
    found = [p.relative_to(tmp_path).as_posix() for p in expand([tmp_path])]
    assert found == ["a/x.html", "b.md", "sub/a.txt", "sub/deeper/z.PDF"]
    again = [p.relative_to(tmp_path).as_posix() for p in expand([tmp_path / "b.md", tmp_path])]
    assert again == ["b.md", "a/x.html", "sub/a.txt", "sub/deeper/z.PDF"]  # each file once
    assert expand([tmp_path / ".hidden"]) == [tmp_path / ".hidden/d.txt"]  # named, so walked
    with pytest.raises(DocumentError, match=r"c\.png: unsupported"):
        expand([tmp_path / "c.png"])
    with pytest.raises(DocumentError, match=r"missing\.md: no such file"):
        expand([tmp_path / "missing.md"])
