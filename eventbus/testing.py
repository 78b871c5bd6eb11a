"""Helpers for testing code that publishes or handles events.

``capture`` records what is published on a bus while a block runs; ``EventBus.wait_for``
(on the bus itself) awaits the next matching event.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ._bus import ALL, EventBus
from ._envelope import Event
from ._result import PublishResult
from ._topics import compile_pattern

__all__ = ["Captured", "capture"]


class Captured:
    """What :func:`capture` recorded, in the order the publishes completed.

    A publish made inside a handler completes, and is recorded, before the publish whose
    handler made it.

    :ivar events: every event published whose type matched the pattern
    :ivar results: the :class:`PublishResult` of each of those publishes
    """

    def __init__(self) -> None:
        self.events: list[Event[Any]] = []
        self.results: list[PublishResult] = []
        self._lock = threading.Lock()

    def _record(self, result: PublishResult) -> None:
        with self._lock:
            self.events.append(result.event)
            self.results.append(result)

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

    A publish that raised (``raise_errors=True``) is recorded before it raises.

    :raises InvalidPatternError: the pattern is malformed
    """
    match = compile_pattern(pattern)
    captured = Captured()

    def observe(result: PublishResult) -> None:
        if match(result.event.type):
            captured._record(result)

    stop = bus._observe(observe)
    try:
        yield captured
    finally:
        stop()
