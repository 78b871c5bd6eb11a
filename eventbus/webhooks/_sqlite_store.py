"""A durable idempotency store in one SQLite file, shared by the processes of one machine."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Collection
from contextlib import closing

from ._idempotency import DEFAULT_LEASE, DEFAULT_TTL, Claim, check_lease, check_ttl, new_token

_SCHEMA = """
CREATE TABLE IF NOT EXISTS eventbus_webhook_event (
    key TEXT PRIMARY KEY,
    done INTEGER NOT NULL DEFAULT 0,
    token TEXT,
    lease_until REAL NOT NULL DEFAULT 0,
    touched REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS eventbus_webhook_event_touched ON eventbus_webhook_event (touched);
CREATE TABLE IF NOT EXISTS eventbus_webhook_handler (
    key TEXT NOT NULL,
    handler TEXT NOT NULL,
    PRIMARY KEY (key, handler)
);
"""
#: Old events are swept at most this often (seconds), by whichever claim comes first.
_SWEEP_EVERY = 600.0


class SqliteIdempotencyStore:
    """Remembers handled events in a SQLite file: survives restarts, and the worker
    processes of one machine (gunicorn, uvicorn ``--workers``) may share the file.

    Each operation is one ``BEGIN IMMEDIATE`` transaction on its own connection, in WAL mode
    with a busy timeout, so concurrent claims of one event from any thread or process see
    exactly one winner. Calls block; :class:`WebhookReceiver` makes them from worker threads.
    Not for network file systems (SQLite's locking needs a local disk).

    :param path: the database file (created with its tables if missing)
    :param lease: seconds an in-flight claim holds before a redelivery may take it over
    :param ttl: seconds an event is remembered after it was last touched (default a week)
    :param busy_timeout: seconds to wait for another process's write lock before failing
    :raises sqlite3.OperationalError: the file cannot be opened or created, naming its path
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        lease: float = DEFAULT_LEASE,
        ttl: float = DEFAULT_TTL,
        busy_timeout: float = 30.0,
    ) -> None:
        self.path = os.fspath(path)
        self.lease = check_lease(lease)
        self.ttl = check_ttl(ttl, self.lease)
        self.busy_timeout = busy_timeout
        self._next_sweep = 0.0
        try:
            with closing(self._connect()) as db:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(_SCHEMA)
        except sqlite3.OperationalError as exc:
            raise sqlite3.OperationalError(
                f"cannot open the idempotency database {self.path!r}: {exc}; check that its "
                "folder exists and is writable by this process"
            ) from exc

    def _connect(self) -> sqlite3.Connection:
        # Autocommit mode: transactions are opened explicitly with BEGIN IMMEDIATE, which takes
        # the write lock up front so two claimers can never both read "free" and both write.
        return sqlite3.connect(
            self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )

    def claim(self, key: str, /) -> Claim:
        """See :meth:`IdempotencyStore.claim`."""
        now = time.time()
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                self._maybe_sweep(db, now)
                claim = self._claim(db, key, now)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        return claim

    def _claim(self, db: sqlite3.Connection, key: str, now: float) -> Claim:
        row = db.execute(
            "SELECT done, token, lease_until FROM eventbus_webhook_event WHERE key = ?", (key,)
        ).fetchone()
        if row is not None and row[0]:
            return Claim(key, "done")
        if row is not None and row[1] is not None and row[2] > now:
            return Claim(key, "in_flight")
        token = new_token()
        db.execute(
            "INSERT INTO eventbus_webhook_event (key, token, lease_until, touched) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET token = excluded.token, "
            "lease_until = excluded.lease_until, touched = excluded.touched",
            (key, token, now + self.lease, now),
        )
        names = db.execute(
            "SELECT handler FROM eventbus_webhook_handler WHERE key = ?", (key,)
        ).fetchall()
        return Claim(key, "claimed", token, frozenset(name for (name,) in names))

    def settle(self, claim: Claim, /, *, completed: Collection[str], done: bool) -> None:
        """See :meth:`IdempotencyStore.settle`."""
        now = time.time()
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                self._settle(db, claim, completed, done, now)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @staticmethod
    def _settle(
        db: sqlite3.Connection, claim: Claim, completed: Collection[str], done: bool, now: float
    ) -> None:
        db.execute(
            "INSERT INTO eventbus_webhook_event (key, touched) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET touched = excluded.touched",
            (claim.key, now),
        )
        db.executemany(
            "INSERT OR IGNORE INTO eventbus_webhook_handler (key, handler) VALUES (?, ?)",
            [(claim.key, name) for name in completed],
        )
        if done:
            db.execute(
                "UPDATE eventbus_webhook_event SET done = 1, token = NULL, lease_until = 0 "
                "WHERE key = ?",
                (claim.key,),
            )
        else:
            db.execute(
                "UPDATE eventbus_webhook_event SET token = NULL, lease_until = 0 "
                "WHERE key = ? AND token = ?",
                (claim.key, claim.token),
            )

    def _maybe_sweep(self, db: sqlite3.Connection, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + min(_SWEEP_EVERY, self.ttl)
        db.execute(
            "DELETE FROM eventbus_webhook_event WHERE touched < ? AND lease_until < ?",
            (now - self.ttl, now),
        )
        db.execute(
            "DELETE FROM eventbus_webhook_handler WHERE key NOT IN "
            "(SELECT key FROM eventbus_webhook_event)"
        )

    def __repr__(self) -> str:
        return f"SqliteIdempotencyStore({self.path!r}, lease={self.lease:g}, ttl={self.ttl:g})"
