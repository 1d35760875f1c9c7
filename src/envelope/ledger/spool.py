"""Ledger rows the store could not take, kept on local disk until it can.

A spool is a directory of JSON-lines files, one `LedgerRecord` a line (msgspec JSON).
Each process appends to a file of its own and holds an exclusive `flock` on every
file it owns for as long as it lives. The kernel drops those locks when a process
dies, even by SIGKILL, so a spool file that can be locked has no living owner: any
writer may adopt it and replay it. Several gateway workers can share one directory.

`append` returns only after the rows are fsync'd. A file is deleted only after its
rows are in the store; rows written twice (a crash between the two steps) are
harmless because replay skips request ids the store already has.

Blocking file I/O: the writer calls these methods through `asyncio.to_thread`; a lock
makes them safe to call from two threads at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import msgspec
from sqlalchemy.engine import make_url

from envelope.ledger.record import LedgerRecord

log = logging.getLogger("envelope.ledger")

SPOOL_GLOB = "ledger-*.jsonl"
"""Files waiting to be replayed. Rows nothing could store go to `rejected-*.jsonl`, for a human."""


def default_spool_dir(database_url: str) -> Path:
    """Beside a SQLite database file; otherwise `.envelope-spool` in the working directory."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(url.database).resolve().parent / ".envelope-spool"
    return Path.cwd() / ".envelope-spool"


@dataclass(eq=False)
class SpoolFile:
    """A spool file this process owns: `fd` holds its lock."""

    path: Path
    fd: int


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._active: SpoolFile | None = None  # where `append` writes
        self._held: list[SpoolFile] = []  # sealed or adopted files, waiting for replay
        self._lock = threading.Lock()
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(LedgerRecord)

    @property
    def pending(self) -> bool:
        """Whether this process holds rows on disk that are not in the store yet."""
        return self._active is not None or bool(self._held)

    def append(self, records: list[LedgerRecord]) -> None:
        """Write rows durably (fsync'd) or raise `OSError` with the file as it was."""
        if not records:
            return
        data = b"".join(self._encoder.encode(r) + b"\n" for r in records)
        with self._lock:
            if self._active is None:
                self._active = self.new_file()
            _append_durably(self._active.fd, data)

    def claim(self) -> list[SpoolFile]:
        """Every file to replay now, oldest first: this process's own (sealed, so new
        rows go to a fresh file) and any left by a process that is gone."""
        with self._lock:
            if self._active is not None:
                self._held.append(self._active)
                self._active = None
            self._held.extend(self._adopt_orphans())
            self._held.sort(key=lambda f: f.path.name)
            return list(self._held)

    def read(self, spooled: SpoolFile, offset: int, limit: int) -> tuple[list[LedgerRecord], int]:
        """Up to `limit` rows from byte `offset` of a claimed file, and the offset after them.

        A line that does not decode (a write torn by a crash) is set aside in the
        rejected file rather than blocking the rest.
        """
        rows: list[LedgerRecord] = []
        bad: list[bytes] = []
        with open(spooled.path, "rb") as f:
            f.seek(offset)
            while len(rows) < limit:
                line = f.readline()
                if not line:
                    break
                offset += len(line)
                if not line.strip():
                    continue
                try:
                    rows.append(self._decoder.decode(line))
                except msgspec.DecodeError:
                    bad.append(line.rstrip(b"\n"))
        if bad:
            log.error("%d undecodable lines in %s set aside in %s", len(bad), spooled.path, self.directory)
            self._reject_lines(bad)
        return rows, offset

    def discard(self, spooled: SpoolFile) -> None:
        """Delete a replayed file (still locked, so nobody adopts it meanwhile)."""
        with self._lock:
            with contextlib.suppress(FileNotFoundError):
                spooled.path.unlink()
            os.close(spooled.fd)
            self._held.remove(spooled)

    def reject(self, records: list[LedgerRecord]) -> None:
        """Keep rows the store refuses for good (a value it cannot hold) out of the replay."""
        self._reject_lines([self._encoder.encode(r) for r in records])

    def close(self) -> None:
        """Release this process's files; what they still hold is replayed by the next writer."""
        with self._lock:
            for spooled in [*self._held, *([self._active] if self._active else [])]:
                os.close(spooled.fd)
            self._held.clear()
            self._active = None

    # --- internals ---

    def new_file(self, *, durable: bool = True) -> SpoolFile:
        """A new, locked spool file of this process's (`durable`: its name fsync'd too)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"ledger-{time.time_ns():020d}-{os.getpid()}.jsonl"
        # Locked under a name the orphan scan ignores, then renamed: never adoptable unlocked.
        temporary = self.directory / f".{name}.new"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            path = self.directory / name
            os.rename(temporary, path)
            if durable:
                _fsync_directory(self.directory)
        except BaseException:
            os.close(fd)
            raise
        return SpoolFile(path, fd)

    def _adopt_orphans(self) -> list[SpoolFile]:
        if not self.directory.is_dir():
            return []
        mine = {f.path for f in self._held}
        adopted: list[SpoolFile] = []
        for path in sorted(self.directory.glob(SPOOL_GLOB)):
            if path not in mine and (spooled := _try_lock(path)) is not None:
                adopted.append(spooled)
        if adopted:
            log.warning("adopted %d ledger spool files left by earlier processes in %s", len(adopted), self.directory)
        return adopted

    def _reject_lines(self, lines: list[bytes]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"rejected-{os.getpid()}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            _append_durably(fd, b"".join(line + b"\n" for line in lines))
        finally:
            os.close(fd)


def _try_lock(path: Path) -> SpoolFile | None:
    """Own `path` if no living process does; None if one does or it just went away."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # Another adopter may have replayed and deleted it between our open and lock.
        if os.fstat(fd).st_ino != os.stat(path).st_ino:
            raise FileNotFoundError(path)
    except (BlockingIOError, FileNotFoundError):
        os.close(fd)
        return None
    return SpoolFile(path, fd)


def _append_durably(fd: int, data: bytes) -> None:
    size = os.fstat(fd).st_size
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except OSError:
        # Leave no torn line behind for the next append to run into.
        with contextlib.suppress(OSError):
            os.ftruncate(fd, size)
        raise


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
