"""The bus used from many threads at once: no exceptions, no lost or doubled deliveries."""

from __future__ import annotations

import itertools
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest

from eventbus import Event, EventBus, PublishResult

#: Only turns a would-be hang into a failure; never reached on a working bus.
DEADLOCK_GUARD = 20


@pytest.fixture(autouse=True)
def frequent_thread_switches() -> Iterator[None]:
    """Switch threads far more often than usual, so races show up within a short test."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def run_threads(targets: list[Callable[[], None]]) -> list[BaseException]:
    """Start every target together, wait for all, and return what any of them raised."""
    barrier = threading.Barrier(len(targets))
    errors: list[BaseException] = []

    def wrap(target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                barrier.wait(DEADLOCK_GUARD)
                target()
            except BaseException as exc:
                errors.append(exc)

        return run

    threads = [threading.Thread(target=wrap(target)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLOCK_GUARD)
        assert not thread.is_alive(), "a thread is stuck"
    return errors


class Listener:
    """An object whose bound method is subscribed weakly."""

    def __init__(self, sink: list[str]) -> None:
        self.sink = sink

    def handle(self, event: Event) -> None:
        self.sink.append(event.id)


# -- churn ---------------------------------------------------------------------------------


def test_concurrent_subscribe_unsubscribe_publish() -> None:
    """Steady subscriptions get each event exactly once while others come and go around them."""
    bus = EventBus()
    received: dict[str, list[str]] = {label: [] for label in ("exact", "wild", "all", "weak")}
    bus.subscribe("load.a", lambda event: received["exact"].append(event.id))
    bus.subscribe("load.*", lambda event: received["wild"].append(event.id), priority=3)
    bus.subscribe(lambda event: received["all"].append(event.id), priority=-3)
    listener = Listener(received["weak"])
    bus.subscribe("load.**", listener.handle, weak=True)

    published: list[list[Event]] = []
    results: list[PublishResult] = []
    done = threading.Event()
    publishers, per_publisher, churners = 6, 1000, 4

    remaining = [publishers]
    lock = threading.Lock()

    def publisher(index: int) -> Callable[[], None]:
        def run() -> None:
            mine: list[Event] = []
            try:
                for count in range(per_publisher):
                    result = bus.publish("load.a" if (index + count) % 2 else "load.b")
                    mine.append(result.event)
                    results.append(result)
            finally:
                published.append(mine)
                with lock:
                    remaining[0] -= 1
                    if not remaining[0]:
                        done.set()

        return run

    def churner(index: int) -> Callable[[], None]:
        patterns = itertools.cycle(["load.a", "load.*", "**", "load.b", "other.x", "load.**"])

        def run() -> None:
            transient: list[str] = []
            mine: list[Event] = []
            try:
                for round_ in itertools.count():
                    if done.is_set() and round_ > 50:
                        return
                    subs = [
                        bus.subscribe(next(patterns), transient.append, priority=round_ % 5 - 2),
                        bus.subscribe(next(patterns), transient.append, once=True),
                        bus.subscribe(next(patterns), transient.append, name=f"c{index}.{round_}"),
                    ]
                    if round_ % 3 == 0:
                        mine.append(bus.publish("load.c").event)
                    for sub in subs:
                        sub.unsubscribe()
                        sub.unsubscribe()
            finally:
                published.append(mine)

        return run

    targets = [publisher(i) for i in range(publishers)]
    targets += [churner(i) for i in range(churners)]
    errors = run_threads(targets)

    assert errors == []
    events = [event for chunk in published for event in chunk]
    assert sum(event.type != "load.c" for event in events) == publishers * per_publisher
    a_ids = Counter(event.id for event in events if event.type == "load.a")
    all_ids = Counter(event.id for event in events)
    assert Counter(received["exact"]) == a_ids
    assert Counter(received["wild"]) == all_ids
    assert Counter(received["all"]) == all_ids
    assert Counter(received["weak"]) == all_ids
    assert all(result.ok for result in results)
    assert bus.publish("load.a").handled == 4
    assert bus.publish("other.x").handled == 1


def test_concurrent_subscribes_all_deliver_with_distinct_names() -> None:
    """Many threads subscribing one handler at once make distinct, all-delivered subscriptions."""
    bus = EventBus()
    calls: list[str] = []

    def handler(event: Event) -> None:
        calls.append(event.id)

    names: list[str] = []

    def subscribe_many() -> None:
        names.extend(bus.subscribe("invoice.*", handler).name for _ in range(50))

    assert run_threads([subscribe_many] * 8) == []
    assert len(set(names)) == 400
    assert bus.publish("invoice.paid").handled == 400
    assert len(calls) == 400


def test_concurrent_unsubscribes_of_one_subscription() -> None:
    """Many threads unsubscribing the same subscriptions at once raise nothing and remove them."""
    bus = EventBus()
    subs = [bus.subscribe("invoice.paid", lambda event: None) for _ in range(100)]
    keep = bus.subscribe("invoice.*", lambda event: None)

    def unsubscribe_all() -> None:
        for sub in subs:
            sub.unsubscribe()

    assert run_threads([unsubscribe_all] * 8) == []
    assert bus.publish("invoice.paid").handled == 1
    keep.unsubscribe()


# -- once ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param("invoice.paid", id="exact"),
        pytest.param("invoice.*", id="wildcard"),
        pytest.param("**", id="catch-all"),
    ],
)
def test_once_is_delivered_exactly_once_under_concurrent_publishes(pattern: str) -> None:
    """With many threads publishing at once, each once subscription is delivered exactly once."""
    for _ in range(10):
        race_once_subscriptions(pattern, subscriptions=30, threads=16)


def race_once_subscriptions(pattern: str, *, subscriptions: int, threads: int) -> None:
    """Publish from many threads at once to once subscriptions and check each fired once."""
    bus = EventBus()
    counts: Counter[int] = Counter()
    lock = threading.Lock()

    def make(index: int) -> Callable[[Event], None]:
        def handle(event: Event) -> None:
            with lock:
                counts[index] += 1

        return handle

    for index in range(subscriptions):
        bus.subscribe(pattern, make(index), once=True)
    bus.subscribe("invoice.paid", lambda event: None)
    handled: list[int] = []

    def publish() -> None:
        handled.append(bus.publish("invoice.paid").handled)

    assert run_threads([publish] * threads) == []
    assert counts == Counter(range(subscriptions))
    assert sum(handled) == subscriptions + threads
    assert bus.publish("invoice.paid").handled == 1


# -- a dispatch in flight ------------------------------------------------------------------


def make_route(bus: EventBus, kind: str, calls: list[str]) -> list[Any]:
    """Add a subscription that puts the route of 'invoice.paid' on a given delivery path.

    Returns objects the caller keeps alive.
    """
    if kind == "plain":
        return []
    if kind == "weak":
        listener = Listener(calls)
        bus.subscribe("invoice.paid", listener.handle, weak=True, priority=-100)
        return [listener]
    if kind == "once":
        bus.subscribe("customer.*", lambda event: None, once=True)
        bus.subscribe("**", lambda event: None, once=True, priority=-100)
        return []
    assert kind == "async"

    async def handler(event: Event) -> None:
        await anyio.sleep(0)

    bus.subscribe("invoice.paid", handler, priority=-100)
    return [handler]


ROUTE_KINDS = [
    pytest.param("plain", id="plain-sync-route"),
    pytest.param("weak", id="route-with-weak-handler"),
    pytest.param("once", id="route-with-once-handler"),
    pytest.param("async", id="route-with-async-handler"),
]

LATER_OPTIONS = [
    pytest.param({}, id="later-is-plain"),
    pytest.param({"weak": True}, id="later-is-weak"),
    pytest.param({"pattern": "invoice.*"}, id="later-is-wildcard"),
]


@pytest.mark.parametrize("later_options", LATER_OPTIONS)
@pytest.mark.parametrize("kind", ROUTE_KINDS)
def test_dispatch_keeps_subscriptions_changed_by_a_handler(
    kind: str, later_options: dict[str, Any]
) -> None:
    """A handler that unsubscribes a later one and subscribes a new one changes the next publish.

    The publish in flight keeps the subscriptions it started with: the later handler is still
    called and the new one is not; the next publish sees the change.
    """
    bus = EventBus()
    calls: list[str] = []
    keep = make_route(bus, kind, [])
    options = dict(later_options)
    pattern = options.pop("pattern", "invoice.paid")
    later_listener = Listener(calls)
    later = bus.subscribe(pattern, later_listener.handle, **options)

    def first(event: Event) -> None:
        calls.append("first")
        if len(calls) == 1:
            later.unsubscribe()
            bus.subscribe("invoice.paid", lambda event: calls.append("new"))

    bus.subscribe("invoice.paid", first, priority=10)
    first_result = bus.publish("invoice.paid")
    assert calls == ["first", first_result.event.id]
    calls.clear()
    bus.publish("invoice.paid")
    assert calls == ["first", "new"]
    assert keep is not None


@pytest.mark.parametrize("later_options", LATER_OPTIONS)
@pytest.mark.parametrize("kind", ROUTE_KINDS)
def test_dispatch_in_flight_ignores_changes_from_other_threads(
    kind: str, later_options: dict[str, Any]
) -> None:
    """While a publish is in flight, another thread's unsubscribe and subscribe do not affect it."""
    bus = EventBus()
    calls: list[str] = []
    keep = make_route(bus, kind, [])
    options = dict(later_options)
    pattern = options.pop("pattern", "invoice.paid")
    in_first = threading.Event()
    proceed = threading.Event()

    def first(event: Event) -> None:
        calls.append("first")
        in_first.set()
        assert proceed.wait(DEADLOCK_GUARD)

    later_listener = Listener(calls)
    bus.subscribe("invoice.paid", first, priority=10)
    later = bus.subscribe(pattern, later_listener.handle, **options)
    results: list[PublishResult] = []
    publisher = threading.Thread(target=lambda: results.append(bus.publish("invoice.paid")))
    publisher.start()
    try:
        assert in_first.wait(DEADLOCK_GUARD)
        later.unsubscribe()
        bus.subscribe("invoice.paid", lambda event: calls.append("new"))
    finally:
        proceed.set()
        publisher.join(DEADLOCK_GUARD)
    assert [result.ok for result in results] == [True]
    assert calls == ["first", results[0].event.id]
    calls.clear()
    in_first.clear()
    bus.publish("invoice.paid")
    assert calls == ["first", "new"]
    assert keep is not None


def test_handler_unsubscribing_itself_finishes_the_dispatch() -> None:
    """A handler that unsubscribes itself mid-publish lets the rest run, and is gone next time."""
    bus = EventBus()
    calls: list[str] = []
    subs: list[Any] = []

    def self_removing(event: Event) -> None:
        calls.append("self")
        subs[0].unsubscribe()

    subs.append(bus.subscribe("invoice.paid", self_removing))
    bus.subscribe("invoice.paid", lambda event: calls.append("other"))
    bus.publish("invoice.paid")
    bus.publish("invoice.paid")
    assert calls == ["self", "other", "other"]
