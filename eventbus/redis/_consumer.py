"""One running consumer: the read loop (new entries, reclaims of idle ones), the keep-alive
of the entries in progress (and of their inbox leases), and how each delivery's outcome maps
to XACK or the dead letters.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable
from contextlib import suppress
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import anyio
import anyio.abc
import redis
import redis.asyncio

from .._exceptions import EventValidationError, MalformedEventError
from ..inbox._inbox import _error_text
from ._store import _text

if TYPE_CHECKING:
    from .._envelope import Event
    from ..inbox import Delivery, Inbox
    from ._streams import OnDelivery, RedisStreams

logger = logging.getLogger("eventbus.redis")

#: The handler name a dead-letter entry gives for an entry that is not a valid event.
PARSE_NAME = "eventbus.redis.parse"
#: Seconds between attempts while Redis does not answer.
RETRY_DELAY = 1.0
#: The longest a read waits for new entries, in seconds.
MAX_BLOCK = 2.0
#: Seconds an acknowledgement waits for others to share its XACK.
ACK_DELAY = 0.002
#: Seconds an XACK may take while its consumer is being cancelled.
ACK_FLUSH_TIMEOUT = 5.0

Outcome = Literal[
    "handled", "duplicate", "in_flight", "failed", "dead_letter", "malformed", "error"
]
_ACKED = frozenset({"handled", "duplicate", "dead_letter"})
#: The id of the event a consumer is delivering in this context (so forward skips it).
_from_stream: ContextVar[str | None] = ContextVar("eventbus.redis.from_stream", default=None)

#: KEYS: stream. ARGV: group, consumer, entry ids. Resets the idle time of the entries this
#: consumer still owns (never takes one another consumer has reclaimed meanwhile).
KEEP_ALIVE = """
for i = 3, #ARGV do
  if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2]) > 0 then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
  end
end
return 0
"""


@dataclass(frozen=True, slots=True)
class StreamDelivery:
    """What a consumer did with one stream entry.

    :ivar entry_id: the stream entry's id
    :ivar outcome: the inbox's delivery status (``handled``, ``duplicate`` and ``dead_letter``
        are acknowledged; ``failed`` and ``in_flight`` stay pending and are retried after
        ``claim_idle``), ``malformed`` (not a valid event: dead-lettered and acknowledged) or
        ``error`` (Redis or the store failed; the entry stays pending)
    :ivar event: the event, unless ``malformed``
    :ivar delivery: the inbox's :class:`~eventbus.inbox.Delivery`, when it answered
    :ivar error: why a ``malformed`` or ``error`` entry was not handled
    """

    entry_id: str
    outcome: Outcome
    event: Event[Any] | None
    delivery: Delivery | None = None
    error: str | None = None


def came_from_stream(event: Event[Any]) -> bool:
    """Tell whether ``event`` is the one a consumer is delivering in this context."""
    return _from_stream.get() == event.id


class Consumer:
    """The state of one :meth:`RedisStreams.consume` run."""

    def __init__(
        self,
        streams: RedisStreams,
        client: redis.asyncio.Redis,
        on_delivery: OnDelivery | None,
    ) -> None:
        self.streams = streams
        self.client = client
        self.on_delivery = on_delivery
        self.in_progress: set[str] = set()
        self._event_ids: dict[str, str] = {}  # entry id -> id of the event being delivered
        self.reading = anyio.CancelScope()
        self._freed = anyio.Event()
        self._next_reclaim = 0.0
        self._cursor = "0-0"
        self._position = "0-0"  # broadcast: the last entry read
        self._keep_alive = client.register_script(KEEP_ALIVE)
        self.group = streams.group or ""  # used in group mode only
        self.acks = _Acks(client, streams.stream, self.group)
        # A read waits at most this long: reclaims are never later than that, and a client
        # with a socket timeout of a few seconds still gets its answer in time.
        self._block_ms = max(1, round(min(streams.claim_idle / 2, MAX_BLOCK) * 1000))

    def stop(self) -> None:
        """Stop reading new entries; :meth:`run` returns when those in progress are done."""
        self.reading.cancel()

    async def run(self, task_status: anyio.abc.TaskStatus[None]) -> None:
        """Prepare the group (or read position), then read and deliver until stopped."""
        await self._prepare()
        task_status.started()
        try:
            async with anyio.create_task_group() as helpers:
                if self.streams.group is not None:
                    helpers.start_soon(self._keep_entries_fresh)
                    helpers.start_soon(self.acks.run)
                async with anyio.create_task_group() as deliveries:
                    with self.reading:
                        await self._read_forever(deliveries)
                helpers.cancel_scope.cancel()
        finally:
            await self.acks.flush()

    async def _prepare(self) -> None:
        streams = self.streams
        if streams.group is None:
            last: Any = await self.client.xrevrange(streams.stream, count=1)
            self._position = _text(last[0][0]) if last else "0-0"
            return
        try:
            await self.client.xgroup_create(streams.stream, streams.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _read_forever(self, deliveries: anyio.abc.TaskGroup) -> None:
        while True:
            try:
                for entry_id, fields in await self._read(await self._free_slots()):
                    self._start(deliveries, _text(entry_id), fields)
            except redis.RedisError as exc:
                logger.warning(
                    "reading stream %r failed (%s: %s); retrying in %gs",
                    self.streams.stream, type(exc).__name__, exc, RETRY_DELAY,
                )
                await anyio.sleep(RETRY_DELAY)
                await self._recover()

    async def _recover(self) -> None:
        with suppress(redis.RedisError):  # still down: the next read fails and says so
            await self._prepare()  # the stream (and its group) may have been deleted

    async def _free_slots(self) -> int:
        """Wait until at least half the slots are free (so reads come in batches under load,
        and at once when idle); return how many are."""
        limit = self.streams.concurrency
        while len(self.in_progress) > limit // 2:
            self._freed = anyio.Event()
            await self._freed.wait()
        return limit - len(self.in_progress)

    async def _read(self, count: int) -> list[tuple[Any, Any]]:
        streams = self.streams
        if streams.group is None:
            read = await self.client.xread(
                {streams.stream: self._position}, count=count, block=self._block_ms
            )
            entries = _entries(read)
            if entries:
                self._position = _text(entries[-1][0])
            return entries
        reclaimed = await self._reclaim(count)
        if reclaimed:
            return reclaimed
        reply = await self.client.xreadgroup(
            streams.group, streams.consumer, {streams.stream: ">"}, count=count,
            block=self._block_ms,
        )
        return _entries(reply)

    async def _reclaim(self, count: int) -> list[tuple[Any, Any]]:
        """Take over entries idle ``claim_idle`` seconds (XAUTOCLAIM), at most every
        ``claim_idle / 2`` seconds once a scan of the pending list is complete."""
        now = anyio.current_time()
        if now < self._next_reclaim:
            return []
        streams = self.streams
        cursor, entries, *_ = await self.client.xautoclaim(
            streams.stream, self.group, streams.consumer,
            min_idle_time=round(streams.claim_idle * 1000), start_id=self._cursor, count=count,
        )
        self._cursor = _text(cursor)
        if self._cursor == "0-0":
            self._next_reclaim = now + streams.claim_idle / 2
        return [(entry_id, fields) for entry_id, fields in entries if fields is not None]

    def _start(self, deliveries: anyio.abc.TaskGroup, entry_id: str, fields: Any) -> None:
        if entry_id in self.in_progress:
            return  # an entry of ours that XAUTOCLAIM found idle: it is being handled
        self.in_progress.add(entry_id)
        deliveries.start_soon(self._deliver, entry_id, fields)

    async def _deliver(self, entry_id: str, fields: Any) -> None:
        try:
            report = await self._handle(entry_id, _field(fields, "event"))
        finally:
            self.in_progress.discard(entry_id)
            self._freed.set()
        if self.on_delivery is not None:
            try:
                self.on_delivery(report)
            except Exception:
                logger.exception("on_delivery failed for entry %s", entry_id)

    async def _handle(self, entry_id: str, body: bytes) -> StreamDelivery:
        try:
            event = self.streams.bus.parse(body)
        except (MalformedEventError, EventValidationError) as exc:
            return await self._settle_step(entry_id, None, self._malformed(entry_id, body, exc))
        reset = _from_stream.set(event.id)
        self._event_ids[entry_id] = event.id
        try:
            return await self._settle_step(entry_id, event, self._through_inbox(entry_id, event))
        finally:
            del self._event_ids[entry_id]
            _from_stream.reset(reset)

    async def _settle_step(
        self, entry_id: str, event: Event[Any] | None, step: Awaitable[StreamDelivery]
    ) -> StreamDelivery:
        """Await ``step``; if Redis or the store fails, log it and leave the entry pending."""
        try:
            return await step
        except Exception as exc:
            logger.error("entry %s of stream %r stays pending: %s", entry_id,
                         self.streams.stream, _describe(exc), exc_info=exc)
            return StreamDelivery(entry_id, "error", event, error=_describe(exc))

    async def _through_inbox(self, entry_id: str, event: Event[Any]) -> StreamDelivery:
        delivery = await self.streams.inbox.deliver(event)
        if delivery.status == "dead_letter":
            errors, attempts = await _failures(self.streams.inbox, delivery)
            await self._dead_letter(entry_id, event.to_json(), errors, attempts)
        elif delivery.status in _ACKED and self.streams.group is not None:
            self.acks.add(entry_id)
        return StreamDelivery(entry_id, delivery.status, event, delivery)

    async def _malformed(self, entry_id: str, body: bytes, exc: Exception) -> StreamDelivery:
        error = _describe(exc)
        logger.error("entry %s of stream %r is not an event: %s", entry_id,
                     self.streams.stream, error)
        await self._dead_letter(entry_id, body, {PARSE_NAME: error}, 1)
        return StreamDelivery(entry_id, "malformed", None, error=error)

    async def _dead_letter(
        self, entry_id: str, body: bytes, errors: dict[str, str], attempts: int
    ) -> None:
        """Append the entry to the dead-letter stream and acknowledge it, in one transaction.

        Nothing is acknowledged without its dead-letter entry: if a consumer dies after the
        inbox gave the event up but before this, the entry's next delivery appends it from
        the inbox's record. Two consumers holding one entry at once (a reclaim racing a
        consumer stalled past ``claim_idle``) may both append it: a dead-letter entry can
        appear twice, never not at all.
        """
        streams = self.streams
        fields = {
            "event": body,
            "entry_id": entry_id,
            "stream": streams.stream,
            "group": streams.group or "",
            "handlers": ",".join(errors),
            "errors": json.dumps(errors, ensure_ascii=False),
            "attempts": attempts,
        }
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.xadd(streams.dead_letter_stream, fields)  # type: ignore[arg-type]
            if streams.group is not None:
                pipe.xack(streams.stream, streams.group, entry_id)
            await pipe.execute()

    async def _keep_entries_fresh(self) -> None:
        """Every ``claim_idle / 2``, reset the idle time of the entries being handled and
        extend the inbox's lease on their events to ``claim_idle`` from now, so no other
        consumer takes them over (nor a copy of their event) while this one is alive."""
        streams = self.streams
        while True:
            await anyio.sleep(streams.claim_idle / 2)
            if not self.in_progress:
                continue
            try:
                await self._keep_alive(
                    [streams.stream], [self.group, streams.consumer, *self.in_progress]
                )
                for event_id in set(self._event_ids.values()):
                    await streams.inbox.extend(event_id, streams.claim_idle)
            except Exception as exc:
                logger.warning("keeping entries of %r fresh failed: %s", streams.stream, exc)


class _Acks:
    """XACK in batches: the entries handled since the last XACK go in one call.

    An acknowledgement lost to a crash only means the entry is read again, and the inbox
    answers ``duplicate`` for it.
    """

    def __init__(self, client: redis.asyncio.Redis, stream: str, group: str) -> None:
        self.client, self.stream, self.group = client, stream, group
        self._ids: list[str] = []
        self._wanted = anyio.Event()

    def add(self, entry_id: str) -> None:
        self._ids.append(entry_id)
        self._wanted.set()

    async def run(self) -> None:
        while True:
            await self._wanted.wait()
            await anyio.sleep(ACK_DELAY)  # let the deliveries finishing meanwhile join in
            self._wanted = anyio.Event()
            await self.flush()

    async def flush(self) -> None:
        """XACK what was handled, even while being cancelled (for up to a few seconds)."""
        ids, self._ids = self._ids, []
        if not ids:
            return
        try:
            with anyio.move_on_after(ACK_FLUSH_TIMEOUT, shield=True):
                await self.client.xack(self.stream, self.group, *ids)
        except redis.RedisError as exc:
            logger.warning("XACK of %d entries of %r failed (they will be read again and "
                           "answered duplicate): %s", len(ids), self.stream, exc)


def _entries(reply: Any) -> list[tuple[Any, Any]]:
    """The entries of an XREAD/XREADGROUP reply for one stream."""
    return list(reply[0][1]) if reply else []


def _field(fields: Any, name: str) -> bytes:
    value = fields.get(name.encode(), fields.get(name, b""))
    return value.encode() if isinstance(value, str) else bytes(value)


async def _failures(inbox: Inbox, delivery: Delivery) -> tuple[dict[str, str], int]:
    """The failing handlers' errors (cut as the inbox cuts them) and the attempts, for the
    dead-letter stream: this delivery's, or, when an earlier delivery gave the event up and
    died before appending it (so this one ran nothing), the inbox's record of it."""
    if delivery.result is not None:
        errors = {f.name: _describe(f.exception) for f in delivery.result.errors}
        return errors, delivery.attempt
    letters = await inbox.dead_letters_async()
    letter = next((item for item in letters if item.event_id == delivery.event_id), None)
    return ({}, delivery.attempt) if letter is None else (dict(letter.failed), letter.attempts)


#: One text for an error, everywhere it is reported (cut to the length the inbox stores).
_describe = _error_text
