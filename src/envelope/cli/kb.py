"""`envelope kb`: knowledge bases for retrieval — ingest (and update), list, show,
search, delete. They live in `gateway.knowledge.directory`; running gateways pick up
a new version within `gateway.knowledge.poll_interval_s` and drop the cached answers
of the routes that retrieve from it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from envelope.cli.common import ConfigOption, console, err_console, load_config
from envelope.embeddings.embedder import SentenceEncoder
from envelope.retrieval.library import KnowledgeBaseError, Library
from envelope.retrieval.loaders import DocumentError

app = typer.Typer(help="Knowledge bases for retrieval: ingest, update, list, search, delete.", no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help="Knowledge base name (letters, digits, _ . -)")]
DirectoryOption = Annotated[
    Path | None, typer.Option("--directory", "-d", help="Knowledge base directory (default: from config).")
]


def _library(config: Path | None, directory: Path | None) -> Library:
    if directory is not None:
        return Library(directory)
    return Library(Path(load_config(config).gateway.knowledge.directory))


@app.command()
def ingest(
    name: NameArg,
    paths: Annotated[list[Path], typer.Argument(help="Files or directories: .txt .md .html .pdf")],
    chunk_tokens: Annotated[
        int | None, typer.Option(help="Chunk size in o200k tokens (default 200, or as before)")
    ] = None,
    overlap_tokens: Annotated[
        int | None, typer.Option(help="Overlap between chunks (default 40, or as before)")
    ] = None,
    remove: Annotated[list[str] | None, typer.Option(help="Drop this document (repeatable)")] = None,
    config: ConfigOption = None,
    directory: DirectoryOption = None,
) -> None:
    """Add or update documents: unchanged files keep their chunks, changed ones are
    re-chunked and re-embedded; then both indexes are rebuilt and the new version made
    current atomically."""
    from envelope.embeddings.embedder import loader
    from envelope.retrieval.ingest import ingest as run
    from envelope.tokens.tiktoken_counter import TiktokenCounter

    library = _library(config, directory)
    counter = TiktokenCounter("o200k_base")
    with Progress(
        TextColumn("embedding"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err_console
    ) as bar:
        task = bar.add_task("chunks", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            report = run(
                library,
                name,
                paths,
                encoder=loader("onnx"),
                count=counter.text_tokens,
                chunk_tokens=chunk_tokens,
                overlap_tokens=overlap_tokens,
                remove=remove or [],
                progress=progress,
            )
        except (KnowledgeBaseError, DocumentError) as exc:
            err_console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from exc
    if report.version is None:
        console.print(f"{name}: nothing changed ({len(report.unchanged)} documents, {report.chunks} chunks)")
        return
    console.print(
        f"{name}: version {report.version} — {len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.removed)} removed; {report.chunks} chunks "
        f"({report.embedded} embedded), accurate index: {report.accurate_kind}; {report.seconds:.1f} s"
    )


@app.command("list")
def list_bases(config: ConfigOption = None, directory: DirectoryOption = None) -> None:
    """The knowledge bases and their current versions."""
    library = _library(config, directory)
    table = Table("name", "version", "documents", "chunks", "accurate index", "created")
    for name in library.names():
        manifest = library.load(name).manifest
        table.add_row(
            name,
            str(manifest.version),
            str(len(manifest.documents)),
            str(manifest.chunks),
            manifest.accurate_kind,
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(manifest.created)),
        )
    console.print(table)


@app.command()
def show(name: NameArg, config: ConfigOption = None, directory: DirectoryOption = None) -> None:
    """A knowledge base's documents."""
    try:
        manifest = _library(config, directory).load(name).manifest
    except KnowledgeBaseError as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    table = Table("document", "kind", "title", "chunks", "sha256")
    for doc in manifest.documents:
        table.add_row(doc.path, doc.kind, doc.title or "", str(doc.count), doc.sha256[:12])
    console.print(
        f"{name} v{manifest.version}: chunks of {manifest.chunk_tokens} tokens, {manifest.overlap_tokens} overlap"
    )
    console.print(table)


@app.command()
def search(
    name: NameArg,
    query: Annotated[str, typer.Argument(help="The question")],
    k: Annotated[int, typer.Option("-k", help="Chunks to show")] = 4,
    index: Annotated[str, typer.Option(help="fast | accurate")] = "fast",
    config: ConfigOption = None,
    directory: DirectoryOption = None,
) -> None:
    """The chunks a question retrieves (what a route would see before compression)."""
    from envelope.embeddings.embedder import loader

    if index not in ("fast", "accurate"):
        err_console.print("[red]--index must be fast or accurate[/red]")
        raise typer.Exit(2)
    try:
        base = _library(config, directory).load(name)
    except KnowledgeBaseError as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    vector = loader("onnx")().encode([query]).vectors[0]
    ids, scores = base.index.search(vector, k, kind="fast" if index == "fast" else "accurate")
    for i, score in zip(ids[0], scores[0], strict=True):
        if i >= 0:
            chunk = base.chunks[int(i)]
            console.print(f"[bold]{score:.3f}[/bold] {chunk.source}: {chunk.text[:300]}")


@app.command()
def delete(
    name: NameArg,
    document: Annotated[list[str] | None, typer.Option(help="Only drop this document (repeatable)")] = None,
    config: ConfigOption = None,
    directory: DirectoryOption = None,
) -> None:
    """Delete a knowledge base, or only some of its documents (a new version without them)."""
    library = _library(config, directory)
    try:
        if document:
            from envelope.retrieval.ingest import ingest as run
            from envelope.tokens.tiktoken_counter import TiktokenCounter

            report = run(
                library, name, [], encoder=_no_encoder, count=TiktokenCounter("o200k_base").text_tokens, remove=document
            )
            console.print(f"{name}: version {report.version}, {len(report.removed)} removed, {report.chunks} chunks")
            return
        if not library.delete(name):
            err_console.print(f"[red]no knowledge base {name!r}[/red]")
            raise typer.Exit(2)
    except (KnowledgeBaseError, DocumentError) as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"{name}: deleted")


def _no_encoder() -> SentenceEncoder:
    raise AssertionError("removing documents embeds nothing")
