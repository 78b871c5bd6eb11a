"""The inbox: each handler runs to success once per event id, however often it arrives.

Every transport (the webhook receiver, a stream consumer, the notification policy's
follow-ups) hands events to an :class:`Inbox` and maps the :class:`Delivery` it returns to its
own answer. One delivery is three steps: claim the event in the store, publish it to the bus
skipping the handlers that completed on earlier attempts, settle the outcome.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import anyio
import anyio.from_thread
import anyio.to_thread
from anyio.streams.memory import MemoryObjectReceiveStream

from .._envelope import Event
from ._errors import DeadLetterNotFoundError
from ._memory import MemoryIdempotencyStore
from ._progress import Progress, recording
from ._store import AsyncIdempotencyStore, Claim, DeadLetter, IdempotencyStore

if TYPE_CHECKING:
    from .._bus import EventBus
    from .._result import PublishResult

DeliveryStatus = Literal["handled", "duplicate", "in_flight", "failed", "dead_letter"]

logger = logging.getLogger("eventbus.inbox")
_current: ContextVar[Inbox | None] = ContextVar("eventbus.inbox.current", default=None)
_MAX_ERROR = 2000


def current() -> Inbox | None:
    """The inbox delivering the event whose handlers are running now, else ``None``.

    Set for the length of the handlers' run (tasks and worker threads they start inherit
    it), so a handler can deliver follow-up events through the same inbox.
    """
    return _current.get()


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one :meth:`Inbox.deliver` did.

    :ivar status: ``"handled"`` (every handler has now succeeded), ``"duplicate"`` (they
        had already), ``"in_flight"`` (another delivery holds the event right now; retry
        later), ``"failed"`` (some handler failed; a later delivery runs only those) or
        ``"dead_letter"`` (given up after ``max_attempts``; later deliveries run nothing)
    :ivar event_id: the event's id
    :ivar attempt: this attempt's number (1 for the first) when handlers ran, else the
        number of attempts made so far
    :ivar result: the publish's result, or ``None`` when nothing ran
    :ivar failed: names of the handlers that failed in this attempt
    """

    status: DeliveryStatus
    event_id: str
    attempt: int
    result: PublishResult | None = None
    failed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Outcome:
    completed: tuple[str, ...]
    failed: dict[str, str]
    dead_letter: tuple[str, bytes] | None
    delivery: Delivery


class Inbox:
    """Deliver events to ``bus`` so that each handler runs to success once per event id,
    whoever delivers the event how often (at-least-once in, exactly-once per handler out).

    Completion is recorded per handler (by subscription name, so give handlers explicit,
    stable names with a durable store): an event is a duplicate only when every handler this
    bus would run for it has completed, so inboxes with different handlers sharing one store
    (a rolling deploy) each run their own. A handler that raised runs again on the next
    delivery; the ones that succeeded do not.

    When two or more handlers are to run, each success is recorded in the store as the
    handler returns (:meth:`IdempotencyStore.complete`, fenced by the claim; all but the
    last to finish, which the settle that follows records), so a process
    killed mid-delivery loses nothing: once its lease expires, the next delivery runs only the
    handlers that had not returned. From async code a writer task makes those writes in the
    order handlers return, and the delivery waits for them before it settles. The recording is
    one handler middleware per bus (``bus.use``), installed on the first delivery that needs
    it; for plain publishes it only looks up a context variable. With one handler to run, the
    settle records it and nothing more is written; ``n`` handlers cost ``n - 1`` writes.

    While the handlers run, :func:`current` returns this inbox.

    :param bus: the bus to publish on
    :param store: where the history is kept (default: a new :class:`MemoryIdempotencyStore`);
        a store with the async twin (:class:`AsyncIdempotencyStore`) is awaited from async
        code, any other is called in a worker thread
    :param max_attempts: give an event up as a dead letter when its ``max_attempts``-th
        attempt fails (a crashed attempt counts); ``None`` (default) retries for as long as
        the sender redelivers
    :raises TypeError: ``store`` implements neither store protocol
    :raises ValueError: ``max_attempts`` is below 1
    """

    def __init__(
        self,
        bus: EventBus,
        store: IdempotencyStore | AsyncIdempotencyStore | None = None,
        *,
        max_attempts: int | None = None,
    ) -> None:
        if max_attempts is not None and max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1 or None, not {max_attempts!r}")
        self.bus = bus
        self.store = MemoryIdempotencyStore() if store is None else store
        self.max_attempts = max_attempts
        self._async = self.store if isinstance(self.store, AsyncIdempotencyStore) else None
        self._held: dict[str, Claim] = {}
        if self._async is None and not isinstance(self.store, IdempotencyStore):
            raise TypeError(
                f"store must implement eventbus.inbox.IdempotencyStore (claim, complete, "
                "extend, settle, dead_letters, revive) or AsyncIdempotencyStore, not "
                f"{self.store!r}"
            )

    async def deliver(self, event: Event[Any], /) -> Delivery:
        """Deliver ``event``: claim it, run the handlers that have not completed with
        :meth:`EventBus.publish_async`, record the outcome.

        The outcome is recorded even when the caller is cancelled meanwhile (shielded).

        :raises TypeError: ``event`` is not an :class:`Event` (parse a dict with ``bus.parse``)
        :raises StoreFileMissingError: the store's file vanished (and other store errors)
        """
        if not isinstance(event, Event):
            raise TypeError(
                f"deliver takes an Event, not {type(event).__name__}: use bus.parse(raw) first"
            )
        claim = await self._claim_async(event)
        if claim.status != "claimed":
            return _unclaimed(claim)
        progress: Progress | None = None
        self._held[claim.key] = claim
        reset = _current.set(self)
        try:
            async with self._recorder(event, claim) as progress:
                with recording(progress):
                    result = await self.bus.publish_async(
                        event, raise_errors=False, skip=claim.completed
                    )
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._settle_async(claim, self._interrupted(claim, event, progress))
            raise
        finally:
            _current.reset(reset)
            del self._held[claim.key]
        outcome = self._conclude(claim, event, result)
        with anyio.CancelScope(shield=True):
            await self._settle_async(claim, outcome)
        return outcome.delivery

    def deliver_sync(self, event: Event[Any], /) -> Delivery:
        """The sync twin of :meth:`deliver`, publishing with :meth:`EventBus.publish` and
        calling the store's blocking methods in the calling thread (and a completion's in
        the thread its handler returned in).

        :raises TypeError: ``event`` is not an :class:`Event` (parse a dict with ``bus.parse``)
        :raises StoreFileMissingError: the store's file vanished (and other store errors)
        """
        if not isinstance(event, Event):
            raise TypeError(
                f"deliver_sync takes an Event, not {type(event).__name__}: use bus.parse(raw) first"
            )
        store = self._sync()
        claim = store.claim(event.id, handlers=self._names(event))
        if claim.status != "claimed":
            return _unclaimed(claim)
        progress = None
        if running := self._running(event, claim):
            progress = Progress(self.bus, claim, running, lambda n: _complete(store, claim, n))
        self._held[claim.key] = claim
        reset = _current.set(self)
        try:
            with recording(progress):
                result = self.bus.publish(event, raise_errors=False, skip=claim.completed)
        except BaseException:
            self._settle_sync(claim, self._interrupted(claim, event, progress))
            raise
        finally:
            _current.reset(reset)
            del self._held[claim.key]
        outcome = self._conclude(claim, event, result)
        self._settle_sync(claim, outcome)
        return outcome.delivery

    async def extend(self, event_id: str, /, lease: float) -> bool:
        """Make the lease this inbox holds on ``event_id`` (while one of its deliveries runs
        the handlers) last at least ``lease`` seconds from now: what a transport whose
        handlers may outlast the store's lease calls every so often (the Redis Streams
        consumer does, with its keep-alive).

        :returns: whether a delivery of this inbox holds ``event_id`` and still held its
            lease (``False`` once the delivery has finished)
        :raises ValueError: ``lease`` is not a positive number of seconds
        """
        claim = self._held.get(event_id)
        if claim is None:
            return False
        if self._async is not None:
            return await self._async.extend_async(claim, lease)
        return await anyio.to_thread.run_sync(self._sync().extend, claim, lease)

    def extend_sync(self, event_id: str, /, lease: float) -> bool:
        """The sync twin of :meth:`extend`.

        :raises ValueError: ``lease`` is not a positive number of seconds
        """
        claim = self._held.get(event_id)
        return claim is not None and self._sync().extend(claim, lease)

    def dead_letters(self) -> list[DeadLetter]:
        """The events given up after ``max_attempts``, oldest first failure first."""
        return self._sync().dead_letters()

    async def retry_dead_letter(self, event_id: str) -> Delivery:
        """Take ``event_id`` off the dead letters and deliver it again through this inbox:
        the handlers that never succeeded run (one more attempt, dead again if it fails).

        :raises DeadLetterNotFoundError: ``event_id`` is not a dead letter (any more)
        """
        letter = await self._revive_async(event_id)
        return await self.deliver(self._revived(event_id, letter))

    def retry_dead_letter_sync(self, event_id: str) -> Delivery:
        """The sync twin of :meth:`retry_dead_letter`.

        :raises DeadLetterNotFoundError: ``event_id`` is not a dead letter (any more)
        """
        letter = self._sync().revive(event_id)
        return self.deliver_sync(self._revived(event_id, letter))

    # -- the pure steps ----------------------------------------------------------------

    def _names(self, event: Event[Any]) -> frozenset[str]:
        return frozenset(sub.name for sub in self.bus.handlers_for(event.type))

    def _conclude(self, claim: Claim, event: Event[Any], result: PublishResult) -> _Outcome:
        failed = {failure.name: _error_text(failure.exception) for failure in result.errors}
        completed = tuple(sub.name for sub in result.called if sub.name not in failed)
        names = tuple(failed)
        if not failed:
            handled = Delivery("handled", event.id, claim.attempt, result)
            return _Outcome(completed, failed, None, handled)
        if self.max_attempts is not None and claim.attempt >= self.max_attempts:
            logger.error(
                "event %s (%s) is a dead letter after %d attempts; failed: %s",
                event.id,
                event.type,
                claim.attempt,
                ", ".join(names),
            )
            dead = (event.type, event.to_json())
            delivery = Delivery("dead_letter", event.id, claim.attempt, result, names)
            return _Outcome(completed, failed, dead, delivery)
        delivery = Delivery("failed", event.id, claim.attempt, result, names)
        return _Outcome(completed, failed, None, delivery)

    def _running(self, event: Event[Any], claim: Claim) -> int:
        """How many handlers will run, when two or more (each success is then recorded as it
        returns); 0 for one or none, which the settle records at no extra cost."""
        running = len(self._names(event) - claim.completed)
        return running if running > 1 else 0

    def _interrupted(self, claim: Claim, event: Event[Any], progress: Progress | None) -> _Outcome:
        done = tuple(progress.done) if progress else ()
        pending = self._names(event) - claim.completed - set(done)
        failed = dict.fromkeys(pending, "the delivery was interrupted before it finished")
        return _Outcome(done, failed, None, Delivery("failed", event.id, claim.attempt))

    def _revived(self, event_id: str, letter: DeadLetter | None) -> Event[Any]:
        if letter is None:
            raise DeadLetterNotFoundError(event_id)
        return self.bus.parse(letter.body)

    # -- calling the store ---------------------------------------------------------------

    def _sync(self) -> IdempotencyStore:
        if not isinstance(self.store, IdempotencyStore):
            raise TypeError(
                f"{self.store!r} is async only; use the inbox's async methods (deliver, "
                "retry_dead_letter, dead_letters_async), or give the store a sync client as well"
            )
        return self.store

    async def _claim_async(self, event: Event[Any]) -> Claim:
        names = self._names(event)
        if self._async is not None:
            return await self._async.claim_async(event.id, handlers=names)
        store = self._sync()
        return await anyio.to_thread.run_sync(lambda: store.claim(event.id, handlers=names))

    async def _settle_async(self, claim: Claim, outcome: _Outcome) -> None:
        if self._async is not None:
            held = await self._async.settle_async(
                claim,
                completed=outcome.completed,
                failed=outcome.failed,
                dead_letter=outcome.dead_letter,
            )
        else:
            held = await anyio.to_thread.run_sync(_settle, self._sync(), claim, outcome)
        _warn_if_lost(claim, held)

    @asynccontextmanager
    async def _recorder(self, event: Event[Any], claim: Claim) -> AsyncIterator[Progress | None]:
        """A :class:`Progress` whose completions a writer task sends to the store in the
        order handlers return (from the loop's thread or a worker thread), drained before
        the block exits; ``None`` when there is nothing to record."""
        running = self._running(event, claim)
        if not running:
            yield None
            return
        send, receive = anyio.create_memory_object_stream[str](math.inf)
        loop_thread = threading.get_ident()

        def record(name: str) -> None:
            try:
                if threading.get_ident() == loop_thread:
                    send.send_nowait(name)
                else:
                    anyio.from_thread.run_sync(send.send_nowait, name)
            except anyio.ClosedResourceError:
                pass  # a worker thread outlived its delivery, already settled as interrupted

        fatal: BaseException | None = None
        async with anyio.create_task_group() as group:
            group.start_soon(self._write_completions, claim, receive)
            with send:
                try:
                    yield Progress(self.bus, claim, running, record)
                except anyio.get_cancelled_exc_class():
                    raise
                except BaseException as exc:  # raised as itself, not in a group, below
                    fatal = exc
        if fatal is not None:
            raise fatal

    async def _write_completions(
        self, claim: Claim, receive: MemoryObjectReceiveStream[str]
    ) -> None:
        with receive:
            async for name in receive:
                if self._async is None:
                    await anyio.to_thread.run_sync(_complete, self._sync(), claim, name)
                    continue
                try:
                    await self._async.complete_async(claim, name)
                except Exception:
                    _log_unrecorded(claim, name)

    async def _revive_async(self, event_id: str) -> DeadLetter | None:
        if self._async is not None:
            return await self._async.revive_async(event_id)
        return await anyio.to_thread.run_sync(self._sync().revive, event_id)

    def _settle_sync(self, claim: Claim, outcome: _Outcome) -> None:
        _warn_if_lost(claim, _settle(self._sync(), claim, outcome))

    def __repr__(self) -> str:
        return f"Inbox({self.bus!r}, {self.store!r}, max_attempts={self.max_attempts!r})"

    async def dead_letters_async(self) -> list[DeadLetter]:
        """The async twin of :meth:`dead_letters`: awaits the store's ``dead_letters_async``
        (works with an async-only client), or calls a sync-only store in a worker thread."""
        if self._async is not None:
            return await self._async.dead_letters_async()
        return await anyio.to_thread.run_sync(self._sync().dead_letters)


_UNCLAIMED: Mapping[str, DeliveryStatus] = {
    "done": "duplicate",
    "in_flight": "in_flight",
    "dead_letter": "dead_letter",
}


def _complete(store: IdempotencyStore, claim: Claim, name: str) -> None:
    """Record one completion; a failure to is logged (the settle records it again)."""
    try:
        store.complete(claim, name)
    except Exception:
        _log_unrecorded(claim, name)


def _log_unrecorded(claim: Claim, name: str) -> None:
    logger.exception(
        "could not record that handler %s completed on event %s; the settle records it, "
        "unless this attempt is killed first",
        name,
        claim.key,
    )


def _settle(store: IdempotencyStore, claim: Claim, outcome: _Outcome) -> bool:
    return store.settle(
        claim, completed=outcome.completed, failed=outcome.failed, dead_letter=outcome.dead_letter
    )


def _unclaimed(claim: Claim) -> Delivery:
    return Delivery(_UNCLAIMED[claim.status], claim.key, claim.attempt)


def _warn_if_lost(claim: Claim, held: bool) -> None:
    if not held:
        logger.warning(
            "the lease on event %s ran out before its handlers finished (attempt %d); another "
            "delivery may have run them again: raise the store's lease above the handlers' "
            "longest run",
            claim.key,
            claim.attempt,
        )


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= _MAX_ERROR else text[: _MAX_ERROR - 1] + "\u2026"

