"""The subscription table of a bus and the per-type routes computed from it.

All changes happen under one lock and empty the route cache, so a publish either sees a
route computed entirely before a change or entirely after it. The cache dict itself is never
replaced: the bus keeps a direct reference to it for its publish path.
"""

from __future__ import annotations

import threading
import weakref
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._dispatch import Route
from ._exceptions import DuplicateHandlerNameError, EventClassConflictError
from ._registry import EventClass, Registry, declared_types
from ._subscription import Handler, Subscription, handler_qualname, is_async_callable, reference

if TYPE_CHECKING:
    from ._bus import EventBus

Matcher = Callable[[str], bool]

#: Routes are cached per event type; past this many distinct types the cache starts over, so
#: a stream of made-up types (say, from a webhook) cannot grow memory without bound.
MAX_ROUTES = 4096


class RoutingTable:
    """Who is subscribed to what on one bus, and the cached route of each type."""

    def __init__(self, bus: EventBus) -> None:
        self.lock = threading.RLock()
        self.registry = Registry()
        self.routes: dict[str, Route] = {}
        self._bus_ref = weakref.ref(bus)
        self._seq = 0
        self._exact: dict[str, list[Subscription]] = defaultdict(list)
        self._matchers: list[tuple[Matcher, Subscription]] = []
        self._live: set[Subscription] = set()
        self._names: set[str] = set()
        self._name_counts: dict[str, int] = defaultdict(lambda: 1)

    def add(
        self,
        pattern: str,
        matcher: Matcher | None,
        handler: Handler,
        *,
        priority: int,
        once: bool,
        weak: bool,
        name: str | None,
        event_class: EventClass | None = None,
    ) -> Subscription:
        """Subscribe ``handler``: indexed by ``pattern`` when ``matcher`` is ``None`` (an exact
        type), else tested with ``matcher`` against each type when its route is computed."""
        box: list[Subscription] = []
        ref = reference(handler, weak=weak, on_dead=lambda _: self._drop(box))
        bus = self._bus_ref()
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
                is_async=is_async_callable(handler),
                event_class=event_class,
                _ref=ref,
                _bus=bus,  # type: ignore[arg-type]
                _seq=self._seq,
                _matcher=matcher,
            )
            box.append(sub)
            self._live.add(sub)
            if matcher is None:
                self._exact[pattern].append(sub)
            else:
                self._matchers.append((matcher, sub))
            self.routes.clear()
        return sub

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
            self._live.discard(sub)
            self._names.discard(sub.name)
            if sub._matcher is None:
                subs = self._exact[sub.pattern]
                subs.remove(sub)
                if not subs:
                    del self._exact[sub.pattern]
            else:
                self._matchers = [pair for pair in self._matchers if pair[1] is not sub]
            self.routes.clear()
            return True

    def is_live(self, sub: Subscription) -> bool:
        """Tell whether ``sub`` is still subscribed."""
        return sub in self._live

    def live(self) -> tuple[Subscription, ...]:
        """Every live subscription, oldest first."""
        with self.lock:
            return tuple(sorted(self._live, key=lambda sub: sub._seq))

    def register(self, event_class: EventClass) -> None:
        """Register a typed class; routes are recomputed since their class may change."""
        with self.lock:
            self._register(event_class)
            self.routes.clear()

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

    def claim(self, sub: Subscription) -> Handler | None:
        """The handler to call for ``sub`` now, or ``None`` if it ended or was collected.

        A ``once`` subscription is ended here, under the lock, so racing publishes deliver
        it at most once.
        """
        handler = sub._ref()
        if handler is None or not sub.once:
            return handler
        return handler if self.remove(sub) else None

    def route(self, event_type: str) -> Route:
        """The route of ``event_type``, computed and cached on first use."""
        with self.lock:
            routes = self.routes
            route = routes.get(event_type)
            if route is None:
                matched = list(self._exact.get(event_type, ()))
                matched += [sub for match, sub in self._matchers if match(event_type)]
                route = Route(matched, self.registry.class_for(event_type))
                if len(routes) >= MAX_ROUTES:
                    routes.clear()
                routes[event_type] = route
            return route
