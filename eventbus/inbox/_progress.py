"""Recording each handler's success as it returns, while an inbox delivers an event.

A settle records the handlers of an attempt when the attempt ends; a holder killed before
that would leave the next attempt to run them all again. So, for an event with two or more
handlers to run, the inbox records each success in the store as soon as the handler returns,
through one handler middleware per bus (installed on the first such delivery). Outside those
deliveries the middleware is a context-variable look-up that returns a shared no-op.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from typing import TYPE_CHECKING

from .._middleware import HandlerCall

if TYPE_CHECKING:
    from .._bus import EventBus
    from ._store import Claim

_progress: ContextVar[Progress | None] = ContextVar("eventbus.inbox.progress", default=None)
_IDLE = nullcontext()
_watched: weakref.WeakSet[EventBus] = weakref.WeakSet()
_watching = threading.Lock()


class Progress:
    """One delivery's record of completions: ``record(name)`` writes one to the store.

    The handler that finishes last is not written: the settle that follows at once
    records it, so ``n`` handlers cost ``n - 1`` writes.

    :ivar done: the handlers that succeeded so far in this attempt
    """

    __slots__ = ("_lock", "bus", "done", "key", "record", "remaining")

    def __init__(
        self, bus: EventBus, claim: Claim, running: int, record: Callable[[str], None]
    ) -> None:
        self.bus = bus
        self.key = claim.key
        self.remaining = running
        self.record = record
        self.done: set[str] = set()
        self._lock = threading.Lock()

    def finished(self, name: str, succeeded: bool) -> None:
        """Handler ``name`` returned (or raised): write its success unless it was the last
        one running."""
        with self._lock:
            self.remaining -= 1
            last = self.remaining <= 0
            if succeeded:
                self.done.add(name)
        if succeeded and not last:
            self.record(name)


@contextmanager
def recording(progress: Progress | None) -> Iterator[None]:
    """Record completions into ``progress`` while the block runs (nothing when ``None``)."""
    if progress is None:
        yield
        return
    watch(progress.bus)
    reset = _progress.set(progress)
    try:
        yield
    finally:
        _progress.reset(reset)


def watch(bus: EventBus) -> None:
    """Install the recording middleware on ``bus`` unless it has it already."""
    with _watching:
        if bus not in _watched:
            bus.use(_record_completion)
            _watched.add(bus)


def _record_completion(call: HandlerCall) -> AbstractContextManager[object]:
    progress = _progress.get()
    if progress is None or call.bus is not progress.bus or call.event.id != progress.key:
        return _IDLE  # not a handler of the event an inbox is delivering
    return _Completion(progress, call.subscription.name)


class _Completion:
    """Reports its handler's end to the delivery's :class:`Progress`."""

    __slots__ = ("name", "progress")

    def __init__(self, progress: Progress, name: str) -> None:
        self.progress = progress
        self.name = name

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.progress.finished(self.name, exc_type is None)
