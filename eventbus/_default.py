"""The process-wide default bus, so one module can publish and another subscribe.

This mirrors the platform SDK's module-level ``EventBus``. ``use_bus`` swaps in another bus
for the length of a block, for tests; the swap is process-wide (every thread sees it), not
per task.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar, overload

from ._bus import ALL, EventBus
from ._envelope import Event
from ._result import PublishResult
from ._subscription import Handler, Subscription

F = TypeVar("F", bound=Callable[..., Any])
E = TypeVar("E", bound=Event[Any])
R = TypeVar("R")

_lock = threading.Lock()
_bus = EventBus()


def default_bus() -> EventBus:
    """Return the bus the module-level ``subscribe``, ``on`` and ``publish`` act on."""
    return _bus


@contextmanager
def use_bus(bus: EventBus, /) -> Iterator[EventBus]:
    """Make ``bus`` the default bus for the length of a ``with`` block, then restore the old one."""
    global _bus
    with _lock:
        previous, _bus = _bus, bus
    try:
        yield bus
    finally:
        with _lock:
            _bus = previous


@overload
def subscribe(
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
    handler: Handler,
    /,
    *,
    priority: int = 0,
    once: bool = False,
    weak: bool = False,
    name: str | None = None,
) -> Subscription: ...


def subscribe(
    pattern: Any,
    handler: Handler | None = None,
    *,
    priority: int = 0,
    once: bool = False,
    weak: bool = False,
    name: str | None = None,
) -> Subscription:
    """:meth:`EventBus.subscribe` on the default bus."""
    if handler is None:
        return _bus.subscribe(pattern, priority=priority, once=once, weak=weak, name=name)
    return _bus.subscribe(pattern, handler, priority=priority, once=once, weak=weak, name=name)


@overload
def on(
    pattern: type[E],
    *,
    priority: int = 0,
    once: bool = False,
    weak: bool = False,
    name: str | None = None,
) -> Callable[[Callable[[E], R]], Callable[[E], R]]: ...


@overload
def on(pattern: F, /) -> F: ...


@overload
def on(
    pattern: str = ALL,
    *,
    priority: int = 0,
    once: bool = False,
    weak: bool = False,
    name: str | None = None,
) -> Callable[[F], F]: ...


def on(
    pattern: Any = ALL,
    *,
    priority: int = 0,
    once: bool = False,
    weak: bool = False,
    name: str | None = None,
) -> Any:
    """:meth:`EventBus.on` on the default bus."""
    if callable(pattern) and not isinstance(pattern, type):
        return _bus.on(pattern)
    return _bus.on(pattern, priority=priority, once=once, weak=weak, name=name)


def publish(
    event_or_type: Event[Any] | str,
    data: Mapping[str, Any] | Any = None,
    *,
    raise_errors: bool | None = None,
    skip: Collection[str] = (),
) -> PublishResult:
    """:meth:`EventBus.publish` on the default bus."""
    return _bus.publish(event_or_type, data, raise_errors=raise_errors, skip=skip)


async def publish_async(
    event_or_type: Event[Any] | str,
    data: Mapping[str, Any] | Any = None,
    *,
    raise_errors: bool | None = None,
    skip: Collection[str] = (),
) -> PublishResult:
    """:meth:`EventBus.publish_async` on the default bus."""
    return await _bus.publish_async(event_or_type, data, raise_errors=raise_errors, skip=skip)
