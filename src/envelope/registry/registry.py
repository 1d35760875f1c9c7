"""The policy registry: versions of the config documents, which one is active, and why.

    propose   store a config set's documents as a version (content-addressed: the same
              documents are always the same version, so proposing twice stores once,
              and re-applying an old config reuses its number)
    activate  make a version active: validated first (an invalid version is refused and
              the running one stays); pointer, statuses and audit row in one transaction
    apply     propose + activate; nothing happens when the documents are already active
    rollback  back to a version, by default the last-known-good (the most recently
              active version before the current one that is not marked bad); the
              version rolled back from is marked bad in the same transaction

Gateways poll `active_version()` (one small read) and load `config(number)` when it
moves. Versions are validated against this registry's `gateway` settings (the process
settings are not versioned; route cache volatilities refer to them).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import ValidationError

from envelope.config.documents import ConfigSet, FlagDoc, GatewayDoc
from envelope.registry.diff import Change, diff, summary
from envelope.registry.documents import EMPTY, Documents, InvalidDocuments
from envelope.registry.flag_state import Activation, FlagState, flag_states
from envelope.store.ports import AuditAction, AuditEntry, ConfigVersion, RegistryStore, StaleActive

ENV_ACTOR = "ENVELOPE_ACTOR"
_ATTEMPTS = 5  # activations retried when another lands in between (each retry re-reads and re-diffs)


class RegistryError(Exception):
    """A registry operation refused; the message says why."""


class NoSuchVersion(RegistryError):
    pass


class AlreadyActive(RegistryError):
    pass


class InvalidVersion(RegistryError):
    """A version whose documents do not validate: never activated. `problems`, one per line."""

    def __init__(self, number: int, problems: list[str]) -> None:
        super().__init__(f"version {number} is not a valid config:\n" + "\n".join(problems))
        self.number = number
        self.problems = problems


class NothingToRollBack(RegistryError):
    pass


class ActivatedMeanwhile(RegistryError):
    """Another activation landed while this one was being prepared (rollback: never retried)."""


def default_actor() -> str:
    """`$ENVELOPE_ACTOR`, else user@hostname."""
    actor = os.environ.get(ENV_ACTOR)
    if actor:
        return actor
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name in the environment or the password database
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


class Registry:
    def __init__(
        self, store: RegistryStore, *, gateway: GatewayDoc | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._gateway = gateway if gateway is not None else GatewayDoc()
        self._clock = clock

    # --- reading ---

    async def active_version(self) -> int | None:
        return await self._store.active_version()

    async def active(self) -> ConfigVersion | None:
        number = await self._store.active_version()
        return None if number is None else await self.get(number)

    async def get(self, number: int) -> ConfigVersion:
        version = await self._store.get_version(number)
        if version is None:
            raise NoSuchVersion(f"there is no version {number}")
        return version

    async def config(self, number: int) -> ConfigSet:
        """Version `number` as a config set with this registry's gateway settings."""
        try:
            return Documents.parse((await self.get(number)).documents).config(self._gateway)
        except InvalidDocuments as exc:
            raise InvalidVersion(number, exc.problems) from exc

    async def history(self, limit: int | None = None) -> list[AuditEntry]:
        """Activations, newest first."""
        return await self._store.audit_log(limit)

    async def versions(self, limit: int | None = None) -> list[ConfigVersion]:
        return await self._store.list_versions(limit)

    async def diff(self, config: ConfigSet) -> list[Change]:
        """What activating `config` would change (everything is added when nothing is active)."""
        return diff(await self._active_documents(), Documents.of(config))

    async def changes(self, old: int | None, new: int) -> list[Change]:
        """What changed from version `old` (None: nothing) to version `new`."""
        before = EMPTY if old is None else await self._documents(old)
        return diff(before, await self._documents(new))

    async def flags(self, now: datetime | None = None) -> list[FlagState]:
        """The active version's flags, their state at `now` and since when they are on."""
        number = await self._store.active_version()
        if number is None:
            return []
        by_version: dict[int, list[FlagDoc]] = {}
        activations = []
        for entry in reversed(await self._store.audit_log()):
            if entry.to_version not in by_version:
                by_version[entry.to_version] = await self._flags_of(entry.to_version)
            activations.append(Activation(entry.ts, by_version[entry.to_version]))
        current = by_version[number] if number in by_version else await self._flags_of(number)
        return flag_states(current, activations, now or datetime.now(UTC))

    # --- changing ---

    async def propose(self, config: ConfigSet, actor: str | None = None, message: str = "") -> ConfigVersion:
        """Store `config`'s documents as a version (status `new`), or return the version
        that already holds exactly these documents (whatever its status)."""
        documents = Documents.of(config)
        version, _ = await self._store.add_version(
            documents.digest, documents.text, actor=actor or default_actor(), message=message, at=self._clock()
        )
        return version

    async def activate(
        self, number: int, actor: str | None = None, *, action: AuditAction = "apply", reason: str | None = None
    ) -> AuditEntry:
        """Make version `number` active, whichever is active now; `InvalidVersion` if it does not validate."""
        for _ in range(_ATTEMPTS):
            current = await self._store.active_version()
            if current == number:
                raise AlreadyActive(f"version {number} is already active")
            try:
                return await self._activate(number, current, actor, action=action, reason=reason)
            except StaleActive:
                continue
        raise ActivatedMeanwhile(f"other activations kept landing; version {number} was not activated")

    async def apply(
        self, config: ConfigSet, actor: str | None = None, message: str = "", *, reason: str | None = None
    ) -> AuditEntry | None:
        """Propose and activate `config`; None when its documents are already the active version."""
        version = await self.propose(config, actor, message)
        try:
            return await self.activate(version.number, actor, reason=reason)
        except AlreadyActive:
            return None

    async def start(self, config: ConfigSet, actor: str | None = None) -> int:
        """What a gateway starting with `config` calls: when no version is active, its documents
        become the active one (audit action `start`). The active version's number either way."""
        current = await self._store.active_version()
        if current is not None:
            return current
        version = await self.propose(config, actor, "started with this config")
        with contextlib.suppress(StaleActive):  # another replica started first: its version stands
            await self._activate(version.number, None, actor, action="start", reason=None)
        active = await self._store.active_version()
        assert active is not None
        return active

    async def rollback(
        self,
        to: int | None = None,
        actor: str | None = None,
        reason: str | None = None,
        *,
        action: AuditAction = "rollback",
    ) -> AuditEntry:
        """Activate version `to`, by default the last-known-good, and mark the current one bad."""
        current = await self._store.active_version()
        if current is None:
            raise NothingToRollBack("no version is active")
        target = to if to is not None else await self._last_known_good(current)
        if target is None:
            raise NothingToRollBack(f"no earlier good version to roll back to from version {current}")
        if target == current:
            raise AlreadyActive(f"version {target} is already active")
        why = reason or f"rolled back to version {target}"
        try:
            return await self._activate(target, current, actor, action=action, reason=reason, bad_reason=why)
        except StaleActive as exc:
            raise ActivatedMeanwhile(f"another activation landed meanwhile ({exc}); look at history and retry") from exc

    async def last_known_good(self, current: int) -> int | None:
        """The version `rollback()` would go back to from `current` (None: none)."""
        return await self._last_known_good(current)

    async def mark_bad(self, number: int, reason: str) -> None:
        if not await self._store.mark_bad(number, reason):
            raise NoSuchVersion(f"there is no version {number}")

    # --- inside ---

    async def _activate(
        self,
        number: int,
        current: int | None,
        actor: str | None,
        *,
        action: AuditAction,
        reason: str | None,
        bad_reason: str | None = None,
    ) -> AuditEntry:
        target = await self._documents(number)  # raises InvalidVersion: never activated
        before = EMPTY if current is None else await self._documents(current, strict=False)
        return await self._store.activate(
            number,
            expected=current,
            actor=actor or default_actor(),
            action=action,
            summary=summary(diff(before, target)) or "no change",
            reason=reason,
            at=self._clock(),
            bad_reason=bad_reason,
        )

    async def _documents(self, number: int, *, strict: bool = True) -> Documents:
        """Version `number` validated and re-dumped by this code (so diffs see no phantom
        defaults); as stored when it no longer validates and not `strict`."""
        text = (await self.get(number)).documents
        try:
            return Documents.parse(text).canonical(self._gateway)
        except InvalidDocuments as exc:
            if strict:
                raise InvalidVersion(number, exc.problems) from exc
        try:
            return Documents.parse(text)
        except InvalidDocuments:
            return EMPTY

    async def _flags_of(self, number: int) -> list[FlagDoc]:
        """The flags of version `number` as stored (one that no longer validates counts as none)."""
        try:
            sections = Documents.parse((await self.get(number)).documents).sections
            return [FlagDoc.model_validate(doc) for doc in sections["flags"]]
        except (InvalidDocuments, ValidationError):
            return []

    async def _active_documents(self) -> Documents:
        current = await self._store.active_version()
        return EMPTY if current is None else await self._documents(current, strict=False)

    async def _last_known_good(self, current: int) -> int | None:
        for entry in await self._store.audit_log():
            candidate = entry.to_version
            if candidate != current and (await self.get(candidate)).status != "bad":
                return candidate
        return None
