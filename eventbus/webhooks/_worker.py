"""The sender's worker: lease due deliveries, POST them, write what came of it.

The loop keeps a small buffer of leased deliveries (up to twice ``concurrency``), so the
outbox is asked for work once per batch rather than once per delivery, and finished attempts
are written in batches too (one transaction for all that finished meanwhile). A buffered
delivery waits at most one attempt of its endpoint (``timeout``) before it is sent, so with
the lease at least twice the timeout it is sent within its lease.
"""

from __future__ import annotations

import contextlib
import functools
import math
import random
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._envelope import Event
from ._attempt import Answer
from ._endpoints import Endpoint, utc_now
from ._outbox import Attempt, DeliveryStatus, Lease, Settlement

if TYPE_CHECKING:
    from ._sender import WebhookSender

#: One attempt: POST the leased delivery at the given time, and what came of it.
Send = Callable[[Lease, datetime], Awaitable[Answer]]
#: An attempt that finished, waiting to be written: its lease, what came of it, when it began.
Finished = tuple[Lease, Answer, datetime]
#: The longest the worker sleeps before looking at the outbox again: events queued by other
#: threads or processes are picked up within this time.
IDLE_POLL = 1.0
#: How often the worker purges deliveries older than the outbox's retention.
PURGE_EVERY = 3600.0


class Worker:
    """One run of :meth:`WebhookSender.run`: its buffer, its attempts in flight."""

    def __init__(self, sender: WebhookSender) -> None:
        self.sender = sender
        self.outbox = sender.outbox
        self.ready: deque[Lease] = deque()
        self.in_flight: Counter[str] = Counter()
        self.started = 0

    async def run(self) -> None:
        try:
            from ._transport import client_for, post
        except ImportError as exc:  # pragma: no cover - the dev extra installs httpx
            raise ImportError(
                f"the webhook sender needs httpx ({exc}): pip install 'eventbus[sender]'"
            ) from exc
        sender = self.sender
        finished, settling = anyio.create_memory_object_stream[Finished](math.inf)
        try:
            async with (
                client_for(sender._policy, sender.concurrency, sender.timeout) as client,
                finished,
                settling,
                anyio.create_task_group() as group,
            ):
                group.start_soon(self._settle_finished, settling)
                send = functools.partial(post, client, timeout=sender.timeout)
                self._start = functools.partial(self._start_ready, group, send, finished)
                await self._loop()
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self.outbox.release, list(self.ready))

    async def _loop(self) -> None:
        purged = -PURGE_EVERY
        while True:
            if time.monotonic() - purged >= PURGE_EVERY:
                await anyio.to_thread.run_sync(self.outbox.purge, utc_now())
                purged = time.monotonic()
            wake = self.sender._wake = anyio.Event()
            exhausted = await self._refill()
            self._start()
            with anyio.move_on_after(await self._idle_time() if exhausted else IDLE_POLL):
                await wake.wait()

    async def _refill(self) -> bool:
        """Lease more deliveries when the buffer is below ``concurrency``; tell whether the
        outbox had fewer due than asked for."""
        sender = self.sender
        if len(self.ready) >= sender.concurrency:
            return False
        wanted = 2 * sender.concurrency - len(self.ready)
        held = self.in_flight + Counter(lease.endpoint.id for lease in self.ready)
        leases = await anyio.to_thread.run_sync(
            lambda: self.outbox.claim(
                utc_now(),
                timedelta(seconds=sender.lease),
                wanted,
                per_endpoint=2 * sender.per_endpoint,
                in_flight=dict(held),
            )
        )
        self.ready.extend(leases)
        return len(leases) < wanted

    def _start_ready(
        self, group: TaskGroup, send: Send, finished: MemoryObjectSendStream[Finished]
    ) -> None:
        """Start buffered deliveries while slots are free, skipping endpoints at their limit."""
        kept: list[Lease] = []
        while self.ready and self.started < self.sender.concurrency:
            lease = self.ready.popleft()
            if self.in_flight[lease.endpoint.id] >= self.sender.per_endpoint:
                kept.append(lease)
                continue
            self.in_flight[lease.endpoint.id] += 1
            self.started += 1
            group.start_soon(self._deliver, send, lease, finished)
        self.ready.extendleft(reversed(kept))

    async def _idle_time(self) -> float:
        due = await anyio.to_thread.run_sync(self.outbox.next_due)
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
            self.sender._wake_worker()

    async def _settle_finished(self, settling: MemoryObjectReceiveStream[Finished]) -> None:
        """Write finished attempts, as many per transaction as finished meanwhile."""
        async for first in settling:
            batch = [first]
            with contextlib.suppress(anyio.WouldBlock):
                while True:
                    batch.append(settling.receive_nowait())
            await self._settle(batch)

    async def _settle(self, batch: list[Finished]) -> None:
        settlements: list[Settlement] = []
        for lease, answer, now in batch:
            if answer.gone:  # before its retry is due, so none is sent
                await self._disable(lease.endpoint, "the endpoint answered 410 Gone")
            status, next_at = self._next_attempt(lease, answer, now)
            settlements.append((lease, _attempt_of(lease, answer, now, next_at), status))
        failing = await anyio.to_thread.run_sync(self.outbox.settle, settlements)
        disable_after = self.sender.disable_after
        for (lease, answer, now), failing_since in zip(batch, failing, strict=True):
            if failing_since is not None and now - failing_since >= disable_after:
                await self._disable(
                    lease.endpoint,
                    f"every attempt failed since {failing_since.isoformat(timespec='seconds')} "
                    f"(disable_after={disable_after}); the last: {answer.error}",
                )

    def _next_attempt(
        self, lease: Lease, answer: Answer, now: datetime
    ) -> tuple[DeliveryStatus, datetime | None]:
        """Succeeded; or pending after the schedule's next step (``Retry-After`` clamped to
        it and twice it); or failed when the schedule is exhausted."""
        schedule, jitter = self.sender.schedule, self.sender.jitter
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

    async def _disable(self, endpoint: Endpoint, reason: str) -> None:
        """Disable the endpoint and tell the bus, once, without the secret."""
        disabled = await anyio.to_thread.run_sync(
            self.outbox.disable_endpoint, endpoint.id, reason, utc_now()
        )
        if disabled is None:
            return
        shown = {"id": disabled.id, "url": disabled.url, "status": disabled.status}
        await self.sender.bus.publish_async(
            Event(type="webhook_endpoint.disabled", data={"object": shown, "reason": reason})
        )


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
