"""Delivery rules every route shape keeps on both backends (issue 10, bugs 1 to 3)."""

from __future__ import annotations

import asyncio
import contextvars
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread
import pytest

from eventbus import Event, EventBus, HandlerCancelledError
from eventbus._envelope import current_event

BACKENDS = ["asyncio", "trio"]
user: contextvars.ContextVar[str] = contextvars.ContextVar("user", default="nobody")


def in_thread(work: Callable[[], Any]) -> BaseException | None:
    """Run ``work`` in a thread and return what it raised; a hang fails the test."""
    raised: list[BaseException | None] = [None]

    def body() -> None:
        try:
            work()
        except BaseException as exc:
            raised[0] = exc

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "the publish hung"
    return raised[0]


def interrupting_route(bus: EventBus, error: type[BaseException], log: list[str]) -> None:
    """An async handler raising ``error``, another async one, then a sync one."""

    sibling_started = anyio.Event()

    async def interrupt(event: Event[Any]) -> None:
        await sibling_started.wait()
        raise error

    async def sibling(event: Event[Any]) -> None:
        sibling_started.set()
        try:
            await anyio.sleep(5)
        finally:
            log.append("sibling ended")

    bus.subscribe("a.b", interrupt)
    bus.subscribe("a.b", sibling)
    bus.subscribe("a.b", lambda event: log.append("sync ran"))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("error", [KeyboardInterrupt, SystemExit])
def test_base_exception_from_an_async_handler_propagates_as_itself(
    backend: str, error: type[BaseException]
) -> None:
    """Bug 1: no hang, no group, no swallowing; the sibling is cancelled."""
    bus = EventBus()
    log: list[str] = []
    interrupting_route(bus, error, log)
    raised = in_thread(lambda: anyio.run(bus.publish_async, "a.b", backend=backend))
    assert type(raised) is error
    assert "sibling ended" in log


@pytest.mark.parametrize("error", [KeyboardInterrupt, SystemExit])
def test_base_exception_propagates_out_of_a_sync_publish(error: type[BaseException]) -> None:
    """Bug 1 on the sync path (the bus's own loop): the exception reaches the caller."""
    with EventBus() as bus:
        log: list[str] = []
        interrupting_route(bus, error, log)
        raised = in_thread(lambda: bus.publish("a.b"))
        assert type(raised) is error
        assert bus.publish("x.y").ok  # the bus still works


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", ["solo", "sync", "async-then-sync", "sync-then-async"])
def test_keyboard_interrupt_on_every_route_shape(backend: str, shape: str) -> None:
    bus = EventBus()

    async def interrupt_async(event: Event[Any]) -> None:
        await anyio.sleep(0)
        raise KeyboardInterrupt

    def interrupt_sync(event: Event[Any]) -> None:
        raise KeyboardInterrupt

    async def other(event: Event[Any]) -> None:
        await anyio.sleep(0)

    handlers = {
        "solo": [interrupt_async],
        "sync": [interrupt_sync, lambda event: None],
        "async-then-sync": [other, interrupt_sync],
        "sync-then-async": [interrupt_sync, other],
    }[shape]
    for handler in handlers:
        bus.subscribe("a.b", handler)
    raised = in_thread(lambda: anyio.run(bus.publish_async, "a.b", backend=backend))
    assert type(raised) is KeyboardInterrupt


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_handler_raising_cancelled_error_fails_alone(backend: str) -> None:
    """Bug 2: a stray CancelledError is that handler's failure; siblings finish."""
    bus = EventBus()
    done: list[str] = []

    async def stray(event: Event[Any]) -> None:
        raise asyncio.CancelledError

    async def sibling(event: Event[Any]) -> None:
        for _ in range(3):
            await anyio.sleep(0)
        done.append("sibling")

    bus.subscribe("a.b", stray, name="stray")
    bus.subscribe("a.b", sibling, name="sibling")
    result = anyio.run(bus.publish_async, "a.b", backend=backend)
    assert not result.ok
    assert [f.name for f in result.errors] == ["stray"]
    failure = result.errors[0].exception
    assert isinstance(failure, HandlerCancelledError)
    assert isinstance(failure.__cause__, asyncio.CancelledError)
    assert failure.name == "stray"
    assert done == ["sibling"]


def test_a_lone_handler_raising_cancelled_error_fails() -> None:
    bus = EventBus()

    async def stray(event: Event[Any]) -> None:
        raise asyncio.CancelledError

    bus.subscribe("a.b", stray)
    result = anyio.run(bus.publish_async, "a.b")
    assert [type(f.exception) for f in result.errors] == [HandlerCancelledError]


@pytest.mark.anyio
@pytest.mark.parametrize("count", [1, 2])
async def test_cancelling_the_publisher_cancels_its_handlers(count: int) -> None:
    bus = EventBus()
    started = anyio.Event()
    cancelled: list[int] = []

    async def wait_forever(event: Event[Any]) -> None:
        started.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            cancelled.append(1)
            raise

    for _ in range(count):
        bus.subscribe("a.b", wait_forever)
    async with anyio.create_task_group() as group:
        group.start_soon(bus.publish_async, "a.b")
        await started.wait()
        await anyio.wait_all_tasks_blocked()
        group.cancel_scope.cancel()
    assert cancelled == [1] * count


def test_a_sync_publish_reuses_one_loop_for_async_handlers() -> None:
    """Bug 3: an object bound to the loop of one publish works in the next."""
    made: list[asyncio.Queue[int]] = []
    loops: list[asyncio.AbstractEventLoop] = []

    async def handler(event: Event[Any]) -> None:
        loops.append(asyncio.get_running_loop())
        if not made:
            made.append(asyncio.Queue())
        await made[0].put(1)
        await made[0].get()  # a queue of another loop raises here

    with EventBus() as bus:
        bus.subscribe("a.b", handler)
        assert bus.publish("a.b").ok
        assert bus.publish("a.b").ok
        assert loops[0] is loops[1]


def test_the_bus_loop_runs_sync_handlers_in_order_with_the_callers_context() -> None:
    seen: list[tuple[str, str, str | None, int]] = []

    def record(name: str) -> Callable[[Event[Any]], None]:
        def handler(event: Event[Any]) -> None:
            parent = current_event.get()
            seen.append((name, user.get(), parent and parent.id, threading.get_ident()))

        return handler

    async def async_handler(event: Event[Any]) -> None:
        record("async")(event)

    with EventBus() as bus:
        bus.subscribe("a.b", record("first"))
        bus.subscribe("a.b", async_handler)
        bus.subscribe("a.b", record("last"))
        token = user.set("alice")
        try:
            result = bus.publish("a.b")
        finally:
            user.reset(token)
    assert [name for name, *_ in seen] == ["first", "async", "last"]
    assert {who for _, who, _, _ in seen} == {"alice"}
    assert {parent for _, _, parent, _ in seen} == {result.event.id}
    assert len({thread for *_, thread in seen}) == 1
    assert seen[0][3] != threading.get_ident()


def loop_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "eventbus-loop"}


def started_loop(before: set[threading.Thread]) -> threading.Thread:
    """The one bus loop thread started since ``before`` was taken."""
    [thread] = loop_threads() - before
    return thread


async def quick(event: Event[Any]) -> None:
    await asyncio.sleep(0)


def test_close_stops_the_bus_loop_and_a_later_publish_starts_it_again() -> None:
    before = loop_threads()
    bus = EventBus()
    bus.subscribe("a.b", quick)
    bus.publish("a.b")
    first = started_loop(before)
    bus.close()
    assert not first.is_alive()
    assert bus.publish("a.b").handled == 1
    second = started_loop(before)
    assert second is not first
    bus.close()
    bus.close()  # closing a closed bus does nothing
    assert not second.is_alive()


def test_eventbus_is_a_context_manager_that_closes() -> None:
    before = loop_threads()
    with EventBus() as bus:
        bus.subscribe("a.b", quick)
        bus.publish("a.b")
        thread = started_loop(before)
        assert thread.is_alive()
    assert not thread.is_alive()


def test_a_bus_that_is_collected_stops_its_loop() -> None:
    import gc

    before = loop_threads()
    bus = EventBus()
    bus.subscribe("a.b", quick)
    bus.publish("a.b")
    thread = started_loop(before)
    del bus
    gc.collect()
    thread.join(10)
    assert not thread.is_alive()


def test_the_bus_loop_ends_with_the_interpreter() -> None:
    code = (
        "import asyncio\n"
        "from eventbus import EventBus\n"
        "bus = EventBus()\n"
        "async def handler(event):\n"
        "    await asyncio.sleep(0)\n"
        "    print('handled', flush=True)\n"
        "bus.subscribe('a.b', handler)\n"
        "bus.publish('a.b')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "handled\n"


@pytest.mark.anyio
async def test_from_an_anyio_worker_thread_the_host_loop_runs_async_handlers() -> None:
    bus = EventBus()
    threads: list[int] = []

    async def handler(event: Event[Any]) -> None:
        threads.append(threading.get_ident())

    bus.subscribe("a.b", handler)
    await anyio.to_thread.run_sync(bus.publish, "a.b")
    assert threads == [threading.get_ident()]


def test_a_handler_on_the_bus_loop_may_close_the_bus() -> None:
    bus = EventBus()
    closed_in: list[threading.Thread] = []

    def close(event: Event[Any]) -> None:
        closed_in.append(threading.current_thread())
        bus.close()

    bus.subscribe("a.b", quick)
    bus.subscribe("a.b", close)
    assert bus.publish("a.b").handled == 2
    closed_in[0].join(10)
    assert closed_in[0].name == "eventbus-loop"
    assert not closed_in[0].is_alive()


def test_closing_the_bus_ends_a_publish_still_running_on_its_loop() -> None:
    bus = EventBus()
    started = threading.Event()

    async def forever(event: Event[Any]) -> None:
        started.set()
        await asyncio.sleep(3600)

    bus.subscribe("a.b", forever)
    raised: list[BaseException] = []

    def publish() -> None:
        try:
            bus.publish("a.b")
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=publish)
    thread.start()
    assert started.wait(10)
    bus.close()
    thread.join(10)
    assert not thread.is_alive()
    assert [type(exc) for exc in raised] == [asyncio.CancelledError]
