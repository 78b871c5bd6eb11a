"""The bus across processes and machines: events appended to a Redis stream, read by
consumer groups, each entry delivered through an inbox so every handler runs once per group.
"""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import anyio.to_thread
import redis
import redis.asyncio

from .._envelope import Event
from .._loop import on_asyncio
from .._tracing import outgoing_traceparent
from ..inbox import Inbox, MemoryIdempotencyStore
from ..inbox._store import DEFAULT_TTL
from . import _consumer
from ._consumer import StreamDelivery as StreamDelivery
from ._errors import AsyncioRequiredError
from ._store import AnyRedis, RedisIdempotencyStore, _clients, _text

if TYPE_CHECKING:
    from .._bus import EventBus
    from .._subscription import Subscription

#: The name of the subscription :meth:`RedisStreams.forward` makes.
FORWARD_NAME = "eventbus.redis.forward"

#: KEYS: stream, marker. ARGV: event JSON, marker ttl ms, maxlen ('' for none).
#: Appends the event unless the marker exists; returns the entry id, or nil for a copy.
#: The marker is set only after XADD succeeded: Redis keeps a script's earlier writes when a
#: later command fails, so a failed append must leave nothing that makes the retry a copy.
_ENQUEUE = """
if redis.call('EXISTS', KEYS[2]) == 1 then return false end
local id
if ARGV[3] == '' then
  id = redis.call('XADD', KEYS[1], '*', 'event', ARGV[1])
else
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'event', ARGV[1])
end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
return id
"""

OnDelivery = Callable[[StreamDelivery], object]


class RedisStreams:
    """Run ``bus``'s handlers across processes and machines on a Redis stream.

    Producers append events (:meth:`publish`, :meth:`publish_sync`, :meth:`forward`);
    consumers (:meth:`consume`, :meth:`consuming`, ``eventbus worker``) read them as members
    of the consumer group ``group``, so each event reaches one consumer of every group, and
    deliver each entry through :attr:`inbox`, so each handler runs to success once per group
    however often the entry is read.

    An entry is acknowledged when its delivery is ``handled``, ``duplicate`` or
    ``dead_letter``. After a failure it stays pending, and any consumer of the group reclaims
    it once it has been idle ``claim_idle`` seconds (part of the normal read loop, so
    recovery needs no extra process); a consumer keeps the entries it is handling fresh, so
    only a dead consumer's entries are taken over. When the inbox gives an event up
    (``dead_letter``), the entry is appended to ``dead_letter_stream`` with the failing
    handlers' names and errors (cut to 2,000 characters, as the inbox's record), then
    acknowledged; in a rare race it may be appended twice, never acknowledged without being
    appended. An entry that is not an event (bad JSON,
    or data its typed class refuses) goes there too, under the name ``eventbus.redis.parse``.

    Order: one stream keeps publish order, and a consumer starts entries in that order, but
    with ``concurrency`` above 1 or several consumers, handling overlaps and ends in any order.

    :param bus: the bus whose handlers consumers run (and whose publishes :meth:`forward`
        appends)
    :param url_or_client: a ``redis://`` URL (a sync and an async client are made from it),
        a ``redis.asyncio.Redis`` (then :meth:`publish_sync` and :meth:`forward`'s sync path
        are unavailable) or a ``redis.Redis`` (publishing only; consuming needs an async client)
    :param stream: the stream's Redis key
    :param group: the consumer group's name; a group created by a consumer starts at the
        oldest entry the stream holds, so nothing published before the first consumer started
        is lost. ``None`` broadcasts: every consumer gets every event published while it
        runs, at most once per process, with no pending list and no retry (cache
        invalidation and the like)
    :param consumer: this consumer's name in the group (default ``<hostname>-<pid>``); keep
        it unique per running process
    :param inbox: the inbox entries are delivered through (default: a
        :class:`RedisIdempotencyStore` on the same Redis, keyed by stream, group and event id,
        with lease ``claim_idle`` and ``max_attempts=max_deliveries``; with ``group=None``,
        this process's memory); an inbox without ``max_attempts`` retries a failing entry
        every ``claim_idle`` for good
    :param claim_idle: seconds a pending entry stays idle before another consumer takes it
        over; keep it above the longest stretch a handler blocks the event loop
    :param max_deliveries: the default inbox's ``max_attempts``: the attempt that fails for
        this time makes the event a dead letter
    :param dead_letter_stream: where given-up entries go (default ``<stream>:dead``)
    :param maxlen: trim the stream to about this many entries on each append (``None``,
        the default, never trims). Trimming drops the oldest entries whether or not every
        group has read them, so a slow or stopped group can lose events
    :param concurrency: how many entries one consumer handles at once
    :raises TypeError: ``url_or_client`` is not a URL or a redis client
    :raises ValueError: a number out of range
    """

    def __init__(
        self,
        bus: EventBus,
        url_or_client: str | AnyRedis,
        *,
        stream: str = "eventbus",
        group: str | None = "default",
        consumer: str | None = None,
        inbox: Inbox | None = None,
        claim_idle: float = 60.0,
        max_deliveries: int = 10,
        dead_letter_stream: str | None = None,
        maxlen: int | None = None,
        concurrency: int = 16,
    ) -> None:
        _check_positive(claim_idle=claim_idle, max_deliveries=max_deliveries)
        _check_positive(concurrency=concurrency, maxlen=1 if maxlen is None else maxlen)
        self.bus = bus
        self.stream = stream
        self.group = group
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.claim_idle = float(claim_idle)
        self.max_deliveries = max_deliveries
        self.dead_letter_stream = dead_letter_stream or f"{stream}:dead"
        self.maxlen = maxlen
        self.concurrency = concurrency
        self._sync, self._async = _clients(url_or_client)
        self._owned = isinstance(url_or_client, str)
        self._enqueue_script: Any = self._async and self._async.register_script(_ENQUEUE)
        self._enqueue_script_sync: Any = self._sync and self._sync.register_script(_ENQUEUE)
        self._store: RedisIdempotencyStore | None = None
        self.inbox = inbox or self._default_inbox(url_or_client)
        self._running: _consumer.Consumer | None = None

    def _default_inbox(self, url_or_client: str | AnyRedis) -> Inbox:
        if self.group is None:
            return Inbox(self.bus, MemoryIdempotencyStore())
        self._store = RedisIdempotencyStore(
            url_or_client, prefix=f"{self.stream}:{self.group}", lease=self.claim_idle
        )
        return Inbox(self.bus, self._store, max_attempts=self.max_deliveries)

    def close(self) -> None:
        """Close the sync clients these streams made (from a URL, and the default inbox's
        store); a client passed in is yours to close."""
        if self._owned and self._sync is not None:
            self._sync.close()
        if self._store is not None:
            self._store.close()

    async def aclose(self) -> None:
        """Close every client these streams made, from the loop the async ones ran on."""
        self.close()
        if self._owned and self._async is not None:
            await self._async.aclose()
        if self._store is not None:
            await self._store.aclose()

    # -- producing ---------------------------------------------------------------------

    async def publish(self, event_or_type: Event[Any] | str, data: Any = None, /) -> str:
        """Append an event to the stream; return its entry id.

        A type with ``data`` is built as :meth:`EventBus.build` builds it (validated into
        the class registered for the type; created inside a handler, it takes the handled
        event's id as ``parent_id``). The entry holds the event's JSON envelope; with
        OpenTelemetry installed and a span current, that span's ``traceparent`` replaces the
        event's own.

        :raises AsyncioRequiredError: awaited under trio
        :raises EventValidationError: ``data`` does not fit the type's registered class
        """
        fields = self._entry(event_or_type, data)
        if self._async is None:
            return await anyio.to_thread.run_sync(self._append_sync, fields)
        _require_asyncio()
        entry_id = await self._async.xadd(self.stream, fields, maxlen=self.maxlen)  # type: ignore[arg-type]
        return _text(entry_id)

    def publish_sync(self, event_or_type: Event[Any] | str, data: Any = None, /) -> str:
        """The blocking twin of :meth:`publish`, for sync code (no event loop needed).

        :raises TypeError: the streams were built on a ``redis.asyncio`` client only
        """
        return self._append_sync(self._entry(event_or_type, data))

    async def enqueue(self, event: Event[Any], /) -> str | None:
        """Append ``event`` unless an event with its id was enqueued already (remembered for
        the inbox store's ``ttl``, a week by default): the entry id, or ``None`` for a copy.

        What the webhook receiver's queue mode uses, so a sender's retries of one delivery
        become one entry; atomic on the server, so concurrent copies append once.

        :raises AsyncioRequiredError: awaited under trio
        """
        keys, args = self._enqueue_args(event)
        if self._async is None:
            return await anyio.to_thread.run_sync(self.enqueue_sync, event)
        _require_asyncio()
        entry_id = await self._enqueue_script(keys, args)
        return None if entry_id is None else _text(entry_id)

    def enqueue_sync(self, event: Event[Any], /) -> str | None:
        """The blocking twin of :meth:`enqueue`.

        :raises TypeError: the streams were built on a ``redis.asyncio`` client only
        """
        keys, args = self._enqueue_args(event)
        self._sync_client()
        entry_id = self._enqueue_script_sync(keys, args)
        return None if entry_id is None else _text(entry_id)

    def _enqueue_args(self, event: Event[Any]) -> tuple[list[str], list[Any]]:
        ttl = getattr(self.inbox.store, "ttl", DEFAULT_TTL)
        keys = [self.stream, f"{self.stream}:queued:{event.id}"]
        return keys, [self._entry(event, None)["event"], round(ttl * 1000), self.maxlen or ""]

    def forward(self, pattern: str = "**", /) -> Subscription:
        """Append every local publish matching ``pattern`` to the stream.

        The subscription is named ``eventbus.redis.forward`` (one per bus); events a consumer
        read from a stream are never forwarded again, so forwarding and consuming on one bus
        do not loop, while the events their handlers publish are forwarded. It appends with
        the sync client (a quick blocking call) when there is one, else it is an async
        handler. ``unsubscribe()`` stops it.

        :raises DuplicateHandlerNameError: this bus already forwards
        """
        handler: Callable[[Event[Any]], Any]
        handler = self._forward_sync if self._sync is not None else self._forward_async
        return self.bus.subscribe(pattern, handler, name=FORWARD_NAME)

    def _forward_sync(self, event: Event[Any]) -> None:
        if not _consumer.came_from_stream(event):
            self._append_sync(self._entry(event, None))

    async def _forward_async(self, event: Event[Any]) -> None:
        if not _consumer.came_from_stream(event):
            await self.publish(event)

    def _entry(self, event_or_type: Event[Any] | str, data: Any) -> dict[str, bytes]:
        if isinstance(event_or_type, str):
            event = self.bus.build(event_or_type, data)
        elif not isinstance(event_or_type, Event):
            raise TypeError(f"publish takes an Event or a type string, not {event_or_type!r}")
        elif data is not None:
            raise TypeError("data is only used with a type string; put it in the Event")
        else:
            event = event_or_type
        traceparent = outgoing_traceparent(event)
        if traceparent != (event.model_extra or {}).get("traceparent"):
            event = event.model_copy(update={"traceparent": traceparent})
        return {"event": event.to_json()}

    def _append_sync(self, fields: Mapping[str, bytes]) -> str:
        entry_id = self._sync_client().xadd(self.stream, dict(fields), maxlen=self.maxlen)  # type: ignore[arg-type]
        return _text(entry_id)

    def _sync_client(self) -> redis.Redis:
        if self._sync is None:
            raise TypeError(
                "these RedisStreams were built on a redis.asyncio client, so they publish only "
                "from async code (await streams.publish); pass a redis:// URL to publish from "
                "sync code as well"
            )
        return self._sync

    # -- consuming ---------------------------------------------------------------------

    async def consume(
        self,
        *,
        on_delivery: OnDelivery | None = None,
        task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Read and handle entries as ``consumer`` in ``group`` until cancelled or
        :meth:`stop` is called.

        Creates the group (at the stream's oldest entry) and the stream when missing, then
        reports ``task_status.started()`` (so ``await task_group.start(streams.consume)``
        returns once events published from then on are sure to arrive). Up to
        ``concurrency`` entries are handled at once. Redis errors (a restart, a deleted
        stream) are logged and reading carries on once Redis answers again. When cancelled,
        deliveries in flight are interrupted: their entries stay pending and are handled
        again after ``claim_idle``.

        :param on_delivery: called with a :class:`StreamDelivery` after each entry is dealt
            with (what ``eventbus worker`` prints); its errors are logged
        :raises AsyncioRequiredError: awaited under trio
        :raises RuntimeError: these streams are consuming already
        :raises TypeError: the streams were built on a sync ``redis.Redis`` client
        """
        _require_asyncio()
        if self._async is None:
            raise TypeError(
                "consuming needs an async client: pass a redis:// URL or a "
                "redis.asyncio.Redis instead of a redis.Redis"
            )
        if self._running is not None:
            raise RuntimeError(
                f"{self!r} is consuming already; make another RedisStreams (with its own "
                "consumer name) to run a second consumer"
            )
        self._running = _consumer.Consumer(self, self._async, on_delivery)
        try:
            await self._running.run(task_status)
        finally:
            self._running = None

    @asynccontextmanager
    async def consuming(
        self, *, on_delivery: OnDelivery | None = None
    ) -> AsyncIterator[RedisStreams]:
        """Consume in the background for the length of a block::

            async with streams.consuming():
                ...  # the group exists and this consumer reads; events published now arrive

        The block starts once :meth:`consume` has started; leaving it cancels the consumer.

        :raises AsyncioRequiredError: entered under trio
        """
        _require_asyncio()
        async with anyio.create_task_group() as group:
            await group.start(functools.partial(self.consume, on_delivery=on_delivery))
            try:
                yield self
            finally:
                group.cancel_scope.cancel()

    def stop(self) -> None:
        """Stop reading: :meth:`consume` returns once the deliveries in flight have finished
        (a graceful shutdown; cancel it to stop sooner). Does nothing when not consuming.

        Call it from the consumer's event loop thread.
        """
        if self._running is not None:
            self._running.stop()

    def __repr__(self) -> str:
        return (
            f"RedisStreams(stream={self.stream!r}, group={self.group!r}, "
            f"consumer={self.consumer!r})"
        )


def _require_asyncio() -> None:
    if not on_asyncio():
        raise AsyncioRequiredError("trio")


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f"{name} must be positive, not {value!r}")


