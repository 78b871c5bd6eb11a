"""Delivering one event to the handlers its route lists: one sync and one async function.

Every handler call of a bus happens in :func:`deliver_sync` or :func:`deliver_async` (the
handlers there are already wrapped by the bus's middleware). The rules both keep:

- handlers run in route order, each isolated: an :class:`Exception` is logged and recorded in
  the result, and the others still run;
- a :class:`BaseException` that is not an ``Exception`` (``KeyboardInterrupt``,
  ``SystemExit``) propagates as itself, after the concurrent handlers were cancelled;
- on async delivery, a handler raising ``asyncio.CancelledError`` while the publish is not
  being cancelled has failed (:class:`HandlerCancelledError`); a cancelled publish cancels its
  handlers and propagates.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from ._envelope import Event, current_event
from ._exceptions import HandlerCancelledError
from ._loop import on_asyncio
from ._result import HandlerFailure, PublishResult

if TYPE_CHECKING:
    from ._routing import Route, Targets
    from ._subscription import Handler, Subscription

logger = logging.getLogger("eventbus")
_set_current = current_event.set
_reset_current = current_event.reset
_new_result = object.__new__


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


def deliver_sync(event: Event[Any], route: Route, skip: Collection[str]) -> PublishResult:
    """Call the handlers of a route without async handlers, in order, in this thread."""
    targets = route.calls
    if targets is None or skip:
        targets = route.targets(skip)
        called = tuple(sub for sub, _ in targets)
    else:
        called = route.subscriptions
    failures: list[HandlerFailure] = []
    token = _set_current(event)
    try:
        for sub, handler in targets:
            try:
                handler(event)
            except Exception as exc:
                record_failure(failures, event, sub, handler, exc)
    finally:
        _reset_current(token)
    result = _new_result(PublishResult)  # slot stores: cheaper than calling __init__
    result.event = event
    result.called = called
    result.errors = failures
    return result


async def deliver_async(
    event: Event[Any], route: Route, skip: Collection[str], sync_in_thread: bool
) -> PublishResult:
    """Run a route's handlers; async ones (and sync ones, if ``sync_in_thread``) concurrently.

    Each handler starts in route order: a concurrent one runs up to its first suspension
    before the next handler starts, and a sync one runs inline when its turn comes. Returns
    when every handler has finished. A route of one async handler awaits it directly.
    """
    solo = route.solo
    if solo is not None and not skip:
        sub, handler = solo
        failures: list[HandlerFailure] = []
        token = _set_current(event)
        try:
            await handler(event)
        except Exception as exc:
            record_failure(failures, event, sub, handler, exc)
        except BaseException as exc:
            if not _stray_cancel(exc):
                raise
            record_failure(failures, event, sub, handler, HandlerCancelledError(sub.name, exc))
        finally:
            _reset_current(token)
        result = _new_result(PublishResult)
        result.event = event
        result.called = route.subscriptions
        result.errors = failures
        return result
    targets = route.targets(skip)
    delivery = _Delivery(event, sync_in_thread)
    token = _set_current(event)
    try:
        if not sync_in_thread and not any(sub.is_async for sub, _ in targets):
            for position, (sub, handler) in enumerate(targets):
                delivery.call(position, sub, handler)
        elif on_asyncio():
            await delivery.run_on_asyncio(targets)
        else:
            await delivery.run_on_trio(targets)
    finally:
        _reset_current(token)
    return PublishResult(event, route.called(targets), delivery.failures())


def is_cancellation(exc: BaseException) -> bool:
    """Tell whether ``exc`` is the async backend cancelling the publish (``asyncio``'s
    ``CancelledError`` while the task is being cancelled, or ``trio.Cancelled``), as opposed
    to a failure of the handler it came out of."""
    if isinstance(exc, asyncio.CancelledError):
        return not _stray_cancel(exc)
    trio = sys.modules.get("trio")  # only a trio run can have raised trio.Cancelled
    return trio is not None and isinstance(exc, trio.Cancelled)


def _stray_cancel(exc: BaseException) -> bool:
    """Tell whether ``exc`` is a ``CancelledError`` a handler raised while nothing cancelled
    the task running it (a bug of the handler, not a cancellation of the publish)."""
    if not isinstance(exc, asyncio.CancelledError):
        return False
    task = asyncio.current_task() if on_asyncio() else None
    return task is None or task.cancelling() == 0


class _AbortError(Exception):
    """Raised in a handler's task to make its task group cancel the others; the
    ``BaseException`` that caused it is raised once the group has finished."""


class _Delivery:
    """The state of one async delivery: the failures so far, and a fatal exception."""

    __slots__ = ("event", "fatal", "found", "in_thread")

    def __init__(self, event: Event[Any], in_thread: bool) -> None:
        self.event = event
        self.in_thread = in_thread
        self.found: list[tuple[int, HandlerFailure]] = []
        self.fatal: BaseException | None = None

    def failures(self) -> list[HandlerFailure]:
        """The failures in route order (concurrent handlers finish in any order)."""
        self.found.sort(key=lambda pair: pair[0])
        return [failure for _, failure in self.found]

    def _fail(self, position: int, sub: Subscription, handler: Handler, exc: Exception) -> None:
        failures: list[HandlerFailure] = []
        record_failure(failures, self.event, sub, handler, exc)
        self.found.append((position, failures[0]))

    def _concurrent(self, sub: Subscription) -> bool:
        return sub.is_async or self.in_thread

    def call(self, position: int, sub: Subscription, handler: Handler) -> None:
        """Call a sync handler inline."""
        try:
            handler(self.event)
        except Exception as exc:
            self._fail(position, sub, handler, exc)
        except BaseException as exc:
            self.fatal = exc
            raise

    async def run(self, position: int, sub: Subscription, handler: Handler) -> None:
        """Run a concurrent handler (in its own task) to completion."""
        try:
            if sub.is_async:
                await handler(self.event)
            else:
                await anyio.to_thread.run_sync(handler, self.event)
        except Exception as exc:
            self._fail(position, sub, handler, exc)
        except BaseException as exc:
            if _stray_cancel(exc):
                self._fail(position, sub, handler, HandlerCancelledError(sub.name, exc))
            elif isinstance(exc, anyio.get_cancelled_exc_class()):
                raise
            else:
                self.fatal = exc
                raise _AbortError from None

    def _raise_fatal(self) -> None:
        if self.fatal is not None:
            raise self.fatal from None

    async def run_on_asyncio(self, targets: Targets) -> None:
        """Start the handlers in one ``asyncio.TaskGroup``; tasks start in creation order,
        and a sync handler after concurrent ones waits until they have started."""
        started = True
        try:
            async with asyncio.TaskGroup() as group:
                for position, (sub, handler) in enumerate(targets):
                    if self._concurrent(sub):
                        group.create_task(self.run(position, sub, handler))
                        started = False
                        continue
                    if not started:
                        await asyncio.sleep(0)
                        started = True
                    self.call(position, sub, handler)
        except BaseExceptionGroup:
            self._raise_fatal()
            raise

    async def run_on_trio(self, targets: Targets) -> None:
        """Start the handlers in one trio nursery. Trio runs new tasks in any order, so each
        waits for the one before it to have started."""
        import trio

        previous: trio.Event | None = None
        try:
            async with trio.open_nursery() as nursery:
                for position, (sub, handler) in enumerate(targets):
                    if self._concurrent(sub):
                        turn = trio.Event()
                        nursery.start_soon(
                            self._run_in_turn, previous, turn, position, sub, handler
                        )
                        previous = turn
                        continue
                    if previous is not None:
                        await previous.wait()
                        previous = None
                    self.call(position, sub, handler)
        except BaseExceptionGroup:
            self._raise_fatal()
            raise

    async def _run_in_turn(
        self, previous: Any, turn: Any, position: int, sub: Subscription, handler: Handler
    ) -> None:
        if previous is not None:
            await previous.wait()
        # The next handler's task wakes now but runs only once this one first suspends.
        turn.set()
        await self.run(position, sub, handler)
