"""Waiting, in async code, for the next event that matches a pattern."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

import anyio
import anyio.from_thread
import anyio.lowlevel

from ._envelope import Event
from ._loop import in_event_loop
from ._middleware import PublishCall
from ._registry import declared_types
from ._topics import compile_pattern

if TYPE_CHECKING:
    from ._bus import EventBus, Pattern


async def wait_for_event(
    bus: EventBus,
    pattern: Pattern,
    *,
    timeout: float | None,
    where: Callable[[Any], bool] | None,
) -> Event[Any]:
    """Return the next event matching ``pattern`` (and ``where``) published on ``bus``.

    The event may be published from this task's loop or from any other thread. The waiter
    watches publishes (``bus.use(..., on="publish")``): it is not a subscription, so it is
    never counted in a publish's result nor listed in ``bus.subscriptions``. Waiting for a
    typed class registers it, as subscribing to it would.

    :raises TimeoutError: none arrived within ``timeout`` seconds
    :raises Exception: whatever ``where`` raised (the publish itself is not affected)
    """
    arrived = anyio.Event()
    found: list[Event[Any]] = []
    problems: list[Exception] = []
    loop_thread = threading.get_ident()
    token = anyio.lowlevel.current_token()
    closed = False
    match = _matcher(bus, pattern)

    def watch(call: PublishCall) -> AbstractContextManager[object]:
        if match(call.event):
            catch(call.event)
        return nullcontext()

    def catch(event: Event[Any]) -> None:
        # A publish already under way in another thread may call this after the wait ended.
        if closed or found or problems:
            return
        try:
            if where is not None and not where(event):
                return
            found.append(event)
        except Exception as exc:  # the predicate's bug belongs to the waiter, not the publisher
            problems.append(exc)
        if threading.get_ident() == loop_thread:
            arrived.set()
        elif in_event_loop():
            # A loop of its own runs here, and must not block on the waiter's: wake it
            # from a short-lived thread instead.
            threading.Thread(target=wake, daemon=True).start()
        else:
            wake()

    def wake() -> None:
        with contextlib.suppress(anyio.RunFinishedError):  # the waiting loop is gone
            anyio.from_thread.run_sync(arrived.set, token=token)

    stop = bus.use(watch, on="publish")
    try:
        with anyio.move_on_after(timeout):
            await arrived.wait()
    finally:
        closed = True
        stop()
    if problems:
        raise problems[0]
    if not found:
        raise TimeoutError(f"no event matching {pattern!r} was published within {timeout} s")
    return found[0]


def _matcher(bus: EventBus, pattern: Pattern) -> Callable[[Event[Any]], bool]:
    """What a waited-for event must satisfy: its type matches, and it is of the class."""
    if isinstance(pattern, str):
        match_type = compile_pattern(pattern)
        return lambda event: match_type(event.type)
    bus.register(pattern)
    types = declared_types(pattern)
    tests = [compile_pattern(one) for one in types]
    return lambda event: isinstance(event, pattern) and any(test(event.type) for test in tests)
