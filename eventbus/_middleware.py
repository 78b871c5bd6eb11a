"""Middleware: code that wraps every handler call, or every publish, of a bus.

A middleware is a callable taking a :class:`HandlerCall` (or a :class:`PublishCall`) and
returning a context manager. Handler middleware is folded into each route's handlers when
the route is built, so a bus without middleware calls its handlers exactly as before.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ._envelope import Event
from ._result import PublishResult

if TYPE_CHECKING:
    from ._bus import EventBus
    from ._subscription import Handler, Subscription


@dataclass(frozen=True, slots=True)
class HandlerCall:
    """One handler about to be called with one event: what handler middleware receives.

    :ivar event: the event being delivered (of the handler's typed class, if any)
    :ivar subscription: the subscription whose handler is called (``.name`` identifies it)
    :ivar bus: the bus delivering the event
    """

    event: Event[Any]
    subscription: Subscription
    bus: EventBus


class PublishCall:
    """One publish, from the built event to its result: what publish middleware receives.

    :ivar event: the event being published, built and validated (read-only)
    :ivar bus: the bus publishing it (read-only)
    :ivar result: the :class:`PublishResult`, set once every handler finished and before the
        middleware exits; ``None`` while delivering, or when delivery raised
    """

    __slots__ = ("_bus", "_event", "result")

    def __init__(self, event: Event[Any], bus: EventBus) -> None:
        self._event = event
        self._bus = bus
        self.result: PublishResult | None = None

    @property
    def event(self) -> Event[Any]:
        return self._event

    @property
    def bus(self) -> EventBus:
        return self._bus

    def __repr__(self) -> str:
        return f"PublishCall(event={self._event.type!r}/{self._event.id}, result={self.result!r})"


HandlerMiddleware = Callable[[HandlerCall], AbstractContextManager[object]]
PublishMiddleware = Callable[[PublishCall], AbstractContextManager[object]]


def check_middleware(middleware: object) -> None:
    """Refuse at ``bus.use`` what cannot be a middleware: a non-callable, or an async one.

    A middleware returns a sync context manager because the same one wraps sync handlers
    (called in a worker thread or the publisher's thread) and async handlers alike; an
    ``async def`` or ``asynccontextmanager`` function could not be entered around a sync one.

    :raises TypeError: ``middleware`` is not callable, or is a coroutine or async generator
        function (directly or under ``functools.wraps``/``asynccontextmanager``)
    """
    if not callable(middleware):
        raise TypeError(f"middleware must be callable, got {middleware!r}")
    for one in (middleware, getattr(middleware, "__wrapped__", None)):
        if inspect.iscoroutinefunction(one) or inspect.isasyncgenfunction(one):
            raise TypeError(
                f"middleware {middleware!r} is async: a middleware must return a sync context"
                " manager (e.g. a contextlib.contextmanager), because the same middleware wraps"
                " sync and async handlers alike"
            )


def _entered(middleware: Callable[[Any], object], call: object) -> AbstractContextManager[object]:
    """``middleware(call)``, checked to be a context manager before the caller enters it.

    :raises TypeError: the middleware returned something without ``__enter__``/``__exit__``
    """
    manager = middleware(call)
    if not (hasattr(manager, "__enter__") and hasattr(manager, "__exit__")):
        raise TypeError(
            f"middleware {middleware!r} returned {manager!r}, not a context manager: a"
            " middleware must return an object with __enter__ and __exit__"
        )
    return manager


def wrap_handler(
    handler: Handler,
    is_async: bool,
    sub: Subscription,
    bus_ref: Callable[[], EventBus | None],
    middleware: tuple[HandlerMiddleware, ...],
) -> Handler:
    """Return ``handler`` with every middleware around it, the first one outermost.

    The context managers are entered in the task (or worker thread) that calls the handler,
    right before the call, so context variables they set are visible to it.
    """
    for one in reversed(middleware):
        handler = (
            _wrap_async(handler, one, sub, bus_ref)
            if is_async
            else _wrap_sync(handler, one, sub, bus_ref)
        )
    return handler


def _wrap_sync(
    inner: Handler,
    middleware: HandlerMiddleware,
    sub: Subscription,
    bus_ref: Callable[[], EventBus | None],
) -> Handler:
    def call(event: Event[Any]) -> Any:
        with _entered(middleware, HandlerCall(event, sub, bus_ref())):  # type: ignore[arg-type]
            return inner(event)

    return call


def _wrap_async(
    inner: Handler,
    middleware: HandlerMiddleware,
    sub: Subscription,
    bus_ref: Callable[[], EventBus | None],
) -> Handler:
    async def call(event: Event[Any]) -> Any:
        with _entered(middleware, HandlerCall(event, sub, bus_ref())):  # type: ignore[arg-type]
            return await inner(event)

    return call


class _Unsuppressed(ExitStack):
    """An exit stack that lets every exception through, whatever its members return."""

    def __exit__(self, *exc_info: Any) -> Literal[False]:
        super().__exit__(*exc_info)
        return False


def enter_publish(
    middleware: tuple[PublishMiddleware, ...], call: PublishCall
) -> AbstractContextManager[None]:
    """Enter every publish middleware for ``call``, the first one outermost.

    Returns the stack that exits them, and never suppresses the publish's exception; if
    entering one raises, those entered are exited.
    """
    with _Unsuppressed() as stack:
        for one in middleware:
            stack.enter_context(_entered(one, call))
        return stack.pop_all()  # type: ignore[return-value]  # an _Unsuppressed


class Observer(Protocol):
    """Watches every publish on a bus: the older private hook, now a publish middleware."""

    def published(self, event: Event[Any]) -> None:
        """An event is about to be delivered (built and validated already)."""

    def finished(self, result: PublishResult) -> None:
        """A publish finished, every handler having run."""


def observer_middleware(observer: Observer) -> PublishMiddleware:
    """The publish middleware that tells ``observer`` of each publish."""

    def watch(call: PublishCall) -> AbstractContextManager[object]:
        observer.published(call.event)
        return _Finished(observer, call)

    return watch


class _Finished:
    """Tells an :class:`Observer` of a publish's result once it has one."""

    __slots__ = ("call", "observer")

    def __init__(self, observer: Observer, call: PublishCall) -> None:
        self.observer = observer
        self.call = call

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        if self.call.result is not None:
            self.observer.finished(self.call.result)
