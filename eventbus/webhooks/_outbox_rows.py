"""The SQLite outbox's tables, its statements, and the rows it maps records to and from."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

from ._endpoints import Endpoint
from ._outbox import Attempt, OutboundDelivery

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_endpoints (
    id TEXT PRIMARY KEY, url TEXT NOT NULL, enabled_events TEXT NOT NULL, status TEXT NOT NULL,
    secret TEXT NOT NULL, description TEXT NOT NULL, metadata TEXT NOT NULL,
    scheme TEXT NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL,
    previous_secrets TEXT NOT NULL, failing_since REAL, disabled_reason TEXT);
CREATE TABLE IF NOT EXISTS webhook_messages (
    event_id TEXT PRIMARY KEY, event_type TEXT NOT NULL, body BLOB NOT NULL,
    headers TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    event_id TEXT NOT NULL, endpoint_id TEXT NOT NULL, status TEXT NOT NULL,
    step INTEGER NOT NULL, attempts INTEGER NOT NULL, next_attempt_at REAL,
    trigger TEXT NOT NULL, lease_until REAL, token TEXT, created_at REAL NOT NULL,
    finished_at REAL, PRIMARY KEY (event_id, endpoint_id));
CREATE INDEX IF NOT EXISTS webhook_deliveries_due
    ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS webhook_deliveries_recent ON webhook_deliveries (created_at);
CREATE TABLE IF NOT EXISTS webhook_attempts (
    event_id TEXT NOT NULL, endpoint_id TEXT NOT NULL, number INTEGER NOT NULL,
    status TEXT NOT NULL, response_status INTEGER, response_body TEXT, error TEXT,
    duration REAL NOT NULL, trigger TEXT NOT NULL, created_at REAL NOT NULL,
    next_attempt_at REAL, PRIMARY KEY (event_id, endpoint_id, number));
"""
ENDPOINT_COLUMNS = (
    "id, url, enabled_events, status, secret, description, metadata, scheme, created_at, "
    "updated_at, previous_secrets, failing_since, disabled_reason"
)
DELIVERY = (
    "SELECT d.event_id, m.event_type, d.endpoint_id, d.status, d.attempts, d.next_attempt_at,"
    " d.created_at FROM webhook_deliveries d JOIN webhook_messages m USING (event_id)"
)
ATTEMPT = (
    "SELECT event_id, endpoint_id, number, status, response_status, response_body, error, "
    "duration, trigger, created_at, next_attempt_at FROM webhook_attempts"
)
# A delivery leased to a worker whose lease has not run out: its attempt is in flight.
HELD = "lease_until > :now"
# retry/recover: due now; a delivery in flight keeps its lease (no second POST starts) and is
# marked 'rerun' (retry) or 'restart' (recover), and SETTLE makes it due once it settles.
REVIVE = (
    "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = :now, "
    f"finished_at = NULL, lease_until = CASE WHEN {HELD} THEN lease_until END, "
    f"token = CASE WHEN {HELD} THEN token END"
)
# The attempt's outcome; a 'rerun' mark (or a 'restart' one after a failure) makes it due at
# once as a manual attempt instead, a 'restart' from the first step of the schedule.
REVIVED = "(trigger = 'rerun' OR (trigger = 'restart' AND :failed))"
SETTLE = (
    f"UPDATE webhook_deliveries SET status = CASE WHEN {REVIVED} THEN 'pending' "
    "ELSE :status END, step = CASE WHEN trigger = 'restart' AND :failed THEN 0 ELSE :step END,"
    f" attempts = attempts + 1, next_attempt_at = CASE WHEN {REVIVED} THEN :created "
    f"ELSE :next END, finished_at = CASE WHEN {REVIVED} THEN NULL ELSE :finished END, "
    f"trigger = CASE WHEN {REVIVED} THEN 'manual' ELSE 'scheduled' END, lease_until = NULL, "
    "token = NULL WHERE event_id = :event_id AND endpoint_id = :endpoint_id AND token = :token"
)
DUE = (
    "FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id "
    "WHERE d.status = 'pending' AND e.status = 'enabled'"
)


def stamp(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def moment_or_none(stamp: float | None) -> datetime | None:
    return None if stamp is None else datetime.fromtimestamp(stamp, UTC)


def moment(stamp: float) -> datetime:
    return datetime.fromtimestamp(stamp, UTC)


def endpoint_row(endpoint: Endpoint) -> tuple[Any, ...]:
    previous = [[old, until.timestamp()] for old, until in endpoint.previous_secrets]
    return (
        endpoint.id, endpoint.url, json.dumps(endpoint.enabled_events), endpoint.status,
        endpoint.secret, endpoint.description, json.dumps(dict(endpoint.metadata)),
        endpoint.scheme, endpoint.created_at.timestamp(), endpoint.updated_at.timestamp(),
        json.dumps(previous), stamp(endpoint.failing_since), endpoint.disabled_reason,
    )  # fmt: skip


def endpoint_of(row: sqlite3.Row | tuple[Any, ...]) -> Endpoint:
    previous = tuple((old, moment(until)) for old, until in json.loads(row[10]))
    return Endpoint(
        id=row[0], url=row[1], enabled_events=tuple(json.loads(row[2])), status=row[3],
        secret=row[4], description=row[5], metadata=json.loads(row[6]), scheme=row[7],
        created_at=moment(row[8]), updated_at=moment(row[9]), previous_secrets=previous,
        failing_since=moment_or_none(row[11]), disabled_reason=row[12],
    )  # fmt: skip


def delivery_of(row: tuple[Any, ...]) -> OutboundDelivery:
    return OutboundDelivery(
        event_id=row[0], event_type=row[1], endpoint_id=row[2], status=row[3],
        attempts=row[4], next_attempt_at=moment_or_none(row[5]), created_at=moment(row[6]),
    )  # fmt: skip


def attempt_of(row: tuple[Any, ...]) -> Attempt:
    return Attempt(
        event_id=row[0], endpoint_id=row[1], number=row[2], status=row[3],
        response_status=row[4], response_body=row[5], error=row[6], duration=row[7],
        trigger=row[8], created_at=moment(row[9]), next_attempt_at=moment_or_none(row[10]),
    )  # fmt: skip


def where_clause(**conditions: Any) -> tuple[str, list[Any]]:
    given = {column: value for column, value in conditions.items() if value is not None}
    clause = " AND ".join(f"{column} = ?" for column in given)
    return (f" WHERE {clause}" if clause else ""), list(given.values())
