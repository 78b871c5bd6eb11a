"""Bridges between an :class:`~eventbus.EventBus` and `blinker`_ signals, in either direction.

blinker is what Flask and much of the ecosystem signal with. :func:`to_signal` sends a
signal for every bus event matching a pattern, so existing receivers get bus events;
:func:`from_signal` publishes every send of a signal (Flask's ``request_finished``, a
library's own signal) as a bus event. Both return a :class:`Bridge`; ``close()`` it (or use
it as a context manager) to end the bridge.

Bridging one signal both ways never loops: a send a bridge makes is not published back on the
bus by a bridge of the same signal, and an event a bridge publishes is not sent back to the
same signal. This is tracked per context (a context variable), so it holds in tasks and anyio
worker threads a handler starts, and concurrent sends in other threads are unaffected.

.. _blinker: https://blinker.readthedocs.io/
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import blinker

from ._bus import EventBus
from ._envelope import Event
from ._topics import validate_event_type

__all__ = ["Bridge", "from_signal", "to_signal"]

#: The signals a bridge is relaying in the current context, by id.
_relaying: ContextVar[frozenset[int]] = ContextVar("eventbus_blinker_relaying", default=frozenset())

DataBuilder = Callable[..., Mapping[str, Any]]


@contextmanager
def _relaying_through(signal: blinker.Signal) -> Iterator[None]:
    token = _relaying.set(_relaying.get() | {id(signal)})
    try:
        yield
    finally:
        _relaying.reset(token)


def _is_relaying(signal: blinker.Signal) -> bool:
    return id(signal) in _relaying.get()


@dataclass(frozen=True, slots=True, eq=False)
class Bridge:
    """A live bridge between a bus and a blinker signal.

    :ivar bus: the bus
    :ivar signal: the signal
    :ivar direction: ``"to_signal"`` (bus events are sent) or ``"from_signal"`` (sends are
        published)
    :ivar pattern: the bus pattern relayed (``to_signal``) or the event type published
        (``from_signal``)
    """

    bus: EventBus
    signal: blinker.Signal
    direction: Literal["to_signal", "from_signal"]
    pattern: str
    _close: Callable[[], None]
    _is_active: Callable[[], bool]

    @property
    def active(self) -> bool:
        """True until :meth:`close` is called."""
        return self._is_active()

    def close(self) -> None:
        """End the bridge; closing it again does nothing."""
        self._close()

    def __enter__(self) -> Bridge:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        arrow = "->" if self.direction == "to_signal" else "<-"
        return f"<Bridge bus {arrow} {self.signal!r} on {self.pattern!r}>"


def to_signal(
    bus: EventBus, pattern: str, signal: blinker.Signal | None = None, /, *, priority: int = 0
) -> Bridge:
    """Send ``signal`` for every event published on ``bus`` whose type matches ``pattern``.

    Each event is sent as ``signal.send(event.type, event=event)``: the sender is the event's
    type, so a receiver connected with ``sender="invoice.paid"`` gets that type only, and one
    connected without a sender gets them all. Receivers are called synchronously in the
    handler's turn; blinker stops at the first receiver that raises, and that exception is the
    bridge handler's failure in the publish's :class:`~eventbus.PublishResult`. Async
    receivers are not supported by ``Signal.send``; connect sync ones.

    Events that a :func:`from_signal` bridge of the same signal published are not sent back.

    :param signal: the signal to send; a new anonymous ``blinker.Signal`` when omitted (the
        bridge's ``signal``)
    :param priority: the bridge handler's priority on the bus
    :raises InvalidPatternError: the pattern is malformed
    """
    target = blinker.Signal() if signal is None else signal

    def send_to_signal(event: Event[Any]) -> None:
        if _is_relaying(target):
            return
        with _relaying_through(target):
            target.send(event.type, event=event)

    subscription = bus.subscribe(pattern, send_to_signal, priority=priority)
    return Bridge(
        bus, target, "to_signal", pattern, subscription.unsubscribe, lambda: subscription.active
    )


def _default_data(sender: Any, /, **kwargs: Any) -> Mapping[str, Any]:
    return {**kwargs, "sender": sender}


def from_signal(
    signal: blinker.Signal,
    bus: EventBus,
    event_type: str,
    /,
    *,
    sender: Any = blinker.ANY,
    data: DataBuilder | None = None,
) -> Bridge:
    """Publish an event of ``event_type`` on ``bus`` for every send of ``signal``.

    The event's data is ``{"sender": sender, **kwargs}`` (a keyword argument named ``sender``
    is shadowed by the sender). Values are carried as they are, not serialised: Flask's
    ``request_finished`` gives ``{"sender": app, "response": response}``. Pass ``data`` to
    build the data yourself, for example to keep JSON-able values only, or to fit a typed
    class registered for ``event_type`` (its data is validated as for any publish).

    The event is published with :meth:`EventBus.publish`, in the sender's thread, before
    ``send`` returns. Handler failures are in the publish's result and logged, not raised into
    the sender, unless the bus raises errors. Sends a :func:`to_signal` bridge of the same
    signal made are not published back.

    :param sender: relay only sends from this sender (blinker's ``connect(sender=...)``);
        the default, ``blinker.ANY``, relays every sender's
    :param data: ``data(sender, **kwargs)`` returns the event's data
    :raises InvalidEventTypeError: ``event_type`` is malformed
    """
    validate_event_type(event_type)
    build = _default_data if data is None else data

    def publish_send(sent_by: Any, /, **kwargs: Any) -> None:
        if _is_relaying(signal):
            return
        with _relaying_through(signal):
            bus.publish(event_type, build(sent_by, **kwargs))

    signal.connect(publish_send, sender=sender, weak=False)
    connected = [True]

    def close() -> None:
        signal.disconnect(publish_send, sender=sender)
        connected[0] = False

    return Bridge(bus, signal, "from_signal", event_type, close, lambda: connected[0])
