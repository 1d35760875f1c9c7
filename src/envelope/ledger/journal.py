"""A write-ahead copy of every ledger row, so that not even SIGKILL loses one.

`write` puts the row's line into this process's journal file at once — a plain
`write(2)`, no fsync: the kernel keeps the data if the process dies, and machine
crashes are the spool's fsync's concern. The writer seals the journal at each flush
and deletes sealed files once every row they hold is in the store or the spool.

A journal file is an ordinary spool file, locked by its living owner: when a process
dies, the next ledger writer adopts the file and replays it like any spool file,
skipping the request ids the store already has.
"""

from __future__ import annotations

import contextlib
import logging
import os

import msgspec

from envelope.ledger.record import LedgerRecord
from envelope.ledger.spool import Spool, SpoolFile

log = logging.getLogger("envelope.ledger")


class Journal:
    def __init__(self, spool: Spool) -> None:
        self._spool = spool
        self._active: SpoolFile | None = None
        self._sealed: list[SpoolFile] = []
        self._encode = msgspec.json.Encoder().encode
        self._broken = False

    def write(self, row: LedgerRecord) -> None:
        if self._broken:
            return
        try:
            if self._active is None:
                self._active = self._spool.new_file(durable=False)
            data = memoryview(self._encode(row) + b"\n")
            while data:
                data = data[os.write(self._active.fd, data) :]
        except OSError:
            # The row is still in memory on its way to the store; only the crash copy is lost.
            log.exception("ledger journal in %s unwritable; rows are kept in memory only", self._spool.directory)
            self._broken = True

    def seal(self) -> None:
        """Start a new file for the rows that follow."""
        if self._active is not None:
            self._sealed.append(self._active)
            self._active = None

    def discard_sealed(self) -> None:
        """Every row in the sealed files is stored or spooled: delete them."""
        for sealed in self._sealed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(sealed.path)
            os.close(sealed.fd)
        self._sealed.clear()

    def close(self, *, all_disposed: bool) -> None:
        """Delete the journal if every row is disposed of; else leave it for the next start."""
        self.seal()
        if all_disposed:
            self.discard_sealed()
            return
        for sealed in self._sealed:
            os.close(sealed.fd)
        self._sealed.clear()
