"""Helpers for testing code that publishes or handles events.

``capture`` records what is published on a bus while a block runs; ``EventBus.wait_for``
(on the bus itself) awaits the next matching event. Both watch publishes through
``bus.use(..., on="publish")``, so the code under test is delivered exactly as in production.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ._bus import ALL, EventBus
from ._envelope import Event
from ._middleware import PublishCall
from ._result import PublishResult
from ._topics import compile_pattern

__all__ = ["Captured", "capture"]


class Captured:
    """What :func:`capture` recorded.

    :ivar events: every event published whose type matched the pattern, in the order the
        publishes started (an event a handler publishes comes after the one it handles)
    :ivar results: the :class:`PublishResult` of each of those publishes, in the order they
        finished (a publish made inside a handler finishes first)
    """

    def __init__(self, match: Callable[[str], bool]) -> None:
        self.events: list[Event[Any]] = []
        self.results: list[PublishResult] = []
        self._match = match
        self._lock = threading.Lock()
        self._open = True

    @contextmanager
    def _record(self, call: PublishCall) -> Iterator[None]:
        """The publish middleware: the event as the publish starts, its result as it ends."""
        if not self._match(call.event.type):
            yield
            return
        with self._lock:
            self.events.append(call.event)
        try:
            yield
        finally:
            if call.result is not None and self._open:
                with self._lock:
                    self.results.append(call.result)

    @property
    def types(self) -> list[str]:
        """The type of each captured event, in order: handy for one-line assertions."""
        return [event.type for event in self.events]

    def __len__(self) -> int:
        return len(self.events)


@contextmanager
def capture(bus: EventBus, pattern: str = ALL) -> Iterator[Captured]:
    """Record every event published on ``bus`` whose type matches ``pattern``.

    Events are recorded whether or not any handler matched them, with the result of their
    publish (so a failing handler shows in ``captured.results``)::

        with capture(bus, "invoice.*") as captured:
            bus.publish("invoice.paid")
        assert captured.types == ["invoice.paid"]

    A publish that raised (``raise_errors=True``) is recorded before it raises; one still
    running in another task when the block ends has its event but not its result. Data that
    fails validation publishes nothing, so it is not recorded.

    :raises InvalidPatternError: the pattern is malformed
    """
    captured = Captured(compile_pattern(pattern))
    stop = bus.use(captured._record, on="publish")
    try:
        yield captured
    finally:
        stop()
        captured._open = False
