"""The sender's worker: lease due deliveries, POST them, write what came of it.

The loop keeps a small buffer of leased deliveries (up to twice ``concurrency``), so the
outbox is asked for work once per batch rather than once per delivery, and finished attempts
are written in batches too (one transaction for all that finished meanwhile). A buffered
delivery waits at most one attempt of its endpoint (``timeout``) before it is sent, so with
the lease at least twice the timeout it is sent within its lease.

Outbox faults: a :class:`sqlite3.OperationalError` (``database is locked`` past the busy
timeout, a full disk) is logged as a WARNING and the call retried after a growing pause; a
:class:`~eventbus.inbox.StoreFileMissingError` (the file was deleted or replaced) is logged as
an ERROR and ends :meth:`Worker.run` with that exception, since a new empty file would send
everything again.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import random
import sqlite3
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._envelope import Event
from .._exceptions import StoreFileMissingError
from ._addresses import AddressPolicy
from ._attempt import Answer
from ._endpoints import Endpoint, utc_now
from ._outbox import Attempt, DeliveryStatus, Lease, Outbox, Settlement

if TYPE_CHECKING:
    from .._bus import EventBus

logger = logging.getLogger("eventbus.webhooks")
T = TypeVar("T")

#: One attempt: POST the leased delivery at the given time, and what came of it.
Send = Callable[[Lease, datetime], Awaitable[Answer]]
#: An attempt that finished, waiting to be written: its lease, what came of it, when it began.
Finished = tuple[Lease, Answer, datetime]
#: The longest the worker sleeps before looking at the outbox again: events queued by other
#: threads or processes are picked up within this time.
IDLE_POLL = 1.0
#: How often the worker purges deliveries older than the outbox's retention.
PURGE_EVERY = 3600.0
#: The first and the longest pause before an outbox call that failed is tried again.
BACKOFF_FIRST, BACKOFF_MAX = 0.05, 5.0


class Worker:
    """One run of :meth:`WebhookSender.run`: its buffer, its attempts in flight.

    :param bus: where ``webhook_endpoint.disabled`` is published
    :param policy: the address rules connections are checked and pinned with
    :param options: the sender's ``schedule``, ``jitter``, ``timeout``, ``lease``,
        ``disable_after``, ``concurrency`` and ``per_endpoint``
    """

    def __init__(
        self, bus: EventBus, outbox: Outbox, policy: AddressPolicy, options: Options
    ) -> None:
        self.bus = bus
        self.outbox = outbox
        self.policy = policy
        self.options = options
        self.ready: deque[Lease] = deque()
        self.in_flight: Counter[str] = Counter()
        self.started = 0
        self._wake = anyio.Event()

    def wake(self) -> None:
        """Look at the outbox now rather than after the poll interval."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled.

        :raises StoreFileMissingError: the outbox's file is gone (logged as an ERROR too)
        """
        try:
            await self._run()
        except* StoreFileMissingError as group:
            raise group.exceptions[0] from None
        finally:
            with anyio.CancelScope(shield=True):
                await self._release()

    async def _run(self) -> None:
        try:
            from ._transport import client_for, post
        except ImportError as exc:  # pragma: no cover - the dev extra installs httpx
            raise ImportError(
                f"the webhook sender needs httpx ({exc}): pip install 'eventbus[sender]'"
            ) from exc
        options = self.options
        finished, settling = anyio.create_memory_object_stream[Finished](math.inf)
        async with (
            client_for(self.policy, options.concurrency, options.timeout) as client,
            finished,
            settling,
            anyio.create_task_group() as group,
        ):
            group.start_soon(self._settle_finished, settling)
            send = functools.partial(post, client, timeout=options.timeout)
            self._start = functools.partial(self._start_ready, group, send, finished)
            await self._loop()

    async def _release(self) -> None:
        """Hand back the leases not started, once; the leases expire anyway if this fails."""
        try:
            await anyio.to_thread.run_sync(self.outbox.release, list(self.ready))
        except (sqlite3.OperationalError, StoreFileMissingError) as exc:
            logger.warning("could not release %d leased deliveries: %s", len(self.ready), exc)

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        """Run an outbox call in a thread, waiting out transient SQLite errors."""
        pause = BACKOFF_FIRST
        while True:
            try:
                return await anyio.to_thread.run_sync(function, *args)
            except sqlite3.OperationalError as exc:
                logger.warning(
                    "webhook outbox %s failed (%s); trying again in %g s",
                    function.__name__, exc, pause,
                )  # fmt: skip
            except StoreFileMissingError as exc:
                logger.error("webhook outbox file is gone, the sender stops: %s", exc)
                raise
            await anyio.sleep(pause)
            pause = min(2 * pause, BACKOFF_MAX)

    async def _loop(self) -> None:
        purged = -PURGE_EVERY
        while True:
            if time.monotonic() - purged >= PURGE_EVERY:
                await self._call(self.outbox.purge, utc_now())
                purged = time.monotonic()
            self._wake = anyio.Event()
            exhausted = await self._refill()
            self._start()
            with anyio.move_on_after(await self._idle_time() if exhausted else IDLE_POLL):
                await self._wake.wait()

    async def _refill(self) -> bool:
        """Lease more deliveries when the buffer is below ``concurrency``; tell whether the
        outbox had fewer due than asked for."""
        options = self.options
        if len(self.ready) >= options.concurrency:
            return False
        wanted = 2 * options.concurrency - len(self.ready)
        held = self.in_flight + Counter(lease.endpoint.id for lease in self.ready)
        claim = functools.partial(
            self.outbox.claim, per_endpoint=2 * options.per_endpoint, in_flight=dict(held)
        )
        leases = await self._call(
            claim, utc_now(), timedelta(seconds=options.lease), wanted
        )
        self.ready.extend(leases)
        return len(leases) < wanted

    def _start_ready(
        self, group: TaskGroup, send: Send, finished: MemoryObjectSendStream[Finished]
    ) -> None:
        """Start buffered deliveries while slots are free, skipping endpoints at their limit."""
        kept: list[Lease] = []
        while self.ready and self.started < self.options.concurrency:
            lease = self.ready.popleft()
            if self.in_flight[lease.endpoint.id] >= self.options.per_endpoint:
                kept.append(lease)
                continue
            self.in_flight[lease.endpoint.id] += 1
            self.started += 1
            group.start_soon(self._deliver, send, lease, finished)
        self.ready.extendleft(reversed(kept))

    async def _idle_time(self) -> float:
        due = await self._call(self.outbox.next_due)
        wait = IDLE_POLL if due is None else (due - utc_now()).total_seconds()
        # Due now yet not started: its endpoint is at its limit; a finished attempt wakes us.
        return IDLE_POLL if wait <= 0 else min(wait, IDLE_POLL)

    async def _deliver(
        self, send: Send, lease: Lease, finished: MemoryObjectSendStream[Finished]
    ) -> None:
        try:
            now = utc_now()
            finished.send_nowait((lease, await send(lease, now), now))
        finally:
            self.in_flight[lease.endpoint.id] -= 1
            self.started -= 1
            self._start()
            self.wake()

    async def _settle_finished(self, settling: MemoryObjectReceiveStream[Finished]) -> None:
        """Write finished attempts, as many per transaction as finished meanwhile."""
        async for first in settling:
            batch = [first]
            with contextlib.suppress(anyio.WouldBlock):
                while True:
                    batch.append(settling.receive_nowait())
            await self._settle(batch)

    async def _settle(self, batch: list[Finished]) -> None:
        """Record the batch's attempts, then disable what must be, then tell the bus: an
        endpoint that answered 410 is disabled before its retry can be due."""
        notices: list[tuple[Endpoint, str]] = []
        for lease, answer, _ in batch:
            if answer.gone:
                notices += await self._disable(lease.endpoint, "the endpoint answered 410 Gone")
        failing = await self._call(self.outbox.settle, self._settlements(batch))
        disable_after = self.options.disable_after
        for (lease, answer, now), failing_since in zip(batch, failing, strict=True):
            if failing_since is not None and now - failing_since >= disable_after:
                notices += await self._disable(
                    lease.endpoint,
                    f"every attempt failed since {failing_since.isoformat(timespec='seconds')} "
                    f"(disable_after={disable_after}); the last: {answer.error}",
                )
        for endpoint, reason in notices:
            await self._announce(endpoint, reason)

    def _settlements(self, batch: Sequence[Finished]) -> list[Settlement]:
        settlements: list[Settlement] = []
        for lease, answer, now in batch:
            status, next_at = self._next_attempt(lease, answer, now)
            settlements.append((lease, _attempt_of(lease, answer, now, next_at), status))
        return settlements

    def _next_attempt(
        self, lease: Lease, answer: Answer, now: datetime
    ) -> tuple[DeliveryStatus, datetime | None]:
        """Succeeded; or pending after the schedule's next step (``Retry-After`` clamped to
        it and twice it); or failed when the schedule is exhausted."""
        schedule, jitter = self.options.schedule, self.options.jitter
        if answer.ok:
            return "succeeded", None
        if lease.step >= len(schedule):
            return "failed", None
        step = schedule[lease.step]
        if answer.retry_after is not None:
            wait = min(max(answer.retry_after, step), 2 * step)
        else:
            wait = step * random.uniform(1 - jitter, 1 + jitter)
        return "pending", now + timedelta(seconds=wait)

    async def _disable(self, endpoint: Endpoint, reason: str) -> list[tuple[Endpoint, str]]:
        """Disable the endpoint; the notice to send, once (none if it already was)."""
        disabled = await self._call(self.outbox.disable_endpoint, endpoint.id, reason, utc_now())
        return [] if disabled is None else [(disabled, reason)]

    async def _announce(self, endpoint: Endpoint, reason: str) -> None:
        """Publish ``webhook_endpoint.disabled`` (never the secret); a failing handler is
        logged, and does not stop the worker whatever the bus's ``raise_errors``."""
        shown = {"id": endpoint.id, "url": endpoint.url, "status": endpoint.status}
        data = {"object": shown, "reason": reason}
        event: Event[Any] = Event(type="webhook_endpoint.disabled", data=data)
        result = await self.bus.publish_async(event, raise_errors=False)
        for failure in result.errors:
            logger.error(
                "a webhook_endpoint.disabled handler failed for endpoint %s: %s: %s",
                endpoint.id, type(failure.exception).__name__, failure.exception,
                exc_info=failure.exception,
            )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Options:
    """What the worker takes from :class:`WebhookSender`'s options."""

    schedule: tuple[float, ...]
    jitter: float
    timeout: float
    lease: float
    disable_after: timedelta
    concurrency: int
    per_endpoint: int


def _attempt_of(lease: Lease, answer: Answer, now: datetime, next_at: datetime | None) -> Attempt:
    return Attempt(
        event_id=lease.message.event_id,
        endpoint_id=lease.endpoint.id,
        number=0,
        status="succeeded" if answer.ok else "failed",
        response_status=answer.status,
        response_body=answer.body,
        error=answer.error,
        duration=answer.duration,
        trigger=lease.trigger,
        created_at=now,
        next_attempt_at=next_at,
    )
