"""Delivering one event to the handlers its type resolved to.

A :class:`Route` is computed once per event type (and again after any subscribe or
unsubscribe) so that a publish is a dict look-up and a loop over a tuple. Handlers that need
more than a call (``once``, ``weak``, ``async``) make their route take the general path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import anyio.to_thread

from ._envelope import Event, current_event
from ._loop import on_asyncio
from ._result import HandlerFailure, PublishResult

if TYPE_CHECKING:
    from ._subscription import Handler, Subscription

logger = logging.getLogger("eventbus")

Claim = Callable[["Subscription"], "Handler | None"]


class Route:
    """The handlers one event type reaches, in delivery order.

    :ivar subscriptions: every matching subscription, highest priority first, then oldest
    :ivar fast: ``(subscription, handler)`` pairs when every handler is a plain, strongly held,
        sync callable without ``once``; ``None`` otherwise
    :ivar direct: ``fast`` when no typed class is registered for the type, so a built event
        goes to the handlers as is; ``None`` otherwise
    :ivar solo: the ``(subscription, handler)`` pair when the route is one plain, strongly
        held async handler without ``once`` (awaited directly); ``None`` otherwise
    :ivar async_names: names of the async handlers, for the error a sync publish raises
    :ivar event_class: the typed class registered for the type, or ``None``
    """

    __slots__ = ("async_names", "direct", "event_class", "fast", "solo", "subscriptions")

    def __init__(self, subscriptions: list[Subscription], event_class: type | None) -> None:
        subscriptions.sort(key=lambda sub: (-sub.priority, sub._seq))
        self.subscriptions = tuple(subscriptions)
        self.event_class = event_class
        self.async_names = tuple(sub.name for sub in subscriptions if sub.is_async)
        plain = not any(sub.once or sub.weak or sub.is_async for sub in subscriptions)
        self.fast: tuple[tuple[Subscription, Handler], ...] | None = (
            tuple((sub, sub._ref()) for sub in subscriptions) if plain else None  # type: ignore[misc]
        )
        self.direct = self.fast if event_class is None else None
        only = subscriptions[0] if len(subscriptions) == 1 else None
        self.solo: tuple[Subscription, Handler] | None = (
            (only, only._ref())  # type: ignore[assignment]
            if only is not None and only.is_async and not (only.once or only.weak)
            else None
        )


def record_failure(
    failures: list[HandlerFailure],
    event: Event[Any],
    sub: Subscription,
    handler: Handler,
    exc: Exception,
) -> None:
    """Log a handler's exception with its traceback and add it to ``failures``."""
    logger.error("handler %s failed on %r event %s", sub.name, event.type, event.id, exc_info=exc)
    failures.append(HandlerFailure(handler, exc, sub))


def deliver_fast(event: Event[Any], route: Route) -> PublishResult:
    """Call a route's plain sync handlers in order, isolating each one's failure."""
    failures: list[HandlerFailure] = []
    token = current_event.set(event)
    try:
        for sub, handler in route.fast or ():
            try:
                handler(event)
            except Exception as exc:
                record_failure(failures, event, sub, handler, exc)
    finally:
        current_event.reset(token)
    return PublishResult(event, route.subscriptions, failures)


async def deliver_solo(event: Event[Any], route: Route) -> PublishResult:
    """Await a route's single async handler directly: no task group for one awaitable."""
    sub, handler = route.solo  # type: ignore[misc]
    failures: list[HandlerFailure] = []
    token = current_event.set(event)
    try:
        await handler(event)
    except Exception as exc:
        record_failure(failures, event, sub, handler, exc)
    finally:
        current_event.reset(token)
    return PublishResult(event, route.subscriptions, failures)


def deliver_sync(event: Event[Any], route: Route, claim: Claim) -> PublishResult:
    """Call every claimable sync handler of a route that has no async handler."""
    failures: list[HandlerFailure] = []
    called: list[Subscription] = []
    token = current_event.set(event)
    try:
        for sub in route.subscriptions:
            handler = claim(sub)
            if handler is None:
                continue
            called.append(sub)
            try:
                handler(event)
            except Exception as exc:
                record_failure(failures, event, sub, handler, exc)
    finally:
        current_event.reset(token)
    return PublishResult(event, tuple(called), failures)


async def deliver_async(
    event: Event[Any], route: Route, claim: Claim, *, sync_in_thread: bool
) -> PublishResult:
    """Run a route's handlers, each started in route order; async ones run concurrently.

    A sync handler (unless ``sync_in_thread``) runs inline when its turn comes. An async one
    is started in an anyio task group and runs until its first suspension before the next
    handler starts, so start order is the route's order on asyncio and trio alike. Returns
    when every handler has finished. A route whose only concurrent handler comes last needs
    no task group: it is awaited directly.
    """
    failures: list[tuple[int, HandlerFailure]] = []
    items = [
        (position, sub, handler)
        for position, sub in enumerate(route.subscriptions)
        if (handler := claim(sub)) is not None
    ]
    concurrent = [item for item in items if item[1].is_async or sync_in_thread]
    token = current_event.set(event)
    try:
        if len(concurrent) == 1 and concurrent[0] is items[-1]:
            for item in items[:-1]:
                _call_inline(failures, event, *item)
            await _run_one(failures, event, *items[-1])
        elif concurrent:
            await _run_concurrently(failures, event, items, sync_in_thread)
        else:
            for item in items:
                _call_inline(failures, event, *item)
    finally:
        current_event.reset(token)
    failures.sort(key=lambda pair: pair[0])
    called = tuple(sub for _, sub, _ in items)
    return PublishResult(event, called, [failure for _, failure in failures])


async def _run_concurrently(
    failures: list[tuple[int, HandlerFailure]],
    event: Event[Any],
    items: list[tuple[int, Subscription, Handler]],
    sync_in_thread: bool,
) -> None:
    """Start each handler in turn in one task group, and wait for all of them.

    Up to the last inline (sync) handler, each task is started with ``start`` so that it
    runs to its first suspension before the next handler. After it, waiting is not needed:
    asyncio runs new tasks in creation order, and on trio each task waits for its
    predecessor to begin, which costs less than a ``start`` round trip.
    """
    inline = [i for i, item in enumerate(items) if not (item[1].is_async or sync_in_thread)]
    tail = inline[-1] + 1 if inline else 0
    fifo = on_asyncio()
    previous: anyio.Event | None = None
    async with anyio.create_task_group() as group:
        for index, item in enumerate(items):
            if not (item[1].is_async or sync_in_thread):
                _call_inline(failures, event, *item)
            elif index < tail:
                await group.start(_run_one, failures, event, *item)
            elif fifo:
                group.start_soon(_run_one, failures, event, *item)
            else:
                turn = anyio.Event()
                group.start_soon(_run_in_turn, previous, turn, failures, event, *item)
                previous = turn


async def _run_in_turn(
    previous: anyio.Event | None,
    turn: anyio.Event,
    failures: list[tuple[int, HandlerFailure]],
    event: Event[Any],
    position: int,
    sub: Subscription,
    handler: Handler,
) -> None:
    if previous is not None:
        await previous.wait()
    # The next handler's task wakes now but runs only once this one first suspends.
    turn.set()
    await _run_one(failures, event, position, sub, handler)


def _call_inline(
    failures: list[tuple[int, HandlerFailure]],
    event: Event[Any],
    position: int,
    sub: Subscription,
    handler: Handler,
) -> None:
    try:
        handler(event)
    except Exception as exc:
        _record_at(failures, position, event, sub, handler, exc)


def _record_at(
    failures: list[tuple[int, HandlerFailure]],
    position: int,
    event: Event[Any],
    sub: Subscription,
    handler: Handler,
    exc: Exception,
) -> None:
    found: list[HandlerFailure] = []
    record_failure(found, event, sub, handler, exc)
    failures.append((position, found[0]))


async def _run_one(
    failures: list[tuple[int, HandlerFailure]],
    event: Event[Any],
    position: int,
    sub: Subscription,
    handler: Handler,
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    # started() before the call: the starter resumes only once this task first suspends,
    # that is after the handler ran up to its first await.
    task_status.started()
    try:
        if sub.is_async:
            await handler(event)
        else:
            await anyio.to_thread.run_sync(handler, event)
    except Exception as exc:
        _record_at(failures, position, event, sub, handler, exc)
