"""The event bus: who listens to what, and publishing to them."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Collection, Mapping
from types import TracebackType
from typing import Any, Literal, TypeVar, overload

import anyio
import anyio.from_thread

from ._background import BackgroundLoop
from ._dispatch import deliver_async, deliver_sync
from ._envelope import Event
from ._exceptions import AsyncHandlersInSyncPublishError, InvalidPatternError
from ._loop import in_event_loop
from ._middleware import (
    HandlerMiddleware,
    Observer,
    PublishCall,
    PublishMiddleware,
    check_middleware,
    enter_publish,
    observer_middleware,
)
from ._parsing import RawEvent, build_event, coerce_event, parse_event
from ._registry import EventClass, declared_types
from ._result import PublishResult
from ._routing import Route, RoutingTable
from ._subscription import Handler, Subscription, check_one_argument
from ._topics import check_pattern, compile_pattern, validate_event_type
from ._waiting import wait_for_event

F = TypeVar("F", bound=Callable[..., Any])
E = TypeVar("E", bound=Event[Any])
R = TypeVar("R")
Pattern = str | EventClass


ALL = "**"


class EventBus:
    """Publish/subscribe inside one process.

    Handlers subscribe to an exact type (``invoice.paid``), a wildcard pattern
    (``customer.subscription.*``, ``customer.**``), a typed event class, or everything; plain
    functions and ``async def`` functions alike.

    Delivery order is deterministic: higher ``priority`` first, then subscription order,
    across exact and wildcard subscriptions alike. Every matching handler runs even when
    another raises; failures are logged on the ``eventbus`` logger and returned in the
    :class:`PublishResult`.

    Subscribing, unsubscribing and publishing are safe from many threads at once; a publish
    in flight uses the subscriptions it started with.

    :param raise_errors: make every publish raise :class:`PublishError` after all handlers ran
        when any of them raised (handy in tests); publish's own ``raise_errors`` overrides it
    :param sync_handlers: how :meth:`publish_async` runs sync handlers: ``"inline"`` (default;
        called in the event loop thread, so keep them quick) or ``"thread"`` (each in an anyio
        worker thread, concurrently with the async handlers)

    A sync :meth:`publish` that reaches async handlers outside any event loop runs that
    delivery on the bus's own asyncio loop, started in a daemon thread on first need and
    kept until :meth:`close` (or the end of a ``with EventBus() as bus:`` block).
    """

    def __init__(
        self,
        *,
        raise_errors: bool = False,
        sync_handlers: Literal["inline", "thread"] = "inline",
    ) -> None:
        if sync_handlers not in ("inline", "thread"):
            raise ValueError(f"sync_handlers must be 'inline' or 'thread', not {sync_handlers!r}")
        self.raise_errors = raise_errors
        self.sync_handlers = sync_handlers
        self._table = RoutingTable(self)
        self._routes = self._table.routes
        self._loop = BackgroundLoop("eventbus-loop")
        weakref.finalize(self, self._loop.stop)

    # -- subscribing -------------------------------------------------------------------

    @overload
    def subscribe(
        self,
        pattern: type[E],
        handler: Callable[[E], Any],
        *,
        priority: int = 0,
        once: bool = False,
        weak: bool = False,
        name: str | None = None,
    ) -> Subscription: ...

    @overload
    def subscribe(
        self,
        pattern: str,
        handler: Handler,
        *,
        priority: int = 0,
        once: bool = False,
        weak: bool = False,
        name: str | None = None,
    ) -> Subscription: ...

    @overload
    def subscribe(
        self,
        handler: Handler,
        /,
        *,
        priority: int = 0,
        once: bool = False,
        weak: bool = False,
        name: str | None = None,
    ) -> Subscription: ...

    def subscribe(
        self,
        pattern: Pattern | Handler,
        handler: Handler | None = None,
        *,
        priority: int = 0,
        once: bool = False,
        weak: bool = False,
        name: str | None = None,
    ) -> Subscription:
        """Call ``handler(event)`` for every event whose type matches ``pattern``.

        ``pattern`` is an event type, a wildcard pattern (``*`` one segment, ``**`` any), or
        a typed :class:`Event` subclass (its types; it is registered, and the handler receives
        instances of it). ``subscribe(handler)`` alone receives every event. Each call is a
        subscription of its own, even for a handler already subscribed.

        :param priority: higher runs first; equal priorities run in subscription order
        :param once: end the subscription after its first delivery (even under concurrent
            publishes, it is delivered at most once)
        :param weak: hold a function or bound method weakly and end the subscription when it
            is garbage collected (the default holds it strongly, so lambdas and closures work);
            a lambda or closure nothing else holds is collected, and its subscription ends, at
            once, as in blinker
        :param name: a stable key for this subscription (the webhook adapter records
            per-handler completion under it); defaults to the handler's qualified name, with
            ``#2``, ``#3``... appended for later subscriptions sharing one
        :raises InvalidPatternError: the pattern is malformed
        :raises DuplicateHandlerNameError: ``name`` is taken by a live subscription
        :raises EventClassConflictError: the class conflicts with a registered family class
        :raises TypeError: the handler cannot be called with one positional argument
        """
        if handler is None:
            handler, pattern = pattern, ALL  # type: ignore[assignment]
        if not callable(handler):
            raise TypeError(f"handler must be callable, got {handler!r}")
        check_one_argument(handler)
        if not isinstance(priority, int):
            raise TypeError(f"priority must be an int (higher runs first), got {priority!r}")
        event_class = None
        if isinstance(pattern, type):
            # A class with several exact types subscribes to them joined by "|".
            event_class, pattern = pattern, "|".join(declared_types(pattern))
        elif isinstance(pattern, str):
            if type(pattern) is not str:
                pattern = str.__str__(pattern)  # a StrEnum member subscribes as its value
            check_pattern(pattern)
        else:
            raise InvalidPatternError(repr(pattern), "expected a string or an Event subclass")
        return self._table.add(
            pattern,
            handler,
            priority=priority,
            once=once,
            weak=weak,
            name=name,
            event_class=event_class,
        )

    @overload
    def on(
        self,
        pattern: type[E],
        *,
        priority: int = 0,
        once: bool = False,
        weak: bool = False,
        name: str | None = None,
    ) -> Callable[[Callable[[E], R]], Callable[[E], R]]: ...

    @overload
    def on(self, pattern: F, /) -> F: ...

    @overload
    def on(
        self,
        pattern: str = ALL,
        *,
        priority: int = 0,
        once: bool = False,
        weak: bool = False,
        name: str | None = None,
    ) -> Callable[[F], F]: ...

    def on(
        self,
        pattern: Pattern | F = ALL,
        *,
        priority: int = 0,
        once: bool = False,
        weak: bool = False,
        name: str | None = None,
    ) -> Any:
        """Decorator form of :meth:`subscribe`; returns the function unchanged.

        ``@bus.on("invoice.paid")`` subscribes to one type, ``@bus.on(InvoicePaid)`` to a
        typed class (type checkers then check the handler's parameter), ``@bus.on`` or
        ``@bus.on()`` to every event. With ``weak=True`` the bus holds the function weakly:
        the decorated module-level function or method lives on, but a decorated nested
        function nothing else holds ends its subscription at once, as in blinker.
        """
        if callable(pattern) and not isinstance(pattern, type):
            self.subscribe(ALL, pattern)
            return pattern
        if isinstance(pattern, str):
            compile_pattern(pattern)  # a bad pattern fails where it is written
        else:
            declared_types(pattern)

        def decorate(handler: F) -> F:
            self.subscribe(pattern, handler, priority=priority, once=once, weak=weak, name=name)
            return handler

        return decorate

    def unsubscribe(self, subscription: Subscription | Handler) -> int:
        """End a subscription, or every subscription of a handler; return how many ended.

        ``unsubscribe(sub)`` ends that subscription (0 if it had ended already, after
        ``once`` fired, say). ``unsubscribe(handler)`` ends every live subscription on this
        bus whose handler ``==`` it, so ``bus.unsubscribe(obj.method)`` works as in blinker
        and pyee.

        :raises ValueError: the subscription belongs to another bus
        :raises TypeError: neither a :class:`Subscription` nor a callable (a pattern such as
            ``"a.b"`` is not accepted: it would be ambiguous)
        """
        target = subscription
        if isinstance(target, Subscription):
            if target._bus_ref() is not self:
                raise ValueError(f"{target!r} belongs to another bus; unsubscribe it there")
            return int(self._table.remove(target))
        if isinstance(target, str) or not callable(target):
            raise TypeError(
                f"unsubscribe takes a Subscription or a handler, not {target!r}; keep the "
                "Subscription that subscribe returned, or pass the handler itself"
            )
        return self._table.remove_handler(target)

    def is_subscribed(self, subscription: Subscription, /) -> bool:
        """Tell whether ``subscription`` is still live on this bus."""
        return self._table.is_live(subscription)

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        """Every live subscription, in subscription order."""
        return self._table.live()

    def handlers_for(self, event_type: str, /) -> tuple[Subscription, ...]:
        """The subscriptions an event of ``event_type`` would reach, in delivery order."""
        return self._table.route(validate_event_type(event_type)).subscriptions

    # -- typed events ------------------------------------------------------------------

    def register(self, *classes: EventClass) -> None:
        """Register typed event classes for the types they declare.

        Publishing one of those types with raw data validates it into the class, and
        :meth:`parse` picks it. An exact registration beats a pattern, a pattern with more
        literal segments beats one with fewer, and between equals the later one wins.

        :raises EventClassConflictError: a class covered by a registered family does not
            subclass it (or a family covers a registered class that does not subclass it)
        """
        for cls in classes:
            self._table.register(cls)

    def event_class_for(self, event_type: str, /) -> EventClass:
        """The class events of ``event_type`` are built as (:class:`Event` when unregistered)."""
        return self._table.registry.class_for(validate_event_type(event_type)) or Event

    def parse(self, raw: RawEvent) -> Event[Any]:
        """Parse a JSON body (bytes or str) or a decoded mapping into an event of its class.

        Unknown types become a plain :class:`Event` with dict data; they are never rejected.

        :raises MalformedEventError: not JSON, not an object, or no valid ``type``
        :raises EventValidationError: the data does not fit the class registered for its type
        """
        return parse_event(raw, self._table.registry.class_for)

    def build(self, event_type: str, data: Any = None, /) -> Event[Any]:
        """Build the event that ``publish(event_type, data)`` would deliver, without publishing.

        :raises InvalidEventTypeError: the type is malformed
        :raises EventValidationError: the data does not fit the class registered for the type
        """
        validate_event_type(event_type)
        return build_event(self._table.registry.class_for(event_type), event_type, data)

    # -- publishing --------------------------------------------------------------------

    def _prepare(self, event_or_type: Event[Any] | str, data: Any) -> tuple[Event[Any], Route]:
        if isinstance(event_or_type, str):
            event_type = event_or_type
            route = self._routes.get(event_type) if type(event_type) is str else None
            if route is None:  # only valid types are ever cached
                event_type = validate_event_type(event_type)
                route = self._table.route(event_type)
            return build_event(route.event_class, event_type, data), route
        if not isinstance(event_or_type, Event):
            raise TypeError(f"publish takes an Event or a type string, not {event_or_type!r}")
        if data is not None:
            raise TypeError("data is only used with a type string; put it in the Event you publish")
        route = self._routes.get(event_or_type.type) or self._table.route(event_or_type.type)
        if route.event_class is not None:
            return coerce_event(route.event_class, event_or_type), route
        return event_or_type, route

    def publish(
        self,
        event_or_type: Event[Any] | str,
        data: Mapping[str, Any] | Any = None,
        *,
        raise_errors: bool | None = None,
        skip: Collection[str] = (),
    ) -> PublishResult:
        """Deliver an event to every matching handler, from sync code.

        Passing a type string builds the event (validating ``data``, default ``{}``, into the
        class registered for the type); passing an ``Event`` publishes it as is (an untyped
        one is validated into the registered class first). Sync handlers run in the calling
        thread, in route order, when the route has no async handler. A route with async
        handlers runs to completion on the bus's own asyncio loop (its sync handlers there
        too, in route order, with this thread's context variables), or on the host loop when
        called from an anyio worker thread.

        :param raise_errors: raise :class:`PublishError` after every handler ran if any raised
            (default: the bus's ``raise_errors``)
        :param skip: names of subscriptions not to call (handlers that already completed)
        :raises AsyncHandlersInSyncPublishError: called inside a running event loop while
            async handlers match; nothing was delivered; ``await publish_async`` instead
        :raises EventValidationError: the data does not fit the registered class; nothing
            was delivered
        """
        # The common cases, a built event or a type with data going to sync handlers of an
        # untyped route, take the fewest steps: every call saved is paid on each publish.
        route = None
        event: Event[Any]
        if type(event_or_type) is str:
            route = self._routes.get(event_or_type)  # only valid types are cached
            if route is not None and route.direct is not None:
                event = Event(type=event_or_type, data={} if data is None else data)
        elif data is None and isinstance(event_or_type, Event):  # else: _prepare says why
            event = event_or_type
            route = self._routes.get(event.type) or self._table.route(event.type)
        if route is None or route.direct is None:
            return self._publish(event_or_type, data, raise_errors, skip)
        result = deliver_sync(event, route, skip)
        if result.errors:
            return self._finish(result, raise_errors)
        return result

    def _publish(
        self,
        event_or_type: Event[Any] | str,
        data: Any,
        raise_errors: bool | None,
        skip: Collection[str],
    ) -> PublishResult:
        event, route = self._prepare(event_or_type, data)
        if route.async_names and in_event_loop():
            raise AsyncHandlersInSyncPublishError(event.type, route.async_names)
        if not route.publish_middleware:
            return self._finish(self._deliver(event, route, skip), raise_errors)
        call = PublishCall(event, self)
        with enter_publish(route.publish_middleware, call):
            call.result = result = self._deliver(event, route, skip)
        return self._finish(result, raise_errors)

    def _deliver(self, event: Event[Any], route: Route, skip: Collection[str]) -> PublishResult:
        """Deliver from sync code: inline, or on a loop when async handlers match."""
        if not route.async_names:
            return deliver_sync(event, route, skip)
        thread = self.sync_handlers == "thread"
        try:
            return anyio.from_thread.run(deliver_async, event, route, skip, thread)
        except anyio.NoEventLoopError:
            pass  # not in an anyio worker thread: no host loop to borrow
        return self._loop.run(lambda: deliver_async(event, route, skip, thread))

    def _finish(self, result: PublishResult, raise_errors: bool | None) -> PublishResult:
        """Raise if asked to and a handler failed."""
        if result.errors and (self.raise_errors if raise_errors is None else raise_errors):
            result.raise_for_errors()
        return result

    async def publish_async(
        self,
        event_or_type: Event[Any] | str,
        data: Mapping[str, Any] | Any = None,
        *,
        raise_errors: bool | None = None,
        skip: Collection[str] = (),
    ) -> PublishResult:
        """Deliver an event to every matching handler, from async code (asyncio or trio).

        Async handlers run concurrently (a single one is awaited directly) and this returns
        when all have finished. Sync handlers run as the bus's ``sync_handlers`` says: inline
        in route order by default, or in worker threads. Cancelling the publish cancels its
        handlers.

        :param raise_errors: as for :meth:`publish`
        :param skip: as for :meth:`publish`
        :raises EventValidationError: as for :meth:`publish`
        """
        route = None
        if data is None and isinstance(event_or_type, Event):
            event = event_or_type
            route = self._routes.get(event.type)
        if route is None or route.event_class is not None:
            event, route = self._prepare(event_or_type, data)
        thread = self.sync_handlers == "thread"
        if not route.publish_middleware:
            result = await deliver_async(event, route, skip, thread)
        else:
            call = PublishCall(event, self)
            with enter_publish(route.publish_middleware, call):
                call.result = result = await deliver_async(event, route, skip, thread)
        if result.errors:
            return self._finish(result, raise_errors)
        return result

    # -- middleware and lifetime -------------------------------------------------------

    @overload
    def use(
        self, middleware: HandlerMiddleware, /, *, on: Literal["handler"] = "handler"
    ) -> Callable[[], None]: ...

    @overload
    def use(
        self, middleware: PublishMiddleware, /, *, on: Literal["publish"]
    ) -> Callable[[], None]: ...

    def use(
        self, middleware: Any, /, *, on: Literal["handler", "publish"] = "handler"
    ) -> Callable[[], None]:
        """Wrap every handler call (``on="handler"``) or every publish (``on="publish"``).

        ``middleware(call)`` returns a context manager. For a handler call it gets a
        :class:`HandlerCall` and is entered right before the handler runs, in the handler's
        own task (or worker thread) and context, and exited right after it returns or raises;
        the exception passes through ``__exit__``, and one it suppresses counts as success.
        For a publish it gets a :class:`PublishCall`, is entered once the event is built and
        validated, and exited when every handler has finished, ``call.result`` set by then
        (``None`` if delivery raised; a publish middleware cannot suppress that exception).
        The first middleware added is the outermost.

        :return: a function that removes the middleware
        :raises ValueError: ``on`` is neither ``"handler"`` nor ``"publish"``
        :raises TypeError: ``middleware`` is not callable, or is async (an ``async def`` or
            ``asynccontextmanager`` function): a middleware returns a sync context manager,
            since the same one wraps sync and async handlers alike
        """
        if on not in ("handler", "publish"):
            raise ValueError(f"on must be 'handler' or 'publish', not {on!r}")
        check_middleware(middleware)
        return self._table.use(middleware, on)

    def close(self) -> None:
        """Stop the bus's own event loop, if a sync publish started one. Subscriptions stay;
        a later publish that needs the loop starts a new one."""
        self._loop.stop()

    def __enter__(self) -> EventBus:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @overload
    async def wait_for(
        self,
        pattern: type[E],
        *,
        timeout: float | None = 10.0,
        where: Callable[[E], bool] | None = None,
    ) -> E: ...

    @overload
    async def wait_for(
        self,
        pattern: str,
        *,
        timeout: float | None = 10.0,
        where: Callable[[Event[Any]], bool] | None = None,
    ) -> Event[Any]: ...

    async def wait_for(
        self,
        pattern: Pattern,
        *,
        timeout: float | None = 10.0,
        where: Callable[[Any], bool] | None = None,
    ) -> Event[Any]:
        """Return the next event matching ``pattern`` (and the predicate ``where``).

        Works on asyncio and trio, whichever thread publishes. Start waiting before the
        publish you expect (for example in a task group): the waiter watches publishes from
        then on. It is not a subscription: no result counts it, ``subscriptions`` lists none.

        :param timeout: seconds to wait; ``None`` waits forever
        :raises TimeoutError: no matching event within ``timeout``
        """
        return await wait_for_event(self, pattern, timeout=timeout, where=where)

    def _observe(self, observer: Observer) -> Callable[[], None]:
        """The older private hook: ``observer.published(event)`` as each publish starts and
        ``observer.finished(result)`` as it ends; returns the function that stops it."""
        return self.use(observer_middleware(observer), on="publish")

    def __repr__(self) -> str:
        return f"<EventBus subscriptions={len(self._table.live())}>"
