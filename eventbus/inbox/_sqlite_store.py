"""A durable store in one SQLite file, shared by the processes of one machine."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Collection, Mapping

from .._sqlite import SqliteFile, Synchronous
from ._store import (
    DEFAULT_LEASE,
    DEFAULT_TTL,
    Claim,
    DeadLetter,
    check_lease,
    check_ttl,
    new_token,
    utc,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS eventbus_inbox_event (
    key TEXT PRIMARY KEY,
    clean INTEGER NOT NULL DEFAULT 0,
    token TEXT,
    lease_until REAL NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    expires REAL NOT NULL,
    first_failed REAL,
    last_failed REAL,
    dead_type TEXT,
    dead_body BLOB
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS eventbus_inbox_event_expires ON eventbus_inbox_event (expires);
CREATE TABLE IF NOT EXISTS eventbus_inbox_handler (
    key TEXT NOT NULL,
    handler TEXT NOT NULL,
    completed INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    PRIMARY KEY (key, handler)
) WITHOUT ROWID;
"""
_CLAIM_NEW = (
    "INSERT INTO eventbus_inbox_event (key, token, lease_until, attempts, expires) "
    "VALUES (?, ?, ?, 1, ?) ON CONFLICT (key) DO NOTHING"
)
_CLAIM_AGAIN = (
    "UPDATE eventbus_inbox_event SET token = ?, lease_until = ?, attempts = attempts + 1 "
    "WHERE key = ?"
)
_COMPLETED = (
    "INSERT INTO eventbus_inbox_handler (key, handler, completed) VALUES (?, ?, 1) "
    "ON CONFLICT (key, handler) DO UPDATE SET completed = 1, error = NULL"
)
_COMPLETED_HELD = (
    "INSERT INTO eventbus_inbox_handler (key, handler, completed) "
    "SELECT key, ?2, 1 FROM eventbus_inbox_event WHERE key = ?1 AND token = ?3 "
    "ON CONFLICT (key, handler) DO UPDATE SET completed = 1, error = NULL"
)
_EXTEND = (
    "UPDATE eventbus_inbox_event SET lease_until = MAX(lease_until, ?) WHERE key = ? AND token = ?"
)
_FAILED = (
    "INSERT INTO eventbus_inbox_handler (key, handler, error) VALUES (?, ?, ?) "
    "ON CONFLICT (key, handler) DO UPDATE SET error = excluded.error"
)
_RELEASE = (
    "UPDATE eventbus_inbox_event SET token = NULL, lease_until = 0, "
    "clean = (clean OR ?1 IS NULL), "
    "last_failed = COALESCE(?1, last_failed), first_failed = COALESCE(first_failed, ?1), "
    "dead_type = ?2, dead_body = ?3 WHERE key = ?4 AND token = ?5"
)
_LETTER = (
    "SELECT key, dead_type, dead_body, attempts, first_failed, last_failed "
    "FROM eventbus_inbox_event WHERE dead_type IS NOT NULL AND expires >= ?"
)
_ERRORS = (
    "SELECT handler, error FROM eventbus_inbox_handler "
    "WHERE key = ? AND completed = 0 AND error IS NOT NULL"
)
#: Old events are swept at most this often (seconds), by whichever claim comes first.
_SWEEP_EVERY = 600.0


class SqliteIdempotencyStore:
    """An :class:`IdempotencyStore` in a SQLite file: survives restarts, and the worker
    processes of one machine (gunicorn, uvicorn ``--workers``) may share the file.

    Each thread keeps one connection; a claim is one ``BEGIN IMMEDIATE`` transaction and a
    settle another, in WAL mode with a busy timeout, so concurrent claims of one event from
    any thread or process see exactly one winner; recording one handler's completion mid-attempt
(:meth:`complete`) is a third. Calls block; the inbox makes them from a
    worker thread in async code (one hop per call). Not for network file systems (SQLite's
    locking needs a local disk).

    The file is created (with its tables) only here: if it is deleted or replaced while the
    store is in use, every call raises :class:`StoreFileMissingError` naming it, until the
    process restarts, rather than starting an empty history that would run handled events
    again.

    :param path: the database file (created with its tables if missing)
    :param lease: seconds an in-flight claim holds before a redelivery may take it over
    :param ttl: seconds an event is remembered after its first claim (default a week)
    :param synchronous: ``"full"`` (default: every settle survives a power loss) or
        ``"normal"`` (several times faster; survives an application crash, but a power loss
        may forget the last few settles, so those events can run again; never lost)
    :param busy_timeout: seconds to wait for another process's write lock before failing
    :raises sqlite3.OperationalError: the file cannot be opened or created, naming its path
    :raises ValueError: a ``lease``, ``ttl`` or ``synchronous`` out of range
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        lease: float = DEFAULT_LEASE,
        ttl: float = DEFAULT_TTL,
        synchronous: Synchronous = "full",
        busy_timeout: float = 5.0,
    ) -> None:
        self.lease = check_lease(lease)
        self.ttl = check_ttl(ttl, self.lease)
        self.file = SqliteFile(
            path, schema=_SCHEMA, synchronous=synchronous, busy_timeout=busy_timeout
        )
        self.path = self.file.path
        self._next_sweep = 0.0

    def claim(self, key: str, /, *, handlers: Collection[str]) -> Claim:
        """See :meth:`IdempotencyStore.claim`."""
        now = time.time()
        token = new_token()
        with self.file.transaction() as db:
            self._maybe_sweep(db, now)
            if db.execute(_CLAIM_NEW, (key, token, now + self.lease, now + self.ttl)).rowcount:
                return Claim(key, "claimed", token, frozenset(), 1)
            return self._claim_again(db, key, handlers, token, now)

    def _claim_again(
        self, db: sqlite3.Connection, key: str, handlers: Collection[str], token: str, now: float
    ) -> Claim:
        clean, holder, lease_until, attempts, dead = db.execute(
            "SELECT clean, token, lease_until, attempts, dead_type IS NOT NULL "
            "FROM eventbus_inbox_event WHERE key = ?",
            (key,),
        ).fetchone()
        if dead:
            return Claim(key, "dead_letter", attempt=attempts)
        completed = frozenset(
            name
            for (name,) in db.execute(
                "SELECT handler FROM eventbus_inbox_handler WHERE key = ? AND completed = 1",
                (key,),
            )
        )
        if clean and completed.issuperset(handlers):
            return Claim(key, "done", attempt=attempts)
        if holder is not None and lease_until > now:
            return Claim(key, "in_flight", attempt=attempts)
        db.execute(_CLAIM_AGAIN, (token, now + self.lease, key))
        return Claim(key, "claimed", token, completed, attempts + 1)

    def settle(
        self,
        claim: Claim,
        /,
        *,
        completed: Collection[str],
        failed: Mapping[str, str],
        dead_letter: tuple[str, bytes] | None = None,
    ) -> bool:
        """See :meth:`IdempotencyStore.settle`."""
        failed_at = time.time() if failed else None
        dead_type, dead_body = dead_letter or (None, None)
        with self.file.transaction() as db:
            db.executemany(_COMPLETED, [(claim.key, name) for name in completed])
            released = db.execute(
                _RELEASE, (failed_at, dead_type, dead_body, claim.key, claim.token)
            ).rowcount
            if released and failed:
                db.executemany(_FAILED, [(claim.key, *item) for item in failed.items()])
        return bool(released)

    def complete(self, claim: Claim, handler: str, /) -> bool:
        """See :meth:`IdempotencyStore.complete`."""
        with self.file.transaction() as db:
            return bool(db.execute(_COMPLETED_HELD, (claim.key, handler, claim.token)).rowcount)

    def extend(self, claim: Claim, lease: float, /) -> bool:
        """See :meth:`IdempotencyStore.extend`."""
        until = time.time() + check_lease(lease)
        with self.file.transaction() as db:
            return bool(db.execute(_EXTEND, (until, claim.key, claim.token)).rowcount)

    def dead_letters(self) -> list[DeadLetter]:
        """See :meth:`IdempotencyStore.dead_letters`."""
        db = self.file.connection()
        rows = db.execute(_LETTER + " ORDER BY first_failed", (time.time(),)).fetchall()
        return [_letter(db, row) for row in rows]

    def revive(self, key: str, /) -> DeadLetter | None:
        """See :meth:`IdempotencyStore.revive`."""
        with self.file.transaction() as db:
            row = db.execute(_LETTER + " AND key = ?", (time.time(), key)).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE eventbus_inbox_event SET dead_type = NULL, dead_body = NULL WHERE key = ?",
                (key,),
            )
            return _letter(db, row)

    def _maybe_sweep(self, db: sqlite3.Connection, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + min(_SWEEP_EVERY, self.ttl)
        db.execute(
            "DELETE FROM eventbus_inbox_event WHERE expires < ? AND lease_until < ?", (now, now)
        )
        db.execute(
            "DELETE FROM eventbus_inbox_handler WHERE key NOT IN "
            "(SELECT key FROM eventbus_inbox_event)"
        )

    def close(self) -> None:
        """Close every thread's connection; a later call opens a new one."""
        self.file.close()

    def __repr__(self) -> str:
        return (
            f"SqliteIdempotencyStore({self.path!r}, lease={self.lease:g}, ttl={self.ttl:g}, "
            f"synchronous={self.file.synchronous!r})"
        )


def _letter(db: sqlite3.Connection, row: tuple[str, str, bytes, int, float, float]) -> DeadLetter:
    key, event_type, body, attempts, first_failed, last_failed = row
    errors = dict(db.execute(_ERRORS, (key,)).fetchall())
    return DeadLetter(
        key, event_type, bytes(body), errors, attempts, utc(first_failed), utc(last_failed)
    )
