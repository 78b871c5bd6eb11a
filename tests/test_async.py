"""Async handlers and publish_async, under asyncio and trio; sync publish meeting async handlers."""

from __future__ import annotations

import functools
import threading
from typing import Any

import anyio
import anyio.to_thread
import pytest

from eventbus import (
    AsyncHandlersInSyncPublishError,
    Event,
    EventBus,
    EventBusError,
    InvalidEventTypeError,
    PublishError,
)

pytestmark = pytest.mark.anyio

#: Long enough never to trigger on a working bus; only turns a would-be hang into a failure.
DEADLOCK_GUARD = 20


async def checkpoints(count: int = 5) -> None:
    """Yield to the event loop a few times, so unfinished work would show."""
    for _ in range(count):
        await anyio.sleep(0)


# -- publish_async -------------------------------------------------------------------------


async def test_async_handlers_run_concurrently(bus: EventBus) -> None:
    """Each of two async handlers waits for the other to start: only concurrency finishes."""
    first_in, second_in = anyio.Event(), anyio.Event()
    finished: list[str] = []

    async def first(event: Event) -> None:
        first_in.set()
        await second_in.wait()
        finished.append("first")

    async def second(event: Event) -> None:
        second_in.set()
        await first_in.wait()
        finished.append("second")

    bus.subscribe("invoice.paid", first)
    bus.subscribe("invoice.paid", second)
    with anyio.fail_after(DEADLOCK_GUARD):
        result = await bus.publish_async("invoice.paid")
    assert sorted(finished) == ["first", "second"]
    assert (result.handled, result.ok) == (2, True)


async def test_publish_async_returns_after_every_handler_finished(bus: EventBus) -> None:
    """publish_async returns only once all async handlers, slow ones included, completed."""
    gate = anyio.Event()
    finished: list[str] = []

    async def slow(event: Event) -> None:
        await gate.wait()
        await checkpoints()
        finished.append("slow")

    async def opener(event: Event) -> None:
        await checkpoints()
        gate.set()
        finished.append("opener")

    async def quick(event: Event) -> None:
        finished.append("quick")

    bus.subscribe("invoice.paid", slow)
    bus.subscribe("invoice.*", opener)
    bus.subscribe(quick)
    with anyio.fail_after(DEADLOCK_GUARD):
        result = await bus.publish_async("invoice.paid")
    assert sorted(finished) == ["opener", "quick", "slow"]
    assert result.handled == 3


async def test_single_async_handler_is_awaited_to_completion(bus: EventBus) -> None:
    """A lone async handler has finished when publish_async returns."""
    finished: list[str] = []

    async def handler(event: Event) -> None:
        await checkpoints()
        finished.append(event.type)

    bus.subscribe("invoice.paid", handler)
    result = await bus.publish_async("invoice.paid")
    assert finished == ["invoice.paid"]
    assert result.handled == 1


async def test_publish_async_runs_sync_and_async_handlers(bus: EventBus) -> None:
    """publish_async calls sync handlers too, and counts every handler."""
    calls: list[str] = []

    async def async_handler(event: Event) -> None:
        await checkpoints()
        calls.append("async")

    bus.subscribe("invoice.paid", lambda event: calls.append("sync"))
    bus.subscribe("invoice.paid", async_handler)
    result = await bus.publish_async("invoice.paid")
    assert sorted(calls) == ["async", "sync"]
    assert result.handled == 2


async def test_publish_async_with_only_sync_handlers(bus: EventBus) -> None:
    """publish_async delivers to sync handlers in order when no handler is async."""
    calls: list[str] = []
    bus.subscribe("invoice.paid", lambda event: calls.append("low"))
    bus.subscribe("invoice.*", lambda event: calls.append("high"), priority=1)
    result = await bus.publish_async("invoice.paid")
    assert calls == ["high", "low"]
    assert result.handled == 2


async def test_publish_async_with_no_match(bus: EventBus) -> None:
    """publish_async to a type nobody listens to is ok and handled nothing."""
    bus.subscribe("invoice.paid", lambda event: None)
    result = await bus.publish_async("invoice.voided")
    assert (result.handled, result.ok, result.event.type) == (0, True, "invoice.voided")


def start_recorders(bus: EventBus, started: list[str]) -> None:
    """Subscribe sync (s...) and async (a...) handlers that record when they start."""

    def sync_handler(label: str) -> Any:
        return lambda event: started.append(label)

    def async_handler(label: str) -> Any:
        async def handle(event: Event) -> None:
            started.append(label)
            await checkpoints()

        return handle

    bus.subscribe("invoice.paid", async_handler("a0"))
    bus.subscribe("invoice.*", sync_handler("s0"))
    bus.subscribe("**", async_handler("a5"), priority=5)
    bus.subscribe("invoice.paid", sync_handler("s5"), priority=5)
    bus.subscribe("*.paid", async_handler("a-1"), priority=-1)
    bus.subscribe("invoice.**", async_handler("a0b"))


async def test_sync_handlers_run_in_delivery_order_under_publish_async(bus: EventBus) -> None:
    """Under publish_async, sync handlers run by priority, then subscription order."""
    started: list[str] = []
    start_recorders(bus, started)
    await bus.publish_async("invoice.paid")
    assert [label for label in started if label.startswith("s")] == ["s5", "s0"]


async def test_async_handlers_start_in_delivery_order(bus: EventBus) -> None:
    """Async handlers start by priority, then subscription order, on every publish.

    Repeated so that a scheduler that starts tasks in a random order (trio does) shows up.
    """
    started: list[str] = []
    start_recorders(bus, started)
    for _ in range(20):
        started.clear()
        await bus.publish_async("invoice.paid")
        assert [label for label in started if label.startswith("a")] == [
            "a5",
            "a0",
            "a0b",
            "a-1",
        ]


async def test_publish_async_builds_event_from_type_string(bus: EventBus) -> None:
    """publish_async with a type string and data delivers a built Event."""
    delivered: list[Event] = []

    async def handler(event: Event) -> None:
        delivered.append(event)

    bus.subscribe("invoice.paid", handler)
    result = await bus.publish_async("invoice.paid", {"amount": 3})
    assert delivered == [result.event]
    assert (result.event.type, result.event.data) == ("invoice.paid", {"amount": 3})


async def test_publish_async_delivers_built_event_as_is(bus: EventBus) -> None:
    """publish_async with an Event delivers that very object."""
    event = Event(type="invoice.paid")
    delivered: list[Event] = []

    async def handler(event: Event) -> None:
        delivered.append(event)

    bus.subscribe("invoice.paid", handler)
    result = await bus.publish_async(event)
    assert delivered[0] is event
    assert result.event is event


async def test_publish_async_rejects_data_with_built_event(bus: EventBus) -> None:
    """publish_async raises TypeError for data with a built Event and calls no handler."""
    calls: list[str] = []

    async def handler(event: Event) -> None:
        calls.append(event.type)

    bus.subscribe(handler)
    with pytest.raises(TypeError):
        await bus.publish_async(Event(type="invoice.paid"), {"a": 1})
    assert calls == []


async def test_publish_async_rejects_bad_type(bus: EventBus) -> None:
    """publish_async with a malformed type raises naming the part and calls no handler."""
    calls: list[str] = []

    async def handler(event: Event) -> None:
        calls.append(event.type)

    bus.subscribe(handler)
    with pytest.raises(InvalidEventTypeError, match="segment 2"):
        await bus.publish_async("invoice..paid")
    assert calls == []


async def test_once_under_publish_async(bus: EventBus) -> None:
    """A once async handler is delivered one event only under publish_async."""
    calls: list[str] = []

    async def handler(event: Event) -> None:
        calls.append(event.id)

    bus.subscribe("invoice.paid", handler, once=True)
    await bus.publish_async("invoice.paid")
    await bus.publish_async("invoice.paid")
    assert len(calls) == 1


async def test_once_under_concurrent_publish_async(bus: EventBus) -> None:
    """Concurrent publish_async calls deliver a once subscription exactly once."""
    calls: list[str] = []

    async def handler(event: Event) -> None:
        calls.append(event.id)
        await checkpoints()

    bus.subscribe("invoice.paid", handler, once=True)
    async with anyio.create_task_group() as group:
        for _ in range(10):
            group.start_soon(bus.publish_async, "invoice.paid")
    assert len(calls) == 1


async def test_async_callables_are_awaited(bus: EventBus) -> None:
    """Partials of async functions and objects with an async __call__ are awaited."""
    finished: list[str] = []

    async def handler(label: str, event: Event) -> None:
        await checkpoints()
        finished.append(label)

    class AsyncCallable:
        async def __call__(self, event: Event) -> None:
            await checkpoints()
            finished.append("object")

    bus.subscribe("invoice.paid", functools.partial(handler, "partial"))
    bus.subscribe("invoice.paid", AsyncCallable())
    await bus.publish_async("invoice.paid")
    assert sorted(finished) == ["object", "partial"]


# -- where sync handlers run ---------------------------------------------------------------


@pytest.mark.parametrize(
    "with_async",
    [
        pytest.param(False, id="only-sync-handlers"),
        pytest.param(True, id="with-an-async-handler"),
    ],
)
async def test_sync_handlers_run_inline_by_default(bus: EventBus, with_async: bool) -> None:
    """By default publish_async calls sync handlers in the event loop's own thread."""
    loop_thread = threading.get_ident()
    threads: list[int] = []
    bus.subscribe("invoice.paid", lambda event: threads.append(threading.get_ident()))
    bus.subscribe("invoice.*", lambda event: threads.append(threading.get_ident()))
    if with_async:

        async def handler(event: Event) -> None:
            await checkpoints()

        bus.subscribe("invoice.paid", handler)
    await bus.publish_async("invoice.paid")
    assert threads == [loop_thread, loop_thread]


@pytest.mark.parametrize(
    "with_async",
    [
        pytest.param(False, id="only-sync-handlers"),
        pytest.param(True, id="with-an-async-handler"),
    ],
)
async def test_sync_handlers_in_worker_threads_when_asked(with_async: bool) -> None:
    """With sync_handlers='thread' publish_async runs each sync handler in a worker thread."""
    bus = EventBus(sync_handlers="thread")
    loop_thread = threading.get_ident()
    threads: list[int] = []
    lock = threading.Lock()

    def record(event: Event) -> None:
        with lock:
            threads.append(threading.get_ident())

    bus.subscribe("invoice.paid", record)
    bus.subscribe("invoice.*", record)
    if with_async:

        async def handler(event: Event) -> None:
            await checkpoints()

        bus.subscribe("invoice.paid", handler)
    result = await bus.publish_async("invoice.paid")
    assert len(threads) == 2
    assert loop_thread not in threads
    assert result.handled == 3 if with_async else 2


async def test_threaded_sync_handler_runs_alongside_async_ones() -> None:
    """In thread mode a blocking sync handler does not block the async handlers."""
    bus = EventBus(sync_handlers="thread")
    released = threading.Event()
    outcome: list[bool] = []

    def blocking(event: Event) -> None:
        outcome.append(released.wait(DEADLOCK_GUARD))

    async def releaser(event: Event) -> None:
        await checkpoints()
        released.set()

    bus.subscribe("invoice.paid", blocking)
    bus.subscribe("invoice.paid", releaser)
    result = await bus.publish_async("invoice.paid")
    assert outcome == [True]
    assert result.ok


async def test_threaded_sync_handler_failures_are_collected() -> None:
    """In thread mode a failing sync handler is reported like any other."""
    bus = EventBus(sync_handlers="thread")
    error = ValueError("in a thread")

    def fail(event: Event) -> None:
        raise error

    bus.subscribe("invoice.paid", fail)
    bus.subscribe("invoice.paid", lambda event: None)
    result = await bus.publish_async("invoice.paid")
    assert result.handled == 2
    assert [failure.exception for failure in result.errors] == [error]


# -- failures ------------------------------------------------------------------------------


async def test_failures_are_in_subscription_order(bus: EventBus) -> None:
    """Failures are listed in subscription order, not in the order handlers failed."""
    second_failed = anyio.Event()
    first_error, middle_error, last_error = ValueError("a"), KeyError("s"), LookupError("b")

    async def first(event: Event) -> None:
        await second_failed.wait()
        raise first_error

    def middle(event: Event) -> None:
        raise middle_error

    async def last(event: Event) -> None:
        try:
            raise last_error
        finally:
            second_failed.set()

    bus.subscribe("invoice.paid", first)
    bus.subscribe("invoice.paid", middle)
    bus.subscribe("invoice.paid", last)
    with anyio.fail_after(DEADLOCK_GUARD):
        result = await bus.publish_async("invoice.paid")
    assert [failure.exception for failure in result.errors] == [
        first_error,
        middle_error,
        last_error,
    ]
    assert [failure.handler for failure in result.errors] == [first, middle, last]
    assert result.handled == 3


async def test_failing_async_handler_does_not_cancel_the_others(bus: EventBus) -> None:
    """An async handler that raises leaves the others running to completion."""
    failed = anyio.Event()
    finished: list[str] = []

    async def fail(event: Event) -> None:
        try:
            raise ValueError("bad")
        finally:
            failed.set()

    async def survivor(event: Event) -> None:
        await failed.wait()
        await checkpoints()
        finished.append("survivor")

    bus.subscribe("invoice.paid", survivor)
    bus.subscribe("invoice.paid", fail)
    with anyio.fail_after(DEADLOCK_GUARD):
        result = await bus.publish_async("invoice.paid")
    assert finished == ["survivor"]
    assert (result.handled, len(result.errors)) == (2, 1)


@pytest.mark.parametrize(
    ("bus_option", "publish_option"),
    [
        pytest.param(True, None, id="bus-option"),
        pytest.param(False, True, id="publish-option"),
    ],
)
async def test_publish_async_raise_errors(bus_option: bool, publish_option: bool | None) -> None:
    """raise_errors makes publish_async raise PublishError after every handler finished."""
    bus = EventBus(raise_errors=bus_option)
    error = ValueError("bad")
    finished: list[str] = []

    async def fail(event: Event) -> None:
        raise error

    async def other(event: Event) -> None:
        await checkpoints()
        finished.append("other")

    bus.subscribe("invoice.paid", fail)
    bus.subscribe("invoice.paid", other)
    with pytest.raises(PublishError) as caught:
        await bus.publish_async("invoice.paid", raise_errors=publish_option)
    assert list(caught.value.exceptions) == [error]
    assert finished == ["other"]


async def test_publish_async_raise_errors_can_be_turned_off() -> None:
    """publish_async(raise_errors=False) returns the result on a raising bus."""
    bus = EventBus(raise_errors=True)

    async def fail(event: Event) -> None:
        raise ValueError("bad")

    bus.subscribe("invoice.paid", fail)
    assert not (await bus.publish_async("invoice.paid", raise_errors=False)).ok


# -- sync publish meeting async handlers ---------------------------------------------------


def test_sync_publish_without_loop_runs_async_handlers(bus: EventBus) -> None:
    """publish from sync code with no running loop runs async handlers to completion."""
    finished: list[str] = []

    async def handler(event: Event) -> None:
        await checkpoints()
        finished.append("async")

    async def fail(event: Event) -> None:
        await checkpoints()
        raise ValueError("bad")

    bus.subscribe("invoice.paid", handler)
    bus.subscribe("invoice.*", lambda event: finished.append("sync"))
    bus.subscribe("invoice.paid", fail)
    result = bus.publish("invoice.paid")
    assert sorted(finished) == ["async", "sync"]
    assert result.handled == 3
    assert [type(failure.exception) for failure in result.errors] == [ValueError]
    assert bus.publish("invoice.paid").handled == 3
    assert sorted(finished) == ["async", "async", "sync", "sync"]


def test_sync_publish_without_loop_runs_async_handlers_concurrently(bus: EventBus) -> None:
    """publish from sync code runs several async handlers concurrently, like publish_async."""
    finished: list[str] = []
    events: dict[str, anyio.Event] = {}

    async def first(event: Event) -> None:
        events.setdefault("first", anyio.Event()).set()
        await events.setdefault("second", anyio.Event()).wait()
        finished.append("first")

    async def second(event: Event) -> None:
        events.setdefault("second", anyio.Event()).set()
        await events.setdefault("first", anyio.Event()).wait()
        finished.append("second")

    bus.subscribe("invoice.paid", first)
    bus.subscribe("invoice.paid", second)
    bus.publish("invoice.paid")
    assert sorted(finished) == ["first", "second"]


async def test_publish_from_worker_thread_uses_the_host_loop(bus: EventBus) -> None:
    """publish called from an anyio worker thread runs async handlers on the host loop."""
    loop_thread = threading.get_ident()
    handler_threads: list[int] = []
    publisher_threads: list[int] = []

    async def handler(event: Event) -> None:
        await checkpoints()
        handler_threads.append(threading.get_ident())

    def publish_from_thread() -> Any:
        publisher_threads.append(threading.get_ident())
        return bus.publish("invoice.paid")

    bus.subscribe("invoice.paid", handler)
    with anyio.fail_after(DEADLOCK_GUARD):
        result = await anyio.to_thread.run_sync(publish_from_thread)
    assert publisher_threads != [loop_thread]
    assert handler_threads == [loop_thread]
    assert result.handled == 1


async def test_publish_from_worker_thread_can_await_host_loop_objects(bus: EventBus) -> None:
    """Async handlers run from a worker thread's publish can use the host loop's primitives."""
    ready = anyio.Event()

    async def handler(event: Event) -> None:
        ready.set()
        await ready.wait()

    bus.subscribe("invoice.paid", handler)
    with anyio.fail_after(DEADLOCK_GUARD):
        result = await anyio.to_thread.run_sync(bus.publish, "invoice.paid")
    assert ready.is_set()
    assert result.ok


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param("invoice.paid", id="exact"),
        pytest.param("invoice.*", id="wildcard"),
        pytest.param("**", id="catch-all"),
    ],
)
async def test_sync_publish_in_running_loop_with_async_handlers_raises(
    bus: EventBus, pattern: str
) -> None:
    """publish inside a running loop with async handlers raises and calls no handler at all."""
    calls: list[str] = []

    async def async_handler(event: Event) -> None:
        calls.append("async")

    bus.subscribe("invoice.paid", lambda event: calls.append("first"), priority=10)
    bus.subscribe("invoice.paid", lambda event: calls.append("once"), priority=10, once=True)
    bus.subscribe(pattern, async_handler, priority=-10)
    bus.subscribe("invoice.paid", lambda event: calls.append("last"), priority=-20)
    with pytest.raises(AsyncHandlersInSyncPublishError, match="publish_async") as caught:
        bus.publish("invoice.paid")
    assert isinstance(caught.value, EventBusError)
    assert calls == []
    result = await bus.publish_async("invoice.paid")
    assert result.handled == 4
    assert sorted(calls) == ["async", "first", "last", "once"]


async def test_sync_publish_in_running_loop_with_only_sync_handlers(bus: EventBus) -> None:
    """publish inside a running loop works when every matching handler is sync."""
    calls: list[str] = []

    async def elsewhere(event: Event) -> None:
        calls.append("async")

    bus.subscribe("invoice.paid", lambda event: calls.append("plain"))
    bus.subscribe("invoice.paid", lambda event: calls.append("once"), once=True)
    bus.subscribe("customer.created", elsewhere)
    result = bus.publish("invoice.paid")
    assert (result.handled, calls) == (2, ["plain", "once"])


# -- parent_id across tasks and threads ----------------------------------------------------


async def test_parent_id_in_async_handler(bus: EventBus) -> None:
    """An event made in an async handler gets the handled event's id as parent_id."""
    children: list[Event] = []

    async def handler(event: Event) -> None:
        await checkpoints()
        children.append(Event(type="child"))

    bus.subscribe("order.placed", handler)
    result = await bus.publish_async("order.placed")
    assert [child.parent_id for child in children] == [result.event.id]


async def test_parent_id_in_tasks_a_handler_starts(bus: EventBus) -> None:
    """Events made in tasks that an async handler starts get the handled event as parent."""
    children: list[Event] = []

    async def make_child() -> None:
        await checkpoints()
        children.append(Event(type="child"))

    async def handler(event: Event) -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(make_child)
            group.start_soon(make_child)

    bus.subscribe("order.placed", handler)
    result = await bus.publish_async("order.placed")
    assert [child.parent_id for child in children] == [result.event.id] * 2


async def test_parent_id_in_anyio_worker_threads(bus: EventBus) -> None:
    """Events made in an anyio worker thread an async handler starts get the handled parent."""
    children: list[Event] = []

    async def handler(event: Event) -> None:
        children.append(await anyio.to_thread.run_sync(lambda: Event(type="child")))

    bus.subscribe("order.placed", handler)
    result = await bus.publish_async("order.placed")
    assert [child.parent_id for child in children] == [result.event.id]


async def test_parent_id_in_sync_handlers_run_in_worker_threads() -> None:
    """With sync_handlers='thread', events a sync handler makes get the handled parent."""
    bus = EventBus(sync_handlers="thread")
    children: list[Event] = []
    bus.subscribe("order.placed", lambda event: children.append(Event(type="child")))
    result = await bus.publish_async("order.placed")
    assert [child.parent_id for child in children] == [result.event.id]


async def test_parent_id_of_events_published_from_async_handlers(bus: EventBus) -> None:
    """publish_async from an async handler delivers an event whose parent is the handled one."""
    seen: dict[str, Event] = {}

    async def placed(event: Event) -> None:
        await bus.publish_async("order.shipped")

    async def record(event: Event) -> None:
        seen[event.type] = event

    bus.subscribe("order.placed", placed)
    bus.subscribe(record)
    await bus.publish_async("order.placed")
    assert seen["order.shipped"].parent_id == seen["order.placed"].id
    assert seen["order.placed"].parent_id is None


async def test_concurrent_publishes_keep_their_own_parents(bus: EventBus) -> None:
    """Two publishes in flight at once each give their own id to the events their handlers make."""
    children: dict[str, Event] = {}
    both_in = {"a": anyio.Event(), "b": anyio.Event()}

    async def handler(event: Event) -> None:
        label = event.data["label"]
        both_in[label].set()
        await both_in["b" if label == "a" else "a"].wait()
        children[label] = Event(type="child")

    bus.subscribe("order.placed", handler)
    results: dict[str, Any] = {}

    async def publish(label: str) -> None:
        results[label] = await bus.publish_async("order.placed", {"label": label})

    with anyio.fail_after(DEADLOCK_GUARD):
        async with anyio.create_task_group() as group:
            group.start_soon(publish, "a")
            group.start_soon(publish, "b")
    assert children["a"].parent_id == results["a"].event.id
    assert children["b"].parent_id == results["b"].event.id
    assert Event(type="after").parent_id is None


def test_plain_thread_does_not_inherit_parent_id(bus: EventBus) -> None:
    """A plain threading.Thread started by a handler does not inherit parent_id (documented).

    The causal link rides on a context variable, which threading.Thread does not copy; code
    that hands work to such a thread passes ``parent_id=event.id`` itself.
    """
    children: list[Event] = []

    def handler(event: Event) -> None:
        thread = threading.Thread(target=lambda: children.append(Event(type="child")))
        thread.start()
        thread.join()

    bus.subscribe("order.placed", handler)
    bus.publish("order.placed")
    assert [child.parent_id for child in children] == [None]


@pytest.mark.parametrize(
    "layout",
    [
        pytest.param("AAA", id="async-only"),
        pytest.param("AAS", id="sync-last"),
        pytest.param("ASA", id="sync-between"),
        pytest.param("SAA", id="sync-first"),
        pytest.param("SASAA", id="interleaved"),
    ],
)
async def test_start_order_follows_priority_for_any_layout(bus: EventBus, layout: str) -> None:
    """Whatever mix of sync (S) and async (A) handlers, each starts in delivery order."""
    started: list[int] = []

    def make(kind: str, position: int) -> Any:
        if kind == "S":
            return lambda event: started.append(position)

        async def handle(event: Event) -> None:
            started.append(position)
            await checkpoints()

        return handle

    for position, kind in enumerate(layout):
        bus.subscribe("x", make(kind, position), priority=-position)
    for _ in range(10):
        started.clear()
        await bus.publish_async("x")
        assert started == list(range(len(layout)))
