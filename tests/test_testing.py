"""The test helpers shipped to users: capture() and bus.wait_for()."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any, Literal

import anyio
import anyio.to_thread
import pytest

from eventbus import Event, EventBus, InvalidPatternError, PublishCall
from eventbus.testing import capture


def test_capture_records_matching_events_and_results(bus: EventBus) -> None:
    """capture() keeps each matching event and its publish result, in order."""

    def fail(event: Event[Any]) -> None:
        raise RuntimeError("nope")

    bus.subscribe("invoice.paid", fail)
    with capture(bus, "invoice.*") as captured:
        bus.publish("invoice.created")
        bus.publish("customer.created")
        bus.publish("invoice.paid")
    bus.publish("invoice.voided")
    assert captured.types == ["invoice.created", "invoice.paid"]
    assert len(captured) == 2
    assert [result.ok for result in captured.results] == [True, False]
    assert captured.results[1].event is captured.events[1]


def test_capture_default_pattern_records_everything(bus: EventBus) -> None:
    """Without a pattern every event is recorded, handled or not."""
    with capture(bus) as captured:
        bus.publish("a")
        bus.publish("b.c")
    assert captured.types == ["a", "b.c"]


def test_capture_records_a_publish_that_raises(bus: EventBus) -> None:
    """A publish with raise_errors=True is captured before it raises."""
    bus.subscribe(lambda event: 1 / 0)
    with capture(bus) as captured, pytest.raises(ExceptionGroup):
        bus.publish("x", raise_errors=True)
    assert captured.types == ["x"]
    assert not captured.results[0].ok


def test_capture_nested_blocks_are_independent(bus: EventBus) -> None:
    """Two captures on one bus each see what was published while they were open."""
    with capture(bus) as outer:
        bus.publish("one")
        with capture(bus) as inner:
            bus.publish("two")
    assert outer.types == ["one", "two"]
    assert inner.types == ["two"]


def test_capture_rejects_bad_pattern(bus: EventBus) -> None:
    """A malformed capture pattern fails before the block runs."""
    with pytest.raises(InvalidPatternError), capture(bus, "a.b*"):
        pass


@pytest.mark.anyio
async def test_capture_sees_async_publishes(bus: EventBus) -> None:
    """publish_async is captured like publish."""

    async def handler(event: Event[Any]) -> None:
        await anyio.sleep(0)

    bus.subscribe(handler)
    with capture(bus) as captured:
        await bus.publish_async("x.y")
    assert captured.types == ["x.y"]
    assert captured.results[0].handled == 1


@pytest.mark.anyio
async def test_wait_for_returns_next_matching_event(bus: EventBus) -> None:
    """wait_for returns the next event that matches the pattern and predicate."""
    found: list[Event[Any]] = []

    async def waiter() -> None:
        found.append(await bus.wait_for("order.*", where=lambda e: e.data.get("n") == 2))

    async with anyio.create_task_group() as group:
        group.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        bus.publish("other.thing", {"n": 2})
        bus.publish("order.placed", {"n": 1})
        bus.publish("order.placed", {"n": 2})
    assert [(event.type, event.data["n"]) for event in found] == [("order.placed", 2)]
    assert bus.subscriptions == ()


@pytest.mark.anyio
async def test_wait_for_event_published_from_another_thread(bus: EventBus) -> None:
    """An event published from a worker thread wakes the waiter on its loop."""
    found: list[Event[Any]] = []

    async def waiter() -> None:
        found.append(await bus.wait_for("job.done"))

    async with anyio.create_task_group() as group:
        group.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        thread = threading.Thread(target=bus.publish, args=("job.done",))
        await anyio.to_thread.run_sync(lambda: (thread.start(), thread.join()))
    assert [event.type for event in found] == ["job.done"]


@pytest.mark.anyio
async def test_wait_for_typed_class(bus: EventBus) -> None:
    """wait_for with a class returns an instance of it."""

    class Ping(Event[dict[str, Any]]):
        type: Literal["ping"] = "ping"

    async def waiter() -> None:
        found.append(await bus.wait_for(Ping))

    found: list[Ping] = []
    async with anyio.create_task_group() as group:
        group.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        await bus.publish_async("ping")
    assert isinstance(found[0], Ping)


@pytest.mark.anyio
async def test_wait_for_times_out(bus: EventBus) -> None:
    """No matching event within the timeout raises TimeoutError and unsubscribes."""
    with pytest.raises(TimeoutError, match="no event matching 'never'"):
        await bus.wait_for("never", timeout=0.01)
    assert bus.subscriptions == ()


def test_capture_orders_events_by_publish_and_results_by_completion(bus: EventBus) -> None:
    """A publish made inside a handler comes after its trigger in events, before it in results."""
    bus.subscribe("outer", lambda event: bus.publish("inner"))
    with capture(bus) as captured:
        bus.publish("outer")
    assert captured.types == ["outer", "inner"]
    assert [result.event.type for result in captured.results] == ["inner", "outer"]


def test_capture_skips_publishes_that_failed_validation(bus: EventBus) -> None:
    """Data rejected by its typed model publishes nothing, so capture records nothing."""

    class Strict(Event[dict[str, int]]):
        type: Literal["strict"] = "strict"

    bus.register(Strict)
    with capture(bus) as captured, pytest.raises(ValueError, match="strict"):
        bus.publish("strict", {"n": "not a number"})
    assert captured.events == []


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_wait_for_that_ended_leaves_a_late_publish_clean(bus: EventBus, backend: str) -> None:
    """A publish in another thread reaching wait_for's watcher after the waiting loop ended
    records no failure."""
    gate = threading.Event()
    reached = threading.Event()
    results: list[Any] = []

    @contextlib.contextmanager
    def hold(call: PublishCall) -> Iterator[None]:  # outermost: entered before the waiter's
        reached.set()
        gate.wait(5)
        yield

    bus.use(hold, on="publish")
    thread = threading.Thread(target=lambda: results.append(bus.publish("x")))

    async def main() -> None:
        async def waiter() -> None:
            with pytest.raises(TimeoutError):
                await bus.wait_for("x", timeout=0.05)

        async with anyio.create_task_group() as group:
            group.start_soon(waiter)
            await anyio.wait_all_tasks_blocked()
            thread.start()
            await anyio.to_thread.run_sync(reached.wait, 5)

    anyio.run(main, backend=backend)  # the waiting loop has finished here
    gate.set()
    thread.join(5)
    assert results[0].errors == []


@pytest.mark.anyio
async def test_wait_for_predicate_error_reaches_the_waiter(bus: EventBus) -> None:
    """A predicate that raises fails wait_for, not the publish that triggered it."""

    def broken(event: Event[Any]) -> bool:
        raise KeyError("missing")

    results: list[Any] = []

    async def waiter() -> None:
        with pytest.raises(KeyError, match="missing"):
            await bus.wait_for("o.*", where=broken)

    async with anyio.create_task_group() as group:
        group.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        results.append(bus.publish("o.placed"))
    assert results[0].ok


@pytest.mark.anyio
async def test_capture_skips_a_publish_refused_inside_the_loop(bus: EventBus) -> None:
    """publish() refused inside a running loop delivered nothing, so nothing is captured."""

    async def handler(event: Event[Any]) -> None:
        await anyio.sleep(0)

    bus.subscribe("a.b", handler)
    with capture(bus) as captured, pytest.raises(RuntimeError, match="publish_async"):
        bus.publish("a.b")
    assert captured.events == []


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_wait_for_woken_by_a_publisher_running_its_own_loop(bus: EventBus, backend: str) -> None:
    """A publish_async on another thread's own event loop wakes the waiter, cleanly."""
    results: list[Any] = []
    found: list[Event[Any]] = []

    def publish_on_own_loop() -> None:
        results.append(anyio.run(bus.publish_async, "a.b", backend=backend))

    async def main() -> None:
        async def waiter() -> None:
            found.append(await bus.wait_for("a.b", timeout=10))

        async with anyio.create_task_group() as group:
            group.start_soon(waiter)
            await anyio.wait_all_tasks_blocked()
            await anyio.to_thread.run_sync(publish_on_own_loop)

    anyio.run(main, backend=backend)
    assert [event.type for event in found] == ["a.b"]
    assert results[0].errors == []


@pytest.mark.anyio
async def test_a_waiter_is_not_a_subscription(bus: EventBus) -> None:
    """Bug 4: wait_for is neither counted in the result nor listed in bus.subscriptions."""
    results: list[Any] = []

    async def publish_later() -> None:
        await anyio.wait_all_tasks_blocked()
        assert bus.subscriptions == ()
        results.append(await bus.publish_async("order.created"))

    async with anyio.create_task_group() as group:
        group.start_soon(publish_later)
        event = await bus.wait_for("order.created", timeout=5)
    assert results[0].handled == 0
    assert results[0].called == ()
    assert event is results[0].event


@pytest.mark.anyio
async def test_wait_for_a_typed_class_gets_an_instance_of_it(bus: EventBus) -> None:
    class Paid(Event[dict[str, int]]):
        type: Literal["invoice.paid"] = "invoice.paid"

    async def publish_later() -> None:
        await anyio.wait_all_tasks_blocked()
        await bus.publish_async("invoice.created")
        await bus.publish_async("invoice.paid", {"amount": 5})

    async with anyio.create_task_group() as group:
        group.start_soon(publish_later)
        event = await bus.wait_for(Paid, timeout=5)
    assert isinstance(event, Paid)
    assert event.data == {"amount": 5}


def test_the_older_observer_hook_still_reports_each_publish(bus: EventBus) -> None:
    """bus._observe (the private hook extensions used before bus.use) keeps working."""
    seen: list[Any] = []

    class Recorder:
        def published(self, event: Event[Any]) -> None:
            seen.append(("published", event.type))

        def finished(self, result: Any) -> None:
            seen.append(("finished", result.handled))

    bus.subscribe("a.b", lambda event: None)
    stop = bus._observe(Recorder())
    bus.publish("a.b")
    stop()
    bus.publish("a.b")
    assert seen == [("published", "a.b"), ("finished", 1)]
