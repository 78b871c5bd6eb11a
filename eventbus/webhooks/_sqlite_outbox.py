"""The SQLite outbox: one file holding endpoints, messages, deliveries and attempts."""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from .._sqlite import SqliteFile, Synchronous
from ._endpoints import Endpoint
from ._outbox import Attempt, DeliveryStatus, Lease, Message, OutboundDelivery, Settlement
from ._outbox_rows import (
    ATTEMPT,
    DELIVERY,
    DUE,
    ENDPOINT_COLUMNS,
    HELD,
    REVIVE,
    SCHEMA,
    SETTLE,
    attempt_of,
    delivery_of,
    endpoint_of,
    endpoint_row,
    moment,
    moment_or_none,
    stamp,
    where_clause,
)


class SqliteOutbox:
    """The outbox in one SQLite file (stdlib ``sqlite3``, WAL), shared by the threads and
    processes that open the same path.

    :param path: the database file, created if missing
    :param retention: finished (succeeded or failed) deliveries older than this are purged
        with their attempts, and then messages no delivery needs
    :param synchronous: ``"full"`` (default: a queued event survives a power loss) or
        ``"normal"`` (survives a crash of the application, not of the machine; faster).
        Leases and attempt records never wait for the disk: after a power loss the last
        few deliveries may be sent again, with the same id
    :raises ValueError: ``retention`` is not positive
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        retention: timedelta = timedelta(days=30),
        synchronous: Synchronous = "full",
    ) -> None:
        if retention <= timedelta(0):
            raise ValueError(f"retention must be positive, not {retention!r}")
        self.retention = retention
        self._file = SqliteFile(path, schema=SCHEMA, synchronous=synchronous)
        self.path = self._file.path

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection for reads: one statement sees one snapshot, and no write
        lock is taken or commit paid."""
        yield self._file.connection()

    @contextmanager
    def _unflushed(self) -> Iterator[sqlite3.Connection]:
        """A transaction committed without waiting for the disk, whatever ``synchronous``.

        For leases and attempt records only: a power loss can forget the last few, and
        those deliveries are then sent again with the same id, which at-least-once delivery
        allows. The next flushed commit (a queued event) makes them durable too.
        """
        connection = self._file.connection()
        connection.execute("PRAGMA synchronous=NORMAL")
        try:
            with self._file.transaction() as db:
                yield db
        finally:
            connection.execute(f"PRAGMA synchronous={self._file.synchronous.upper()}")

    # -- endpoints --------------------------------------------------------------------

    def add_endpoint(self, endpoint: Endpoint, /) -> None:
        with self._file.transaction() as db:
            db.execute(
                f"INSERT INTO webhook_endpoints ({ENDPOINT_COLUMNS}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                endpoint_row(endpoint),
            )

    def get_endpoint(self, endpoint_id: str, /) -> Endpoint | None:
        with self._reading() as db:
            return self._read_endpoint(db, endpoint_id)

    def list_endpoints(self) -> list[Endpoint]:
        with self._reading() as db:
            rows = db.execute(
                f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY created_at, id"
            ).fetchall()
        return [endpoint_of(row) for row in rows]

    def update_endpoint(self, endpoint_id: str, changes: Mapping[str, Any], /) -> Endpoint | None:
        with self._file.transaction() as db:
            current = self._read_endpoint(db, endpoint_id)
            if current is None:
                return None
            fields = {name: getattr(current, name) for name in current.__slots__}
            updated = Endpoint(**{**fields, **changes})
            db.execute(
                f"INSERT OR REPLACE INTO webhook_endpoints ({ENDPOINT_COLUMNS}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                endpoint_row(updated),
            )
        return updated

    def disable_endpoint(self, endpoint_id: str, reason: str, now: datetime, /) -> Endpoint | None:
        with self._file.transaction() as db:
            changed = db.execute(
                "UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = ?, "
                "updated_at = ? WHERE id = ? AND status = 'enabled'",
                (reason, now.timestamp(), endpoint_id),
            ).rowcount
            return self._read_endpoint(db, endpoint_id) if changed else None

    def delete_endpoint(self, endpoint_id: str, /) -> bool:
        with self._file.transaction() as db:
            for table in ("webhook_attempts", "webhook_deliveries"):
                db.execute(f"DELETE FROM {table} WHERE endpoint_id = ?", (endpoint_id,))
            gone = db.execute("DELETE FROM webhook_endpoints WHERE id = ?", (endpoint_id,))
            return gone.rowcount > 0

    @staticmethod
    def _read_endpoint(db: sqlite3.Connection, endpoint_id: str) -> Endpoint | None:
        row = db.execute(
            f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ?", (endpoint_id,)
        ).fetchone()
        return None if row is None else endpoint_of(row)

    # -- queuing and sending ----------------------------------------------------------

    def enqueue(self, message: Message, endpoint_ids: Sequence[str], /) -> int:
        now = message.created_at.timestamp()
        with self._file.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO webhook_messages VALUES (?, ?, ?, ?, ?)",
                (message.event_id, message.event_type, message.body,
                 json.dumps(dict(message.headers)), now),
            )  # fmt: skip
            added = 0
            for endpoint_id in endpoint_ids:
                added += db.execute(
                    "INSERT OR IGNORE INTO webhook_deliveries (event_id, endpoint_id, status, "
                    "step, attempts, next_attempt_at, trigger, created_at) SELECT ?, id, "
                    "'pending', 0, 0, ?, 'scheduled', ? FROM webhook_endpoints "
                    "WHERE id = ? AND status = 'enabled'",
                    (message.event_id, now, now, endpoint_id),
                ).rowcount
        return added

    def claim(
        self,
        now: datetime,
        lease: timedelta,
        limit: int,
        /,
        *,
        per_endpoint: int,
        in_flight: Mapping[str, int],
    ) -> list[Lease]:
        until = now + lease
        with self._unflushed() as db:
            rows = db.execute(
                "SELECT event_id, endpoint_id, CASE WHEN trigger = 'restart' THEN 0 ELSE step "
                "END, CASE WHEN trigger = 'scheduled' THEN trigger ELSE 'manual' END "
                "FROM (SELECT d.*, ROW_NUMBER() "
                "OVER (PARTITION BY d.endpoint_id ORDER BY d.next_attempt_at) AS turn "
                f"{DUE} AND d.next_attempt_at <= :now AND (d.lease_until IS NULL "
                "OR d.lease_until <= :now)) WHERE turn <= :cap "
                "ORDER BY turn, next_attempt_at LIMIT :limit",
                {"now": now.timestamp(), "cap": per_endpoint,
                 "limit": limit + sum(in_flight.values())},
            ).fetchall()  # fmt: skip
            taken: dict[str, int] = dict(in_flight)
            claims: list[Lease] = []
            for event_id, endpoint_id, step, trigger in rows:
                if len(claims) == limit or taken.get(endpoint_id, 0) >= per_endpoint:
                    continue
                taken[endpoint_id] = taken.get(endpoint_id, 0) + 1
                token = secrets.token_hex(8)
                db.execute(
                    "UPDATE webhook_deliveries SET lease_until = ?, token = ?, step = ?, "
                    "trigger = ? WHERE event_id = ? AND endpoint_id = ?",
                    (until.timestamp(), token, step, trigger, event_id, endpoint_id),
                )
                claims.append(self._claim(db, event_id, endpoint_id, step, trigger, token, until))
        return claims

    def _claim(
        self,
        db: sqlite3.Connection,
        event_id: str,
        endpoint_id: str,
        step: int,
        trigger: Any,
        token: str,
        until: datetime,
    ) -> Lease:
        event_type, body, headers, created = db.execute(
            "SELECT event_type, body, headers, created_at FROM webhook_messages "
            "WHERE event_id = ?",
            (event_id,),
        ).fetchone()
        message = Message(event_id, event_type, bytes(body), json.loads(headers), moment(created))
        # Joined on by the claim in this same transaction, so the row is there.
        row = db.execute(
            f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ?", (endpoint_id,)
        ).fetchone()
        return Lease(message, endpoint_of(row), step, trigger, token, until)

    def release(self, leases: Sequence[Lease], /) -> None:
        with self._unflushed() as db:
            db.executemany(
                "UPDATE webhook_deliveries SET lease_until = NULL, token = NULL "
                "WHERE event_id = ? AND endpoint_id = ? AND token = ?",
                [(lease.message.event_id, lease.endpoint.id, lease.token) for lease in leases],
            )

    def settle(self, results: Sequence[Settlement], /) -> list[datetime | None]:
        with self._unflushed() as db:
            return [self._settle(db, *result) for result in results]

    @staticmethod
    def _settle(
        db: sqlite3.Connection, lease: Lease, attempt: Attempt, status: DeliveryStatus
    ) -> datetime | None:
        key = (attempt.event_id, attempt.endpoint_id)
        created = attempt.created_at.timestamp()
        (number,) = db.execute(
            "SELECT COALESCE(MAX(number), 0) + 1 FROM webhook_attempts "
            "WHERE event_id = ? AND endpoint_id = ?",
            key,
        ).fetchone()
        db.execute(
            "INSERT INTO webhook_attempts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*key, number, attempt.status, attempt.response_status, attempt.response_body,
             attempt.error, attempt.duration, attempt.trigger, created,
             stamp(attempt.next_attempt_at)),
        )  # fmt: skip
        failed = attempt.status != "succeeded"
        db.execute(
            SETTLE,
            {"status": status, "step": lease.step + 1 if failed else 0, "failed": failed,
             "next": stamp(attempt.next_attempt_at), "created": created,
             "finished": None if status == "pending" else created, "event_id": key[0],
             "endpoint_id": key[1], "token": lease.token},
        )  # fmt: skip
        db.execute(
            "UPDATE webhook_endpoints SET failing_since = CASE WHEN ? THEN NULL "
            "ELSE COALESCE(failing_since, ?) END WHERE id = ?",
            (attempt.status == "succeeded", created, attempt.endpoint_id),
        )
        row = db.execute(
            "SELECT failing_since FROM webhook_endpoints WHERE id = ?", (attempt.endpoint_id,)
        ).fetchone()
        return None if row is None else moment_or_none(row[0])

    def schedule(self, event_id: str, endpoint_id: str, now: datetime, /) -> bool:
        with self._file.transaction() as db:
            return (
                db.execute(
                    f"{REVIVE}, trigger = CASE WHEN {HELD} THEN 'rerun' ELSE 'manual' END "
                    "WHERE event_id = :event_id AND endpoint_id = :endpoint_id",
                    {"now": now.timestamp(), "event_id": event_id, "endpoint_id": endpoint_id},
                ).rowcount
                > 0
            )

    def recover(self, endpoint_id: str, since: datetime, now: datetime, /) -> int:
        with self._file.transaction() as db:
            return db.execute(
                f"{REVIVE}, step = CASE WHEN {HELD} THEN step ELSE 0 END, "
                f"trigger = CASE WHEN {HELD} THEN 'restart' ELSE 'manual' END "
                "WHERE endpoint_id = :endpoint_id AND created_at >= :since AND NOT EXISTS ("
                "SELECT 1 FROM webhook_attempts a WHERE a.event_id = webhook_deliveries.event_id"
                " AND a.endpoint_id = webhook_deliveries.endpoint_id AND a.status = 'succeeded')",
                {"now": now.timestamp(), "endpoint_id": endpoint_id, "since": since.timestamp()},
            ).rowcount

    # -- reading ----------------------------------------------------------------------

    def deliveries(
        self,
        *,
        endpoint_id: str | None = None,
        status: DeliveryStatus | None = None,
        limit: int = 100,
    ) -> list[OutboundDelivery]:
        where, values = where_clause(**{"d.endpoint_id": endpoint_id, "d.status": status})
        with self._reading() as db:
            rows = db.execute(
                f"{DELIVERY}{where} ORDER BY d.created_at DESC, d.event_id, d.endpoint_id "
                "LIMIT ?",
                (*values, limit),
            ).fetchall()
        return [delivery_of(row) for row in rows]

    def attempts(
        self, *, event_id: str | None = None, endpoint_id: str | None = None
    ) -> list[Attempt]:
        where, values = where_clause(event_id=event_id, endpoint_id=endpoint_id)
        with self._reading() as db:
            rows = db.execute(
                f"{ATTEMPT}{where} ORDER BY created_at, event_id, endpoint_id, number", values
            ).fetchall()
        return [attempt_of(row) for row in rows]

    def next_due(self) -> datetime | None:
        with self._reading() as db:
            (due,) = db.execute(
                f"SELECT MIN(MAX(d.next_attempt_at, COALESCE(d.lease_until, 0))) {DUE}"
            ).fetchone()
        return moment_or_none(due)

    def purge(self, now: datetime, /) -> int:
        before = (now - self.retention).timestamp()
        with self._file.transaction() as db:
            db.execute(
                "DELETE FROM webhook_attempts WHERE (event_id, endpoint_id) IN (SELECT "
                "event_id, endpoint_id FROM webhook_deliveries WHERE finished_at < ?)",
                (before,),
            )
            purged = db.execute(
                "DELETE FROM webhook_deliveries WHERE finished_at < ?", (before,)
            ).rowcount
            db.execute(
                "DELETE FROM webhook_messages WHERE created_at < ? AND event_id NOT IN "
                "(SELECT event_id FROM webhook_deliveries)",
                (before,),
            )
        return purged

    def close(self) -> None:
        self._file.close()

    def __repr__(self) -> str:
        return f"SqliteOutbox({self.path!r}, retention={self.retention!r})"
