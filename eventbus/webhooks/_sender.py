"""The webhook sender: bus events queued durably per endpoint, then POSTed, signed, retried.

Queuing (``enqueue``, or the handler ``attach`` subscribes) writes the event's exact bytes and
one delivery per matching enabled endpoint in one transaction before it returns. The worker
(``run``/``running``) leases due deliveries, POSTs each, and settles it: succeeded, due again
after the next step of the schedule, or failed for good once the schedule is exhausted.
"""

from __future__ import annotations

import functools
import random
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from .._envelope import Event
from .._topics import matches
from ._addresses import AddressPolicy, IPNetwork, Resolver
from ._attempt import Answer, trace_headers
from ._endpoints import Endpoint, Endpoints, utc_now
from ._outbox import Attempt, DeliveryStatus, Lease, Message, OutboundDelivery, Outbox
from ._sender_errors import DeliveryNotFoundError

if TYPE_CHECKING:
    from .._bus import EventBus
    from .._subscription import Subscription

#: One attempt: POST the leased delivery at the given time, and what came of it.
Send = Callable[[Lease, datetime], Awaitable[Answer]]
#: The name of the subscription :meth:`WebhookSender.attach` makes.
SUBSCRIPTION_NAME = "eventbus.webhooks.sender"
#: Types the sender publishes itself; they are never queued, so they cannot loop.
OWN_EVENTS = "webhook_endpoint.**"
#: The longest the worker sleeps before looking at the outbox again: events queued by other
#: threads or processes are picked up within this time.
IDLE_POLL = 1.0
#: How often the worker purges deliveries older than the outbox's retention.
PURGE_EVERY = 3600.0


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
        self._wake: anyio.Event | None = None
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
        Deliveries of a disabled endpoint wait until it is enabled again.

        :raises DeliveryNotFoundError: the event was not queued for that endpoint
        """
        if not self.outbox.schedule(event_id, endpoint_id, utc_now()):
            raise DeliveryNotFoundError(event_id, endpoint_id)
        self._notify()

    def recover(self, endpoint_id: str, /, *, since: datetime) -> int:
        """Re-queue, due now with a fresh schedule, every event queued for the endpoint at or
        after ``since`` that has no succeeded attempt (events queued while it was disabled
        were not queued for it, and are not recovered).

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
        leased to one at a time.
        """
        try:
            from ._transport import client_for, post
        except ImportError as exc:  # pragma: no cover - the dev extra installs httpx
            raise ImportError(
                f"the webhook sender needs httpx ({exc}): pip install 'eventbus[sender]'"
            ) from exc
        async with (
            client_for(self._policy, self.concurrency, self.timeout) as client,
            anyio.create_task_group() as group,
        ):
            send = functools.partial(post, client, timeout=self.timeout)
            in_flight: dict[str, int] = {}
            purged = -PURGE_EVERY
            self._worker_thread = threading.get_ident()
            while True:
                if time.monotonic() - purged >= PURGE_EVERY:
                    await anyio.to_thread.run_sync(self.outbox.purge, utc_now())
                    purged = time.monotonic()
                wake = self._wake = anyio.Event()
                for claim in await self._claim(in_flight):
                    key = claim.endpoint.id
                    in_flight[key] = in_flight.get(key, 0) + 1
                    group.start_soon(self._deliver, send, claim, in_flight)
                with anyio.move_on_after(await self._idle_time()):
                    await wake.wait()

    async def _claim(self, in_flight: dict[str, int]) -> list[Lease]:
        free = self.concurrency - sum(in_flight.values())
        if free <= 0:
            return []
        return await anyio.to_thread.run_sync(
            lambda: self.outbox.claim(
                utc_now(),
                timedelta(seconds=self.lease),
                free,
                per_endpoint=self.per_endpoint,
                in_flight=dict(in_flight),
            )
        )

    async def _idle_time(self) -> float:
        due = await anyio.to_thread.run_sync(self.outbox.next_due)
        wait = IDLE_POLL if due is None else (due - utc_now()).total_seconds()
        # Due now yet not claimed: its endpoint is at its limit; a finished attempt wakes us.
        return IDLE_POLL if wait <= 0 else min(wait, IDLE_POLL)

    async def _deliver(self, send: Send, claim: Lease, in_flight: dict[str, int]) -> None:
        try:
            now = utc_now()
            answer = await send(claim, now)
            await self._settle(claim, answer, now)
        finally:
            in_flight[claim.endpoint.id] -= 1
            if self._wake is not None:
                self._wake.set()

    async def _settle(self, claim: Lease, answer: Answer, now: datetime) -> None:
        status, next_at = self._next_attempt(claim, answer, now)
        attempt = Attempt(
            event_id=claim.message.event_id,
            endpoint_id=claim.endpoint.id,
            number=0,
            status="succeeded" if answer.ok else "failed",
            response_status=answer.status,
            response_body=answer.body,
            error=answer.error,
            duration=answer.duration,
            trigger=claim.trigger,
            created_at=now,
            next_attempt_at=next_at,
        )
        failing_since = await anyio.to_thread.run_sync(
            self.outbox.settle, claim, attempt, status
        )
        if answer.gone:
            await self._disable(claim.endpoint, "the endpoint answered 410 Gone")
        elif failing_since is not None and now - failing_since >= self.disable_after:
            await self._disable(
                claim.endpoint,
                f"every attempt failed since {failing_since.isoformat(timespec='seconds')} "
                f"(disable_after={self.disable_after}); the last: {answer.error}",
            )

    def _next_attempt(
        self, claim: Lease, answer: Answer, now: datetime
    ) -> tuple[DeliveryStatus, datetime | None]:
        if answer.ok:
            return "succeeded", None
        if claim.step >= len(self.schedule):
            return "failed", None
        step = self.schedule[claim.step]
        if answer.retry_after is not None:
            wait = min(max(answer.retry_after, step), 2 * step)
        else:
            wait = step * random.uniform(1 - self.jitter, 1 + self.jitter)
        return "pending", now + timedelta(seconds=wait)

    async def _disable(self, endpoint: Endpoint, reason: str) -> None:
        disabled = await anyio.to_thread.run_sync(
            self.outbox.disable_endpoint, endpoint.id, reason, utc_now()
        )
        if disabled is None:
            return
        shown = {"id": disabled.id, "url": disabled.url, "status": disabled.status}
        await self.bus.publish_async(
            Event(type="webhook_endpoint.disabled", data={"object": shown, "reason": reason})
        )

    def _notify(self) -> None:
        """Wake the worker when queuing happens on its own thread (others wait a poll)."""
        if self._wake is not None and threading.get_ident() == self._worker_thread:
            self._wake.set()

    def __repr__(self) -> str:
        return f"<WebhookSender outbox={self.outbox!r} concurrency={self.concurrency}>"


def _wants(endpoint: Endpoint, event_type: str) -> bool:
    return endpoint.status == "enabled" and endpoint.wants(event_type)
