"""Waiting, in async code, for the next event that matches a pattern."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
import anyio.from_thread
import anyio.lowlevel

from ._envelope import Event

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

    The event may be published from this task's loop or from any other thread.

    :raises TimeoutError: none arrived within ``timeout`` seconds
    """
    arrived = anyio.Event()
    found: list[Event[Any]] = []
    loop_thread = threading.get_ident()
    token = anyio.lowlevel.current_token()

    closed = False

    def catch(event: Event[Any]) -> None:
        # A publish already under way in another thread may call this after the wait ended.
        if closed or found or (where is not None and not where(event)):
            return
        found.append(event)
        if threading.get_ident() == loop_thread:
            arrived.set()
            return
        try:
            anyio.from_thread.run_sync(arrived.set, token=token)
        except anyio.RunFinishedError:
            pass  # the waiting loop is gone: nobody is left to wake

    with bus.subscribe(pattern, catch):
        try:
            with anyio.move_on_after(timeout):
                await arrived.wait()
        finally:
            closed = True
    if not found:
        raise TimeoutError(f"no event matching {pattern!r} was published within {timeout} s")
    return found[0]
