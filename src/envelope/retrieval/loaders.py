"""Files to plain text: text, markdown, HTML and PDF.

The text keeps paragraphs (separated by blank lines) and collapses whitespace inside
them; markup is dropped (markdown: front matter, link targets, images, emphasis
markers; HTML: script, style and head, with block elements starting paragraphs; the
stdlib parser, no extra dependency). PDF text comes from `pypdf`, page by page.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Literal

Kind = Literal["text", "markdown", "html", "pdf"]
_KINDS: dict[str, Kind] = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}


class DocumentError(ValueError):
    """A file that cannot be read as a document; the message names it."""


@dataclass(frozen=True, slots=True)
class SourceText:
    path: str
    kind: Kind
    title: str | None
    text: str


def kind_of(path: Path) -> Kind | None:
    return _KINDS.get(path.suffix.lower())


def expand(paths: Sequence[Path]) -> list[Path]:
    """Files named, and the supported files under directories named (sorted, hidden ones
    skipped). A named file of an unsupported kind, or a missing path, is an error."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file() and kind_of(p) and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.is_file():
            if kind_of(path) is None:
                raise DocumentError(f"{path}: unsupported file type (use .txt .md .html .pdf)")
            files.append(path)
        else:
            raise DocumentError(f"{path}: no such file or directory")
    return files


def load(path: Path) -> SourceText:
    kind = kind_of(path)
    if kind is None:
        raise DocumentError(f"{path}: unsupported file type (use .txt .md .html .pdf)")
    if kind == "pdf":
        title, text = _pdf(path)
    else:
        raw = _decoded(path)
        title, text = _markdown(raw) if kind == "markdown" else _html(raw) if kind == "html" else (None, raw)
    text = _paragraphs(text)
    if not text:
        raise DocumentError(f"{path}: no text")
    return SourceText(str(path), kind, title, text)


def _decoded(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"{path}: not UTF-8 text") from exc
    except OSError as exc:
        raise DocumentError(f"{path}: {exc.strerror or exc}") from exc


def _paragraphs(text: str) -> str:
    """Blank-line separated paragraphs, whitespace inside each collapsed."""
    blocks = re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    return "\n\n".join(p for p in (" ".join(b.split()) for b in blocks) if p)


# --- markdown -------------------------------------------------------------------------

_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_LIST = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_QUOTE = re.compile(r"^\s*>\s?")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|~~|`)(?=\S)(.+?)(?<=\S)\1")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


def _markdown(raw: str) -> tuple[str | None, str]:
    raw = _COMMENT.sub("", _FRONT_MATTER.sub("", raw.replace("\r\n", "\n")))
    title: str | None = None
    lines: list[str] = []
    fenced = False
    for line in raw.split("\n"):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            lines.append("")
            continue
        if fenced:
            lines.append(line)
            continue
        if _RULE.match(line) or _TABLE_SEP.match(line):
            lines.append("")
            continue
        heading = _HEADING.match(line)
        if heading:
            text = _inline(heading.group(1))
            title = title or text
            lines.extend(["", text + ("" if text.endswith((".", "!", "?", ":")) else "."), ""])
            continue
        line = _QUOTE.sub("", _LIST.sub("", line))
        if "|" in line:
            line = " ".join(cell.strip() for cell in line.strip().strip("|").split("|"))
        lines.append(_inline(line))
    return title, "\n".join(lines)


def _inline(text: str) -> str:
    text = _REF_LINK.sub(r"\1", _LINK.sub(r"\1", _IMAGE.sub("", text)))
    previous = None
    while previous != text:
        previous, text = text, _EMPHASIS.sub(r"\2", text)
    return text


# --- HTML -----------------------------------------------------------------------------

_SKIP = frozenset({"script", "style", "noscript", "template", "svg"})  # (the head's title is read apart)
_BLOCK = frozenset(
    "p div li ul ol h1 h2 h3 h4 h5 h6 tr br section article pre blockquote table header footer nav main "  # noqa: SIM905 (a word list reads best as words)
    "aside dd dt dl figure figcaption hr form fieldset details summary ".split()
)
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: str | None = None
        self.h1: str | None = None
        self._skipping = 0
        self._in: str | None = None  # title or h1 being read
        self._buffer: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title" or (tag == "h1" and self.h1 is None):
            self._in, self._buffer = tag, []
        if tag in _SKIP:
            self._skipping += 1
        elif tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            text = " ".join("".join(self._buffer).split()) or None
            if tag == "title":
                self.title = text
            else:
                self.h1 = text
            self._in = None
        if tag in _SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK:
            if tag in _HEADINGS and self.parts and not self.parts[-1].rstrip().endswith((".", "!", "?", ":")):
                self.parts.append(".")
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in is not None:
            self._buffer.append(data)
        if self._skipping or self._in == "title":
            return
        self.parts.append(data)


def _html(raw: str) -> tuple[str | None, str]:
    parser = _Text()
    parser.feed(raw)
    parser.close()
    return parser.title or parser.h1, "".join(parser.parts)


# --- PDF ------------------------------------------------------------------------------


def _pdf(path: Path) -> tuple[str | None, str]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            raise DocumentError(f"{path}: encrypted PDF")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = reader.metadata.title if reader.metadata is not None else None
    except (PdfReadError, OSError, ValueError, KeyError) as exc:
        if isinstance(exc, DocumentError):
            raise
        raise DocumentError(f"{path}: unreadable PDF ({exc})") from exc
    return (str(title) if title else None), "\n\n".join(pages)
