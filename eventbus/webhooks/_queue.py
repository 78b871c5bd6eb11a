"""Queue mode: the receiver answers once the verified event is on a queue (a Redis stream),
and the queue's consumers run the handlers later."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ._response import Outcome, ended

if TYPE_CHECKING:
    from .._envelope import Event


class EventQueue(Protocol):
    """Where a queueing receiver puts events: :class:`eventbus.redis.RedisStreams`."""

    async def enqueue(self, event: Event[Any], /) -> str | None:
        """Append ``event`` unless its id was queued already; the entry id, or ``None``."""
        ...

    def enqueue_sync(self, event: Event[Any], /) -> str | None:
        """The blocking twin of :meth:`enqueue`."""
        ...


def check_queue(
    queue: EventQueue | None, idempotency: object, max_attempts: int | None
) -> EventQueue | None:
    """Refuse a queue together with the options of the receiver's own inbox, which a
    queueing receiver never uses: the queue's consumers deliver through theirs.

    :raises TypeError: ``queue`` with ``idempotency`` or ``max_attempts``
    """
    if queue is not None and (idempotency is not None or max_attempts is not None):
        raise TypeError(
            "pass queue= or idempotency=/max_attempts=, not both: with queue= the stream's "
            "consumers deliver through its inbox (RedisStreams(..., inbox=..., "
            "max_deliveries=...)), and the receiver only appends each event id once"
        )
    return queue


def queued(event: Event[Any], entry_id: str | None) -> Outcome:
    """202 ``queued`` for an event now on the queue, 200 ``duplicate`` for a copy."""
    if entry_id is None:
        return ended("duplicate", event.id)
    return ended("queued", event.id)
