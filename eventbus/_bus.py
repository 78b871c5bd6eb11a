"""The event bus: who listens to what, and publishing to them."""

from __future__ import annotations

import threading
import weakref
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar, overload

import anyio
import anyio.from_thread

from ._dispatch import (
    Route,
    deliver_async,
    deliver_fast,
    deliver_sync,
    in_event_loop,
    record_failure,
)
from ._envelope import Event, current_event
from ._exceptions import (
    AsyncHandlersInSyncPublishError,
    DuplicateHandlerNameError,
    InvalidPatternError,
)
from ._result import HandlerFailure, PublishResult
from ._subscription import Handler, Subscription, handler_qualname, is_async_callable, reference
from ._topics import compile_pattern, is_wildcard, validate_event_type

F = TypeVar("F", bound=Callable[..., Any])

ALL = "**"
#: Routes are cached per event type; past this many distinct types the cache starts over, so
#: a stream of made-up types (say, from a webhook) cannot grow memory without bound.
_MAX_ROUTES = 4096
_set_current = current_event.set
_reset_current = current_event.reset


class EventBus:
    """Publish/subscribe inside one process.

    Handlers subscribe to an exact type (``invoice.paid``), a wildcard pattern
    (``customer.subscription.*``, ``customer.**``) or everything; plain functions and
    ``async def`` functions alike.

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
        self._lock = threading.RLock()
        self._seq = 0
        self._exact: dict[str, list[Subscription]] = defaultdict(list)
        self._wildcards: list[tuple[Callable[[str], bool], Subscription]] = []
        self._live: set[Subscription] = set()
        self._explicit_names: set[str] = set()
        self._name_counts: dict[str, int] = defaultdict(int)
        self._routes: dict[str, Route] = {}

    # -- subscribing -------------------------------------------------------------------

    @overload
    def subscribe(
        self,
        pattern: str,
        handler: Handler,
        /,
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
        pattern: str | Handler,
        handler: Handler | None = None,
        /,
        *,
        priority: int = 0,
        once: bool = False,
        weak: bool = False,
        name: str | None = None,
    ) -> Subscription:
        """Call ``handler(event)`` for every event whose type matches ``pattern``.

        ``subscribe(handler)`` alone receives every event. Each call is a subscription of its
        own, even for a handler already subscribed.

        :param pattern: an event type or a wildcard pattern (``*`` one segment, ``**`` any)
        :param handler: a function or ``async def`` function taking the event
        :param priority: higher runs first; equal priorities run in subscription order
        :param once: end the subscription after its first delivery (even under concurrent
            publishes, it is delivered at most once)
        :param weak: hold a function or bound method weakly and end the subscription when it
            is garbage collected (the default holds it strongly, so lambdas and closures work)
        :param name: a stable key for this subscription (the webhook adapter records
            per-handler completion under it); defaults to the handler's qualified name, with
            ``#2``, ``#3``... appended for later subscriptions sharing one
        :raises InvalidPatternError: the pattern is malformed
        :raises DuplicateHandlerNameError: ``name`` is taken by a live subscription
        """
        if handler is None:
            pattern, handler = ALL, pattern  # type: ignore[assignment]
        if not isinstance(pattern, str):
            raise InvalidPatternError(repr(pattern), "expected a string pattern")
        if not callable(handler):
            raise TypeError(f"handler must be callable, got {handler!r}")
        matcher = compile_pattern(pattern)
        return self._add(
            pattern, matcher, handler, priority=priority, once=once, weak=weak, name=name
        )

    @overload
    def on(self, pattern: F, /) -> F: ...

    @overload
    def on(
        self,
        pattern: str = ALL,
        /,
        *,
        priority: int = 0,
        once: bool = False,
        name: str | None = None,
    ) -> Callable[[F], F]: ...

    def on(
        self,
        pattern: str | F = ALL,
        /,
        *,
        priority: int = 0,
        once: bool = False,
        name: str | None = None,
    ) -> F | Callable[[F], F]:
        """Decorator form of :meth:`subscribe`; returns the function unchanged.

        ``@bus.on("invoice.paid")`` subscribes to one type; ``@bus.on`` or ``@bus.on()``
        to every event.
        """
        if callable(pattern):
            self.subscribe(ALL, pattern)
            return pattern

        def decorate(handler: F) -> F:
            self.subscribe(pattern, handler, priority=priority, once=once, name=name)
            return handler

        return decorate

    def unsubscribe(self, subscription: Subscription, /) -> None:
        """End ``subscription``; unsubscribing twice, or after ``once`` fired, does nothing."""
        with self._lock:
            if subscription not in self._live:
                return
            self._live.discard(subscription)
            self._explicit_names.discard(subscription.name)
            if is_wildcard(subscription.pattern):
                self._wildcards = [pair for pair in self._wildcards if pair[1] is not subscription]
            else:
                self._exact[subscription.pattern].remove(subscription)
                if not self._exact[subscription.pattern]:
                    del self._exact[subscription.pattern]
            self._routes = {}

    def is_subscribed(self, subscription: Subscription, /) -> bool:
        """Tell whether ``subscription`` is still live on this bus."""
        return subscription in self._live

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        """Every live subscription, in subscription order."""
        with self._lock:
            return tuple(sorted(self._live, key=lambda sub: sub._seq))

    def handlers_for(self, event_type: str, /) -> tuple[Subscription, ...]:
        """The subscriptions an event of ``event_type`` would reach, in delivery order."""
        return self._route(validate_event_type(event_type)).subscriptions

    def _add(
        self,
        pattern: str,
        matcher: Callable[[str], bool],
        handler: Handler,
        *,
        priority: int,
        once: bool,
        weak: bool,
        name: str | None,
        event_class: type | None = None,
    ) -> Subscription:
        box: list[Subscription] = []
        bus_ref = weakref.ref(self)

        def on_dead(_: object) -> None:
            bus = bus_ref()
            if bus is not None and box:
                bus.unsubscribe(box[0])

        ref = reference(handler, weak=weak, on_dead=on_dead)
        with self._lock:
            self._seq += 1
            sub = Subscription(
                pattern=pattern,
                name=self._claim_name(name, handler),
                priority=priority,
                once=once,
                weak=weak,
                is_async=is_async_callable(handler),
                event_class=event_class,
                _ref=ref,
                _bus=self,
                _seq=self._seq,
            )
            box.append(sub)
            self._live.add(sub)
            if is_wildcard(pattern):
                self._wildcards.append((matcher, sub))
            else:
                self._exact[pattern].append(sub)
            self._routes = {}
        return sub

    def _claim_name(self, name: str | None, handler: Handler) -> str:
        if name is not None:
            if name in self._explicit_names:
                raise DuplicateHandlerNameError(name)
            self._explicit_names.add(name)
            return name
        base = handler_qualname(handler)
        self._name_counts[base] += 1
        count = self._name_counts[base]
        return base if count == 1 else f"{base}#{count}"

    def _claim(self, sub: Subscription) -> Handler | None:
        """The handler to call for ``sub`` now, or ``None`` if it ended or was collected."""
        handler = sub._ref()
        if handler is None or not sub.once:
            return handler
        with self._lock:
            if sub not in self._live:
                return None
            self.unsubscribe(sub)
        return handler

    def _route(self, event_type: str) -> Route:
        with self._lock:
            routes = self._routes
            route = routes.get(event_type)
            if route is None:
                matched = list(self._exact.get(event_type, ()))
                matched += [sub for match, sub in self._wildcards if match(event_type)]
                route = Route(matched)
                if len(routes) >= _MAX_ROUTES:
                    routes.clear()
                routes[event_type] = route
            return route

    # -- publishing --------------------------------------------------------------------

    def build(self, event_type: str, data: Any = None, /) -> Event[Any]:
        """Build the event that publishing ``event_type`` with ``data`` would deliver.

        :raises InvalidEventTypeError: the type is malformed
        """
        validate_event_type(event_type)
        return Event(type=event_type, data={} if data is None else data)

    def _event(self, event_or_type: Event[Any] | str, data: Any) -> Event[Any]:
        if isinstance(event_or_type, Event):
            if data is not None:
                raise TypeError(
                    "data is only used with a type string; put it in the Event you publish"
                )
            return event_or_type
        return self.build(event_or_type, data)

    def publish(
        self,
        event_or_type: Event[Any] | str,
        data: Mapping[str, Any] | Any = None,
        /,
        *,
        raise_errors: bool | None = None,
    ) -> PublishResult:
        """Deliver an event to every matching handler, from sync code.

        Passing a type string builds the :class:`Event` (with ``data``, default ``{}``);
        passing an ``Event`` publishes it as is. Async handlers run to completion too: on a
        fresh event loop when none runs in this thread, or on the host loop from an anyio
        worker thread.

        :param raise_errors: raise :class:`PublishError` after every handler ran if any raised
            (default: the bus's ``raise_errors``)
        :raises AsyncHandlersInSyncPublishError: called inside a running event loop while
            async handlers match; nothing was delivered; ``await publish_async`` instead
        """
        # The common case, a built event to plain sync handlers, is spelled out inline:
        # every call saved here is paid on each publish.
        event = event_or_type if data is None and type(event_or_type) is not str else None
        if event is None or not isinstance(event, Event):
            event = self._event(event_or_type, data)
        route = self._routes.get(event.type)
        if route is None:
            route = self._route(event.type)
        fast = route.fast
        if fast is not None:
            failures: list[HandlerFailure] = []
            token = _set_current(event)
            try:
                for sub, handler in fast:
                    try:
                        handler(event)
                    except Exception as exc:
                        record_failure(failures, event, sub, handler, exc)
            finally:
                _reset_current(token)
            result = PublishResult(event, len(fast), failures)
        elif route.async_names:
            result = self._publish_async_from_sync(event, route)
        else:
            result = deliver_sync(event, route, self._claim)
        if result.errors and (self.raise_errors if raise_errors is None else raise_errors):
            result.raise_for_errors()
        return result

    def _publish_async_from_sync(self, event: Event[Any], route: Route) -> PublishResult:
        if in_event_loop():
            raise AsyncHandlersInSyncPublishError(event.type, route.async_names)
        try:
            return anyio.from_thread.run(self._deliver_async, event, route)
        except anyio.NoEventLoopError:
            pass  # not in an anyio worker thread: no loop to borrow, so run one here
        return anyio.run(self._deliver_async, event, route)

    async def _deliver_async(self, event: Event[Any], route: Route) -> PublishResult:
        return await deliver_async(
            event, route, self._claim, sync_in_thread=self.sync_handlers == "thread"
        )

    async def publish_async(
        self,
        event_or_type: Event[Any] | str,
        data: Mapping[str, Any] | Any = None,
        /,
        *,
        raise_errors: bool | None = None,
    ) -> PublishResult:
        """Deliver an event to every matching handler, from async code (asyncio or trio).

        Async handlers run concurrently in one anyio task group (a single one is awaited
        directly) and this returns when all have finished. Sync handlers run as the bus's
        ``sync_handlers`` says: inline in route order by default, or in worker threads.

        :param raise_errors: as for :meth:`publish`
        """
        event = self._event(event_or_type, data)
        route = self._routes.get(event.type) or self._route(event.type)
        if route.fast is not None and self.sync_handlers == "inline":
            result = deliver_fast(event, route.fast)
        else:
            result = await self._deliver_async(event, route)
        if result.errors and (self.raise_errors if raise_errors is None else raise_errors):
            result.raise_for_errors()
        return result

    def __repr__(self) -> str:
        return f"<EventBus subscriptions={len(self._live)}>"
