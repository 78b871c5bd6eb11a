"""The outbox: where queued webhook messages, their deliveries and attempts are kept.

:class:`Outbox` is the interface the sender works through, small enough for another engine
(Postgres) to implement; :class:`SqliteOutbox` is the one eventbus ships. The contract tests
in ``tests/test_outbox.py`` run against the protocol.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, runtime_checkable

from ._endpoints import Endpoint

DeliveryStatus = Literal["pending", "succeeded", "failed"]
AttemptStatus = Literal["succeeded", "failed"]
Trigger = Literal["scheduled", "manual"]


@dataclass(frozen=True, slots=True)
class Message:
    """One queued event: the exact bytes sent and signed, and the headers fixed at queuing.

    :ivar headers: headers sent with every attempt (``traceparent``)
    """

    event_id: str
    event_type: str
    body: bytes
    headers: Mapping[str, str]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OutboundDelivery:
    """One event queued for one endpoint.

    :ivar status: ``"pending"`` (an attempt is due at ``next_attempt_at``), ``"succeeded"``,
        or ``"failed"`` (the schedule is exhausted; ``retry``/``recover`` can send it again)
    :ivar attempts: how many attempts were made
    :ivar next_attempt_at: when the next attempt is due (``None`` unless pending)
    :ivar created_at: when it was queued
    """

    event_id: str
    event_type: str
    endpoint_id: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Attempt:
    """One POST of a delivery, and what came of it.

    :ivar number: 1 for the first attempt of this delivery, then 2, 3, ...
    :ivar response_status: the HTTP status, ``None`` when no response came
    :ivar response_body: the first 4 KB of the response, decoded as UTF-8 (bad bytes replaced)
    :ivar error: why it failed (``"HTTP 500"``, ``"timed out after 15 s"``, ...), else ``None``
    :ivar duration: seconds from the start of the attempt to its end
    :ivar trigger: ``"scheduled"``, or ``"manual"`` for ``retry``/``recover``
    :ivar next_attempt_at: when the delivery is tried next, ``None`` when it is not
    """

    event_id: str
    endpoint_id: str
    number: int
    status: AttemptStatus
    response_status: int | None
    response_body: str | None
    error: str | None
    duration: float
    trigger: Trigger
    created_at: datetime
    next_attempt_at: datetime | None


@dataclass(frozen=True, slots=True)
class Lease:
    """A delivery a worker holds until ``lease_until``; ``token`` proves it still does.

    :ivar step: how many failed attempts the current schedule has seen
    """

    message: Message
    endpoint: Endpoint
    step: int
    trigger: Trigger
    token: str
    lease_until: datetime


#: What one attempt settles: the lease it ran under, its record, the delivery's new status.
Settlement = tuple[Lease, Attempt, DeliveryStatus]


@runtime_checkable
class Outbox(Protocol):
    """Durable storage for the webhook sender.

    Every method is one atomic operation, safe to call from several threads and processes
    sharing the storage. Times are timezone-aware UTC datetimes.
    """

    def add_endpoint(self, endpoint: Endpoint, /) -> None:
        """Store a new endpoint."""
        ...

    def get_endpoint(self, endpoint_id: str, /) -> Endpoint | None:
        """The endpoint with this id, or ``None``."""
        ...

    def list_endpoints(self) -> list[Endpoint]:
        """Every endpoint, oldest first."""
        ...

    def update_endpoint(self, endpoint_id: str, changes: Mapping[str, Any], /) -> Endpoint | None:
        """Set the given :class:`Endpoint` fields; return the result, ``None`` if missing."""
        ...

    def disable_endpoint(self, endpoint_id: str, reason: str, now: datetime, /) -> Endpoint | None:
        """Disable an enabled endpoint, recording ``reason``; return it, or ``None`` when it
        is missing or already disabled (so only one worker reports the disabling)."""
        ...

    def delete_endpoint(self, endpoint_id: str, /) -> bool:
        """Delete an endpoint with its deliveries and attempts; ``False`` if it was missing."""
        ...

    def enqueue(self, message: Message, endpoint_ids: Sequence[str], /) -> int:
        """In one transaction, store ``message`` and a pending delivery, due now, for each
        listed endpoint that is still enabled and does not have one for this event yet.

        :returns: how many deliveries were newly queued
        """
        ...

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
        """Lease up to ``limit`` due deliveries of enabled endpoints, earliest due first and
        taking endpoints in turn, at most ``per_endpoint`` minus ``in_flight[endpoint]`` each.
        A delivery whose lease ran out (its worker died) is due again."""
        ...

    def release(self, leases: Sequence[Lease], /) -> None:
        """Give back leases not sent (a stopping worker's buffer): due again at once."""
        ...

    def settle(self, results: Sequence[Settlement], /) -> list[datetime | None]:
        """In one transaction, for each ``(lease, attempt, status)``: record ``attempt`` (its
        ``number`` is assigned here) and, if ``lease`` still holds the delivery, move it to
        ``status`` and ``attempt.next_attempt_at``. Track each endpoint's failures: a success
        clears ``failing_since``, a failure sets it if unset.

        :returns: each endpoint's ``failing_since`` afterwards, in the order given
        """
        ...

    def schedule(self, event_id: str, endpoint_id: str, now: datetime, /) -> bool:
        """Make the delivery pending and due now as a ``manual`` attempt; ``False`` if none.

        A delivery whose lease has not run out keeps it (no second POST starts while one is
        in flight) and is due as a manual attempt as soon as that attempt is settled."""
        ...

    def recover(self, endpoint_id: str, since: datetime, now: datetime, /) -> int:
        """Restart the schedule of every delivery queued for the endpoint at or after
        ``since`` that has no succeeded attempt, due now; return how many. One in flight
        (leased) keeps its lease, and restarts once its attempt settles, unless it succeeded."""
        ...

    def deliveries(
        self, *, endpoint_id: str | None, status: DeliveryStatus | None, limit: int
    ) -> list[OutboundDelivery]:
        """Deliveries, most recently queued first."""
        ...

    def attempts(self, *, event_id: str | None, endpoint_id: str | None) -> list[Attempt]:
        """Attempts, oldest first."""
        ...

    def next_due(self) -> datetime | None:
        """When the next pending delivery of an enabled endpoint falls due (lease included)."""
        ...

    def purge(self, now: datetime, /) -> int:
        """Delete finished deliveries (and their attempts, and messages left without
        deliveries) older than the outbox's retention; return how many deliveries."""
        ...

    def close(self) -> None:
        """Release connections; later calls reopen them."""
        ...
