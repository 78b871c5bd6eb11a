"""The webhook sender: bus events queued durably per endpoint, then POSTed, signed, retried.

Queuing (``enqueue``, or the handler ``attach`` subscribes) writes the event's exact bytes and
one delivery per matching enabled endpoint in one transaction before it returns. The worker
(``run``/``running``) leases due deliveries, POSTs each, and settles it: succeeded, due again
after the next step of the schedule, or failed for good once the schedule is exhausted.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio

from .._envelope import Event
from .._topics import matches
from ._addresses import AddressPolicy, IPNetwork, Resolver
from ._attempt import trace_headers
from ._endpoints import Endpoint, Endpoints, utc_now
from ._outbox import Attempt, DeliveryStatus, Message, OutboundDelivery, Outbox
from ._sender_errors import DeliveryNotFoundError
from ._worker import Options, Worker

if TYPE_CHECKING:
    from .._bus import EventBus
    from .._subscription import Subscription

#: The name of the subscription :meth:`WebhookSender.attach` makes.
SUBSCRIPTION_NAME = "eventbus.webhooks.sender"
#: Types the sender publishes itself; they are never queued, so they cannot loop.
OWN_EVENTS = "webhook_endpoint.**"


def _seconds(name: str, value: float) -> float:
    if not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
    return float(value)


class WebhookSender:
    """Send the bus's events to registered endpoints as signed webhooks, durably.

    :param bus: the bus ``attach`` subscribes to and ``webhook_endpoint.disabled`` goes to
    :param outbox: where messages, deliveries and attempts are kept (:class:`SqliteOutbox`)
    :param schedule: seconds to wait before each retry; after the last, a delivery fails
    :param jitter: each wait is scaled by a random factor in ``1 ± jitter``
    :param timeout: seconds one attempt may take, connect to last byte
    :param lease: seconds a worker holds a delivery it is sending before another worker may
        take it over; raised to twice ``timeout`` when smaller
    :param disable_after: an endpoint failing without a success this long is disabled
    :param allow_networks: networks let through the address rules (``("127.0.0.0/8",)``)
    :param concurrency: attempts in flight at once, over all endpoints
    :param per_endpoint: attempts in flight at once to one endpoint (default: half of
        ``concurrency``, at least 1), so a slow or dead endpoint cannot hold every slot
    :param resolve: ``resolve(host, port)`` returning the addresses to connect to (default:
        the system resolver)
    :raises ValueError: an option is out of range, or ``allow_networks`` holds a non-network
    """

    def __init__(
        self,
        bus: EventBus,
        outbox: Outbox,
        *,
        schedule: Sequence[float] = (5, 300, 1800, 7200, 18000, 36000, 36000),
        jitter: float = 0.2,
        timeout: float = 15.0,
        lease: float = 60.0,
        disable_after: timedelta = timedelta(days=5),
        allow_networks: Iterable[str | IPNetwork] = (),
        concurrency: int = 8,
        per_endpoint: int | None = None,
        resolve: Resolver | None = None,
    ) -> None:
        self.schedule = tuple(_seconds("each schedule step", step) for step in schedule)
        if not 0 <= jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), not {jitter!r}")
        if concurrency < 1 or (per_endpoint is not None and per_endpoint < 1):
            raise ValueError("concurrency and per_endpoint must be at least 1")
        self.bus = bus
        self.outbox = outbox
        self.jitter = jitter
        self.timeout = _seconds("timeout", timeout)
        self.lease = max(_seconds("lease", lease), 2 * self.timeout)
        self.disable_after = disable_after
        self.concurrency = concurrency
        self.per_endpoint = per_endpoint or max(1, concurrency // 2)
        self._policy = AddressPolicy(allow_networks, resolve)
        self.endpoints = Endpoints(outbox, self._policy)
        self._worker: Worker | None = None
        self._worker_thread: int | None = None

    # -- queuing ----------------------------------------------------------------------

    def attach(self, pattern: str = "**", /) -> Subscription:
        """Subscribe to ``pattern`` on the bus and queue every matching event.

        The handler returns once the event is stored, so a publish that returned lost
        nothing. ``unsubscribe()`` on the result stops it.
        """
        return self.bus.subscribe(pattern, self._queue, name=SUBSCRIPTION_NAME)

    def _queue(self, event: Event[Any]) -> None:
        self.enqueue(event)

    def enqueue(self, event: Event[Any], /) -> int:
        """Queue ``event`` for every enabled endpoint whose ``enabled_events`` match it.

        Idempotent per (event id, endpoint): queuing a redelivered event again adds nothing.
        An event no enabled endpoint wants is not stored; the sender's own
        ``webhook_endpoint.*`` events never are.

        :returns: for how many endpoints it was newly queued
        :raises TypeError: ``event`` is not an :class:`Event`
        """
        if not isinstance(event, Event):
            raise TypeError(f"enqueue takes an Event, not {type(event).__name__}")
        if matches(OWN_EVENTS, event.type):
            return 0
        wanted = [e.id for e in self.outbox.list_endpoints() if _wants(e, event.type)]
        if not wanted:
            return 0
        message = Message(event.id, event.type, event.to_json(), trace_headers(event), utc_now())
        added = self.outbox.enqueue(message, wanted)
        self._notify()
        return added

    def retry(self, event_id: str, endpoint_id: str, /) -> None:
        """Send the delivery again now, as a ``manual`` attempt, whatever its status.

        A failure then continues its schedule (or leaves it failed if it was exhausted).
        Deliveries of a disabled endpoint wait until it is enabled again. A delivery being
        sent right now is not sent twice at once: the manual attempt follows as soon as the
        attempt in flight is recorded.

        :raises DeliveryNotFoundError: the event was not queued for that endpoint
        """
        if not self.outbox.schedule(event_id, endpoint_id, utc_now()):
            raise DeliveryNotFoundError(event_id, endpoint_id)
        self._notify()

    def recover(self, endpoint_id: str, /, *, since: datetime) -> int:
        """Re-queue, due now with a fresh schedule, every event queued for the endpoint at or
        after ``since`` that has no succeeded attempt (events queued while it was disabled
        were not queued for it, and are not recovered). One being sent right now is
        re-queued once that attempt is recorded, if it failed.

        :returns: how many deliveries were re-queued
        :raises EndpointNotFoundError: there is no such endpoint
        """
        self.endpoints.get(endpoint_id)
        count = self.outbox.recover(endpoint_id, since, utc_now())
        self._notify()
        return count

    # -- reading ----------------------------------------------------------------------

    def deliveries(
        self,
        *,
        endpoint_id: str | None = None,
        status: DeliveryStatus | None = None,
        limit: int = 100,
    ) -> list[OutboundDelivery]:
        """Deliveries, most recently queued first.

        :raises ValueError: an unknown ``status``
        """
        if status not in (None, "pending", "succeeded", "failed"):
            raise ValueError(f"status must be 'pending', 'succeeded' or 'failed', not {status!r}")
        return self.outbox.deliveries(endpoint_id=endpoint_id, status=status, limit=limit)

    def attempts(
        self, *, event_id: str | None = None, endpoint_id: str | None = None
    ) -> list[Attempt]:
        """Attempts, oldest first."""
        return self.outbox.attempts(event_id=event_id, endpoint_id=endpoint_id)

    # -- the worker -------------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[WebhookSender]:
        """Run the worker in the background for the length of an ``async with`` block."""
        async with anyio.create_task_group() as group:
            group.start_soon(self.run)
            try:
                yield self
            finally:
                group.cancel_scope.cancel()

    async def run(self) -> None:
        """Deliver due deliveries until cancelled (asyncio or trio).

        Several workers, in one process or many, may share an outbox: each delivery is
        leased to one at a time. A transient outbox error (``database is locked``) is logged
        as a WARNING and waited out.

        :raises StoreFileMissingError: the outbox's file was deleted or replaced (logged as an
            ERROR); the worker stops rather than send everything again from a new file
        """
        options = Options(
            self.schedule, self.jitter, self.timeout, self.lease, self.disable_after,
            self.concurrency, self.per_endpoint,
        )  # fmt: skip
        self._worker = Worker(self.bus, self.outbox, self._policy, options)
        self._worker_thread = threading.get_ident()
        await self._worker.run()

    def _wake_worker(self) -> None:
        """Tell the running worker, if any, to look at the outbox now."""
        if self._worker is not None:
            self._worker.wake()

    def _notify(self) -> None:
        """Wake the worker when queuing happens on its own thread (others wait a poll)."""
        if threading.get_ident() == self._worker_thread:
            self._wake_worker()

    def __repr__(self) -> str:
        return f"<WebhookSender outbox={self.outbox!r} concurrency={self.concurrency}>"


def _wants(endpoint: Endpoint, event_type: str) -> bool:
    return endpoint.status == "enabled" and endpoint.wants(event_type)
