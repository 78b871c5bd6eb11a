"""The subscription table of a bus and the per-type routes computed from it.

A :class:`Route` is computed once per event type and cached, so a publish is a dict look-up
and a loop over a tuple. All changes happen under one lock and drop only the cached routes
they can affect, so a publish sees a route computed entirely before a change or entirely
after it. The cache dict itself is never replaced: the bus keeps a direct reference to it.
"""

from __future__ import annotations

import threading
import weakref
from collections import defaultdict
from collections.abc import Callable, Collection
from itertools import islice
from typing import TYPE_CHECKING, Literal

from ._exceptions import DuplicateHandlerNameError, EventClassConflictError
from ._index import PatternIndex
from ._middleware import HandlerMiddleware, PublishMiddleware, wrap_handler
from ._registry import EventClass, Registry, declared_types
from ._subscription import Handler, Subscription, handler_qualname, is_async_callable, reference
from ._topics import compile_pattern

if TYPE_CHECKING:
    from ._bus import EventBus

Targets = tuple[tuple[Subscription, Handler], ...]

#: Routes cached per bus. Past this many types the oldest-cached eighth is set aside, and the
#: batch set aside before it dropped, so a stream of made-up types (say, from a webhook)
#: cannot grow memory without bound. A type published again while set aside is put back
#: without being recomputed: the types in steady use stay (least recently used, roughly),
#: and a cache hit costs one dict look-up, no bookkeeping.
MAX_ROUTES = 4096


class Route:
    """The handlers one event type reaches, in delivery order, ready to call.

    :ivar subscriptions: every matching subscription, highest priority first, then oldest
    :ivar calls: ``(subscription, handler)`` pairs, the handler wrapped by the bus's
        middleware, when every handler is strongly held and not ``once``; else ``None``
        (each handler is then claimed when called)
    :ivar direct: ``calls`` when a sync publish may call them straight away: no async
        handler, no typed class to validate into, no publish middleware; else ``None``
    :ivar solo: the pair when the route is one async handler in ``calls``; else ``None``
    :ivar async_names: names of the async handlers, for the error a sync publish raises
    :ivar event_class: the typed class registered for the type, or ``None``
    :ivar publish_middleware: the bus's publish middleware when the route was built
    """

    __slots__ = (
        "_table",
        "async_names",
        "calls",
        "direct",
        "event_class",
        "publish_middleware",
        "solo",
        "subscriptions",
    )

    def __init__(
        self,
        table: RoutingTable,
        subscriptions: tuple[Subscription, ...],
        event_class: type | None,
    ) -> None:
        """Wrap ``subscriptions`` (in delivery order) with the table's current middleware."""
        self._table = table
        self.subscriptions = subscriptions
        self.event_class = event_class
        self.publish_middleware = table.publish_middleware
        self.async_names = tuple(sub.name for sub in subscriptions if sub.is_async)
        plain = not any(sub.once or sub.weak for sub in subscriptions)
        self.calls: Targets | None = (
            tuple((sub, table.wrap(sub, sub._ref())) for sub in subscriptions)  # type: ignore[arg-type]
            if plain
            else None
        )
        simple = event_class is None and not self.async_names and not self.publish_middleware
        self.direct = self.calls if simple else None
        self.solo = (
            self.calls[0]
            if self.calls is not None and len(self.calls) == 1 and self.async_names
            else None
        )

    @classmethod
    def of(
        cls, table: RoutingTable, subscriptions: list[Subscription], event_class: type | None
    ) -> Route:
        """The route of the matching ``subscriptions``: highest priority first, then oldest."""
        subscriptions.sort(key=lambda sub: (-sub.priority, sub._seq))
        return cls(table, tuple(subscriptions), event_class)

    def rewrapped(self) -> Route:
        """This route's subscriptions wrapped with the table's current middleware."""
        return Route(self._table, self.subscriptions, self.event_class)

    def targets(self, skip: Collection[str]) -> Targets:
        """The ``(subscription, handler)`` pairs to call now, leaving out ``skip``'s names,
        ended subscriptions and collected handlers (and ending ``once`` ones)."""
        calls = self.calls
        if calls is not None:
            return tuple(pair for pair in calls if pair[0].name not in skip) if skip else calls
        return self._table.claim_all(self.subscriptions, skip)

    def called(self, targets: Targets) -> tuple[Subscription, ...]:
        """The subscriptions of ``targets``, as a publish result lists them."""
        if targets is self.calls:
            return self.subscriptions
        return tuple(sub for sub, _ in targets)


class RoutingTable:
    """Who is subscribed to what on one bus, the bus's middleware, and the cached routes."""

    def __init__(self, bus: EventBus) -> None:
        self.lock = threading.RLock()
        self.registry = Registry()
        self.routes: dict[str, Route] = {}
        self._set_aside: dict[str, Route] = {}
        #: routes of types with no exact subscription or class, by shape (see _compute)
        self._by_shape: dict[tuple[str | None, ...], Route] = {}
        #: every literal segment of a pattern, subscribed or registered, mapped to itself
        self._literals: dict[str, str] = {}
        self.bus_ref = weakref.ref(bus)
        self.handler_middleware: tuple[HandlerMiddleware, ...] = ()
        self.publish_middleware: tuple[PublishMiddleware, ...] = ()
        #: one unique token per ``use()`` registration, in step with each middleware tuple
        self._tokens: dict[str, tuple[object, ...]] = {
            "handler_middleware": (),
            "publish_middleware": (),
        }
        self._seq = 0
        self._exact: dict[str, list[Subscription]] = defaultdict(list)
        self._wildcards: PatternIndex[Subscription] = PatternIndex()
        self._live: dict[Subscription, None] = {}
        self._names: set[str] = set()
        self._name_counts: dict[str, int] = defaultdict(lambda: 1)

    # -- subscriptions -----------------------------------------------------------------

    def add(
        self,
        pattern: str,
        handler: Handler,
        *,
        priority: int,
        once: bool,
        weak: bool,
        name: str | None,
        event_class: EventClass | None = None,
    ) -> Subscription:
        """Subscribe ``handler`` to ``pattern`` (validated already): an exact type, a
        wildcard pattern, or several exact types joined by ``|`` (a typed class's)."""
        box: list[Subscription] = []  # lets a weak reference's callback find its subscription
        on_dead = (lambda _: self._drop(box)) if weak else None
        ref = reference(handler, weak=weak, on_dead=on_dead)
        is_async = is_async_callable(handler)
        with self.lock:
            if event_class is not None:
                self._register(event_class)
            self._seq += 1
            sub = Subscription(
                pattern=pattern,
                name=self._claim_name(name, handler),
                priority=priority,
                once=once,
                weak=weak,
                is_async=is_async,
                event_class=event_class,
                _ref=ref,
                _bus_ref=self.bus_ref,
                _seq=self._seq,
            )
            if weak:
                box.append(sub)
            self._live[sub] = None
            self._file(sub, add=True)
        return sub

    def _file(self, sub: Subscription, *, add: bool) -> None:
        """Add ``sub`` to (or take it out of) its index, and drop the routes it changes.

        Shared routes by shape hold only wildcard subscriptions and depend on the wildcard
        patterns' literals, so only a wildcard pattern drops them.
        """
        if "*" in sub.pattern:  # a wildcard pattern
            self._by_shape.clear()
            if add:
                self._wildcards.add(sub.pattern, sub)
            else:
                self._wildcards.remove(sub.pattern, sub)
            self._collect_literals()
            match = compile_pattern(sub.pattern)
            for cached in (self.routes, self._set_aside):
                for event_type in [t for t in cached if match(t)]:
                    del cached[event_type]
            return
        for event_type in sub.pattern.split("|") if "|" in sub.pattern else (sub.pattern,):
            subs = self._exact[event_type]
            if add:
                subs.append(sub)
            else:
                subs.remove(sub)
                if not subs:
                    del self._exact[event_type]
            self.routes.pop(event_type, None)
            self._set_aside.pop(event_type, None)

    def _drop(self, box: list[Subscription]) -> None:
        if box:
            self.remove(box[0])

    def _claim_name(self, name: str | None, handler: Handler) -> str:
        """Give the new subscription a name no live subscription has."""
        if name is not None:
            if name in self._names:
                raise DuplicateHandlerNameError(name)
        else:
            base = handler_qualname(handler)
            name = base
            while name in self._names:
                self._name_counts[base] += 1
                name = f"{base}#{self._name_counts[base]}"
        self._names.add(name)
        return name

    def remove(self, sub: Subscription) -> bool:
        """End ``sub``; return False if it had already ended."""
        with self.lock:
            if sub not in self._live:
                return False
            del self._live[sub]
            self._names.discard(sub.name)
            self._file(sub, add=False)
            return True

    def remove_handler(self, handler: Handler) -> int:
        """End every live subscription whose handler ``==`` ``handler``; return how many."""
        with self.lock:
            found = [sub for sub in self._live if sub._ref() == handler]
            return sum(self.remove(sub) for sub in found)

    def is_live(self, sub: Subscription) -> bool:
        """Tell whether ``sub`` is still subscribed."""
        return sub in self._live

    def live(self) -> tuple[Subscription, ...]:
        """Every live subscription, oldest first."""
        with self.lock:
            return tuple(self._live)

    # -- typed classes and middleware ------------------------------------------------

    def register(self, event_class: EventClass) -> None:
        """Register a typed class; routes are recomputed since their class may change."""
        with self.lock:
            self._register(event_class)
            self._forget_routes()

    def _forget_routes(self) -> None:
        self.routes.clear()
        self._set_aside.clear()
        self._by_shape.clear()
        self._collect_literals()

    def _collect_literals(self) -> None:
        literals = self._wildcards.literals | self.registry.literals()
        self._literals = {literal: literal for literal in literals}

    def _register(self, event_class: EventClass) -> None:
        """Register, refusing to hand handlers subscribed by class anything but that class.

        :raises EventClassConflictError: a live subscription's class stands for one of the
            same types and ``event_class`` does not subclass it
        """
        declared = set(declared_types(event_class))
        for sub in self._live:
            subscribed = sub.event_class
            if subscribed is None or issubclass(event_class, subscribed):
                continue
            shared = declared.intersection(declared_types(subscribed))
            if shared:
                raise EventClassConflictError(event_class, subscribed, min(shared))
        self.registry.register(event_class)

    def use(
        self, middleware: HandlerMiddleware | PublishMiddleware, on: Literal["handler", "publish"]
    ) -> Callable[[], None]:
        """Add a middleware (last added innermost); return the function that removes this
        one registration (a middleware added twice stays once), doing nothing if called again.

        The cached routes are rewrapped, not recomputed: which subscriptions a type reaches
        does not depend on middleware.
        """
        field = "publish_middleware" if on == "publish" else "handler_middleware"
        token = object()  # this registration, told apart from the same middleware added again
        with self.lock:
            self._tokens[field] += (token,)
            setattr(self, field, (*getattr(self, field), middleware))
            self._rewrap()

        def remove() -> None:
            with self.lock:
                tokens = self._tokens[field]
                if token not in tokens:
                    return
                at = tokens.index(token)
                self._tokens[field] = tokens[:at] + tokens[at + 1 :]
                current = getattr(self, field)
                setattr(self, field, current[:at] + current[at + 1 :])
                self._rewrap()

        return remove

    def _rewrap(self) -> None:
        """Wrap every cached route with the current middleware; shared routes stay shared."""
        fresh: dict[int, Route] = {}
        for cached in (self.routes, self._set_aside, self._by_shape):
            for key, route in cached.items():
                if id(route) not in fresh:
                    fresh[id(route)] = route.rewrapped()
                cached[key] = fresh[id(route)]  # type: ignore[index]

    def wrap(self, sub: Subscription, handler: Handler) -> Handler:
        """``handler`` wrapped by the handler middleware (itself when there is none)."""
        middleware = self.handler_middleware
        if not middleware:
            return handler
        return wrap_handler(handler, sub.is_async, sub, self.bus_ref, middleware)

    # -- delivery ----------------------------------------------------------------------

    def claim_all(self, subs: tuple[Subscription, ...], skip: Collection[str]) -> Targets:
        """The pairs to call for ``subs`` now, leaving out ``skip``'s names.

        A ``once`` subscription is ended here, under the lock, so racing publishes deliver
        it at most once; a weakly held handler that was collected is left out.
        """
        out = []
        for sub in subs:
            if sub.name in skip:
                continue
            handler = sub._ref()
            if handler is None or (sub.once and not self.remove(sub)):
                continue
            out.append((sub, self.wrap(sub, handler)))
        return tuple(out)

    def route(self, event_type: str) -> Route:
        """The route of ``event_type`` (validated already), computed and cached on first use."""
        with self.lock:
            routes = self.routes
            route = routes.get(event_type)
            if route is None:
                route = self._set_aside.pop(event_type, None) or self._compute(event_type)
                if len(routes) >= MAX_ROUTES:
                    oldest = list(islice(routes, MAX_ROUTES // 8))
                    self._set_aside = {t: routes.pop(t) for t in oldest}
                routes[event_type] = route
            return route

    def _compute(self, event_type: str) -> Route:
        """Find the subscriptions ``event_type`` reaches: one exact look-up, one walk of the
        wildcard patterns.

        Without an exact subscription or class, the route depends only on which segments
        are literals of some pattern (subscribed or registered): types of one *shape*, the
        type with every other segment blanked, share one walk and one route.
        """
        exact = self._exact.get(event_type)
        segments = event_type.split(".")
        if exact is not None or event_type in self.registry.exact:
            matched = self._wildcards.matching(segments) + (exact or [])
            return Route.of(self, matched, self.registry.class_for(event_type))
        shape = tuple(map(self._literals.get, segments))  # None for any other segment
        route = self._by_shape.get(shape)
        if route is None:
            if len(self._by_shape) >= MAX_ROUTES:
                self._by_shape.clear()
            matched = self._wildcards.matching(shape)
            route = Route.of(self, matched, self.registry.class_for(event_type))
            self._by_shape[shape] = route
        return route
