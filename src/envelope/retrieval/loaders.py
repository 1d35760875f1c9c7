"""Files to plain text: text, markdown, HTML and PDF.

The text keeps paragraphs (separated by blank lines) and collapses whitespace inside
them; markup is dropped. Markdown: front matter, comments, link targets, images and
emphasis or code markers go, heading, list, table and code text stays. HTML (the
stdlib parser, no extra dependency): script, style, noscript, template and the head
go, block elements start paragraphs. PDF text comes from `pypdf`, page by page.

Every failure is a `DocumentError` whose message starts with the file's path.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
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
_SUPPORTED = "use .txt .text .md .markdown .html .htm .pdf"


class DocumentError(ValueError):
    """A file that cannot be read as a document; the message names it."""


@dataclass(frozen=True, slots=True)
class SourceText:
    """A document's plain text: paragraphs separated by blank lines, whitespace inside
    each collapsed. `title` is the document's own (markdown `# `, HTML title or first
    h1, PDF metadata), if it has one."""

    path: str
    kind: Kind
    title: str | None
    text: str


def kind_of(path: Path) -> Kind | None:
    """The document kind `path`'s suffix says (any case), or None if unsupported."""
    return _KINDS.get(path.suffix.lower())


def expand(paths: Sequence[Path]) -> list[Path]:
    """The files named, and the supported files under the directories named, walked in
    sorted order; hidden files and directories inside them are skipped, as are files of
    unsupported kinds. A file named of an unsupported kind, or a missing path, is an
    error. A file reached twice is listed once."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(_walk(path))
        elif path.is_file():
            if kind_of(path) is None:
                raise DocumentError(f"{path}: unsupported file type ({_SUPPORTED})")
            files.append(path)
        else:
            raise DocumentError(f"{path}: no such file or directory")
    seen: set[Path] = set()
    unique = []
    for file in files:
        resolved = file.resolve()
        if resolved not in seen:
            seen.add(resolved)
            unique.append(file)
    return unique


def _walk(directory: Path) -> list[Path]:
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError as exc:
        raise DocumentError(f"{directory}: {exc.strerror or exc}") from exc
    files: list[Path] = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = directory / entry.name
        # symlinked directories are not followed: a link back up would never end
        if entry.is_dir(follow_symlinks=False):
            files.extend(_walk(path))
        elif entry.is_file() and kind_of(path) is not None:
            files.append(path)
    return files


def load(path: Path) -> SourceText:
    """`path` read as plain text; a `DocumentError` if it is unsupported, unreadable,
    not UTF-8 (text, markdown, HTML), an encrypted PDF, or holds no text."""
    kind = kind_of(path)
    if kind is None:
        raise DocumentError(f"{path}: unsupported file type ({_SUPPORTED})")
    title: str | None
    if kind == "pdf":
        title, text = _pdf(path)
    elif kind == "markdown":
        title, text = _markdown(_decoded(path))
    elif kind == "html":
        title, text = _html(_decoded(path))
    else:
        title, text = None, _decoded(path)
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

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?:.*?\n)??(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^\s{0,3}=+\s*$")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_LINK_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*\S+")
_QUOTE = re.compile(r"^\s*(?:>\s?)+")
_LIST = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s+(?:\[[ xX]\]\s+)?")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|~<>])")
_CODE = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)")
_AUTOLINK = re.compile(r"<((?:https?|ftp|mailto):[^>\s]+)>")
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_IMAGE = re.compile(r"!\[[^\]]*\](?:\([^)]*\)|\[[^\]]*\])")
_LINK = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\[[^\]]*\])")
_EMPHASIS = re.compile(r"(\*\*|\*|~~)(?=\S)(.+?)(?<=\S)\1|(?<!\w)(__|_)(?=\S)(.+?)(?<=\S)\3(?!\w)")
_HELD = re.compile("\ue000(\\d+)\ue001")  # a private-use pair around an index: text held back


def _markdown(raw: str) -> tuple[str | None, str]:
    raw = _FRONT_MATTER.sub("", raw.replace("\r\n", "\n").replace("\r", "\n"))
    title: str | None = None
    lines: list[str] = []
    fence: str | None = None
    for line in _COMMENT.sub("", raw).split("\n"):
        opening = _FENCE.match(line)
        if fence is not None:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = None
                lines.append("")
            else:
                lines.append(line)  # code is text as it stands
            continue
        if opening:
            fence = opening.group(1)
            lines.append("")
            continue
        heading = _HEADING.match(line)
        if heading:
            text = _inline(heading.group(2) or "")
            if title is None and len(heading.group(1)) == 1 and text:
                title = text
            lines.extend(["", _ended(text), ""])  # a heading is a paragraph of its own
        elif _RULE.match(line) or _TABLE_RULE.match(line) or _SETEXT.match(line) or _LINK_DEFINITION.match(line):
            lines.append("")
        else:
            lines.append(_inline(_LIST.sub("", _QUOTE.sub("", line))))
    return title, "\n".join(lines)


def _ended(heading: str) -> str:
    """A heading with a full stop unless it has an end already: sentences are joined by
    spaces when a context is rendered, and "Refunds Refunds are made…" would read as one."""
    return heading if not heading or heading.endswith((".", "!", "?", ":")) else heading + "."


def _inline(line: str) -> str:
    """A line's text without inline markup. Escaped characters and code spans are held
    back first so that no markup rule touches them."""
    held: list[str] = []

    def hold(text: str) -> str:
        held.append(text)
        return f"\ue000{len(held) - 1}\ue001"

    line = _ESCAPE.sub(lambda m: hold(m.group(1)), line)
    line = _CODE.sub(lambda m: hold(m.group(2).strip()), line)
    line = _AUTOLINK.sub(lambda m: hold(m.group(1)), line)
    line = _TAG.sub("", line)
    line = _LINK.sub(r"\1", _IMAGE.sub("", line))
    if "|" in line:  # a table row: cells become words
        line = " ".join(cell.strip() for cell in line.strip().strip("|").split("|"))
    previous = None
    while previous != line:  # nested emphasis, outside in
        previous, line = line, _EMPHASIS.sub(lambda m: m.group(2) or m.group(4), line)
    return _HELD.sub(lambda m: held[int(m.group(1))], line)


# --- HTML -----------------------------------------------------------------------------

_SKIP = frozenset({"script", "style", "noscript", "template", "svg"})
_BLOCK = frozenset(
    "p div li ul ol h1 h2 h3 h4 h5 h6 tr br section article pre blockquote table thead tbody tfoot caption "  # noqa: SIM905 (a word list reads best as words)
    "header footer nav main aside dd dt dl figure figcaption hr form fieldset legend details summary address "
    "center option ".split()
)
_CELLS = frozenset({"td", "th"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})


class _Text(HTMLParser):
    """Collects the body's text with paragraph breaks, the title and the first h1."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: str | None = None
        self.h1: str | None = None
        self._skipping = 0
        self._in_head = False
        self._reading: str | None = None  # "title" or "h1" while its text is collected
        self._buffer: list[str] = []
        self._block_at = 0  # where the innermost open block's text begins

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "head":
            self._in_head = True
        elif tag == "body":  # </head> is optional in HTML
            self._in_head = False
        if (tag == "title" and self.title is None) or (tag == "h1" and self.h1 is None):
            self._reading, self._buffer = tag, []
        if tag in _SKIP:
            self._skipping += 1
        elif tag in _BLOCK:
            self.parts.append("\n\n")
            self._block_at = len(self.parts)
        elif tag in _CELLS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self._in_head = False
        if tag == self._reading:
            text = " ".join("".join(self._buffer).split()) or None
            if tag == "title":
                self.title = text
            else:
                self.h1 = text
            self._reading = None
        if tag in _SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK:
            if tag in _HEADINGS:
                self._end_heading()
            self.parts.append("\n\n")
        elif tag in _CELLS:
            self.parts.append(" ")

    def _end_heading(self) -> None:
        """A full stop after the heading's last text, if it has any."""
        for at in range(len(self.parts) - 1, self._block_at - 1, -1):
            if self.parts[at].strip():
                self.parts[at] = _ended(self.parts[at].rstrip())
                return

    def handle_data(self, data: str) -> None:
        if self._reading is not None and not self._skipping:
            self._buffer.append(data)
        if not (self._skipping or self._in_head or self._reading == "title"):
            self.parts.append(data)


def _html(raw: str) -> tuple[str | None, str]:
    parser = _Text()
    parser.feed(raw)
    parser.close()
    return parser.title or parser.h1, "".join(parser.parts)


# --- PDF ------------------------------------------------------------------------------

# What pypdf raises on damaged files beyond its own errors: it parses untrusted bytes and
# lets low-level failures through.
_PDF_FAILURES = (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError, AssertionError,
                 RecursionError, struct.error, zlib.error)  # fmt: skip


def _pdf(path: Path) -> tuple[str | None, str]:
    # imported here: pypdf takes ~0.1 s to import, and the CLI imports this module for
    # DocumentError alone
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError, PyPdfError

    try:
        reader = PdfReader(path)
        # pypdf has tried the empty password: only a PDF that needs a real one is locked
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise DocumentError(f"{path}: encrypted PDF")
        pages = [page.extract_text() or "" for page in reader.pages]
        metadata = reader.metadata
        title = metadata.title if metadata is not None else None
    except DocumentError:
        raise
    except DependencyError as exc:  # AES needs the optional `cryptography` package
        raise DocumentError(f"{path}: encrypted PDF ({exc})") from exc
    except (PyPdfError, *_PDF_FAILURES) as exc:
        raise DocumentError(f"{path}: unreadable PDF ({exc})") from exc
    title = " ".join(str(title).split()) if title else None
    return title or None, "\n\n".join(pages)
