"""bus.use: middleware around every handler call and around every publish."""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from eventbus import Event, EventBus, HandlerCall, PublishCall, PublishResult

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def tracer(log: list[str], label: str) -> Any:
    @contextlib.contextmanager
    def middleware(call: HandlerCall) -> Iterator[None]:
        log.append(f"{label} enter {call.subscription.name}")
        try:
            yield
        except Exception as exc:
            log.append(f"{label} saw {exc!r}")
            raise
        finally:
            log.append(f"{label} exit")

    return middleware


def test_handler_middleware_wraps_each_call_first_added_outermost(bus: EventBus) -> None:
    log: list[str] = []

    def handler(event: Event[Any]) -> None:
        log.append("handler")

    bus.subscribe("a.b", handler, name="h")
    bus.use(tracer(log, "outer"))
    bus.use(tracer(log, "inner"), on="handler")
    assert bus.publish("a.b").ok
    assert log == ["outer enter h", "inner enter h", "handler", "inner exit", "outer exit"]


def test_handler_call_carries_event_subscription_and_bus(bus: EventBus) -> None:
    seen: list[HandlerCall] = []

    def middleware(call: HandlerCall) -> contextlib.nullcontext[None]:
        seen.append(call)
        return contextlib.nullcontext()

    sub = bus.subscribe("a.b", lambda event: None)
    bus.use(middleware)
    result = bus.publish("a.b")
    assert seen == [HandlerCall(result.event, sub, bus)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        seen[0].event = result.event  # type: ignore[misc]
    assert not hasattr(seen[0], "__dict__")


def test_the_handlers_exception_passes_through_the_middleware(bus: EventBus) -> None:
    log: list[str] = []

    def fail(event: Event[Any]) -> None:
        raise ValueError("bad")

    bus.subscribe("a.b", fail, name="fail")
    bus.use(tracer(log, "m"))
    result = bus.publish("a.b")
    assert [type(f.exception) for f in result.errors] == [ValueError]
    assert log == ["m enter fail", "m saw ValueError('bad')", "m exit"]


def test_a_middleware_that_suppresses_makes_the_call_succeed(bus: EventBus) -> None:
    def fail(event: Event[Any]) -> None:
        raise ValueError("bad")

    bus.subscribe("a.b", fail)
    bus.use(lambda call: contextlib.suppress(ValueError))
    result = bus.publish("a.b")
    assert result.ok
    assert result.handled == 1


def test_removing_a_middleware_restores_plain_calls(bus: EventBus) -> None:
    log: list[str] = []
    bus.subscribe("a.b", lambda event: log.append("handler"), name="h")
    remove = bus.use(tracer(log, "m"))
    bus.publish("a.b")
    remove()
    bus.publish("a.b")
    assert log == ["m enter h", "handler", "m exit", "handler"]


@pytest.mark.anyio
async def test_context_set_by_middleware_is_visible_to_sync_and_async_handlers(
    bus: EventBus,
) -> None:
    seen: list[tuple[str, str | None]] = []

    @contextlib.contextmanager
    def tag(call: HandlerCall) -> Iterator[None]:
        token = request_id.set(f"req-{call.subscription.name}")
        try:
            yield
        finally:
            request_id.reset(token)

    async def first(event: Event[Any]) -> None:
        await anyio.sleep(0)
        seen.append(("first", request_id.get()))

    async def second(event: Event[Any]) -> None:
        seen.append(("second", request_id.get()))
        await anyio.sleep(0)

    def third(event: Event[Any]) -> None:
        seen.append(("third", request_id.get()))

    bus.subscribe("a.b", first, name="first")
    bus.subscribe("a.b", second, name="second")
    bus.subscribe("a.b", third, name="third")
    bus.use(tag)
    result = await bus.publish_async("a.b")
    assert result.ok
    assert sorted(seen) == [
        ("first", "req-first"),
        ("second", "req-second"),
        ("third", "req-third"),
    ]
    assert request_id.get() is None


@pytest.mark.anyio
async def test_middleware_is_entered_in_the_worker_thread_of_a_threaded_handler() -> None:
    threads: list[tuple[str, int]] = []
    bus = EventBus(sync_handlers="thread")

    @contextlib.contextmanager
    def where(call: HandlerCall) -> Iterator[None]:
        threads.append(("middleware", threading.get_ident()))
        yield

    bus.subscribe("a.b", lambda event: threads.append(("handler", threading.get_ident())))
    bus.use(where)
    await bus.publish_async("a.b")
    assert [name for name, _ in threads] == ["middleware", "handler"]
    assert threads[0][1] == threads[1][1] != threading.get_ident()


@pytest.mark.anyio
async def test_middleware_wraps_a_lone_async_handler(bus: EventBus) -> None:
    log: list[str] = []

    async def lone(event: Event[Any]) -> None:
        await anyio.sleep(0)
        log.append("handler")
        raise ValueError("late")

    bus.subscribe("a.b", lone, name="lone")
    bus.use(tracer(log, "m"))
    result = await bus.publish_async("a.b")
    assert [f.name for f in result.errors] == ["lone"]
    assert log == ["m enter lone", "handler", "m saw ValueError('late')", "m exit"]


def test_handler_middleware_applies_to_once_and_weak_subscriptions(bus: EventBus) -> None:
    log: list[str] = []

    def handler(event: Event[Any]) -> None:
        log.append("weak")

    bus.subscribe("a.b", handler, weak=True, name="weak")
    bus.subscribe("a.b", lambda event: log.append("once"), once=True, name="once")
    bus.use(tracer(log, "m"))
    assert bus.publish("a.b").handled == 2
    assert log == ["m enter weak", "weak", "m exit", "m enter once", "once", "m exit"]


@pytest.mark.anyio
async def test_publish_middleware_sees_the_event_then_the_result(bus: EventBus) -> None:
    seen: list[Any] = []

    @contextlib.contextmanager
    def watch(call: PublishCall) -> Iterator[None]:
        seen.append(("start", call.event.type, call.result))
        yield
        seen.append(("end", call.bus is bus, call.result))

    bus.subscribe("a.b", lambda event: None)
    bus.use(watch, on="publish")
    first = bus.publish("a.b")
    second = await bus.publish_async("a.b")
    assert seen == [
        ("start", "a.b", None),
        ("end", True, first),
        ("start", "a.b", None),
        ("end", True, second),
    ]
    assert isinstance(first, PublishResult)


def test_publish_middleware_wraps_every_handler_and_nests(bus: EventBus) -> None:
    log: list[str] = []

    def middleware(label: str) -> Any:
        @contextlib.contextmanager
        def around(call: PublishCall) -> Iterator[None]:
            log.append(f"{label} enter")
            yield
            log.append(f"{label} exit {call.result and call.result.handled}")

        return around

    bus.subscribe("a.b", lambda event: log.append("one"))
    bus.subscribe("a.*", lambda event: log.append("two"))
    bus.use(middleware("outer"), on="publish")
    bus.use(middleware("inner"), on="publish")
    bus.publish("a.b")
    assert log == ["outer enter", "inner enter", "one", "two", "inner exit 2", "outer exit 2"]


def test_publish_middleware_gets_no_result_when_delivery_raised(bus: EventBus) -> None:
    results: list[Any] = []

    @contextlib.contextmanager
    def watch(call: PublishCall) -> Iterator[None]:
        try:
            yield
        finally:
            results.append(call.result)

    def interrupt(event: Event[Any]) -> None:
        raise KeyboardInterrupt

    bus.subscribe("a.b", interrupt)
    bus.use(watch, on="publish")
    with pytest.raises(KeyboardInterrupt):
        bus.publish("a.b")
    assert results == [None]


def test_a_publish_middleware_cannot_swallow_the_publishs_exception(bus: EventBus) -> None:
    def interrupt(event: Event[Any]) -> None:
        raise KeyboardInterrupt

    bus.subscribe("a.b", interrupt)
    bus.use(lambda call: contextlib.suppress(KeyboardInterrupt), on="publish")
    with pytest.raises(KeyboardInterrupt):
        bus.publish("a.b")


def test_publish_middleware_is_not_entered_for_data_that_fails_validation(bus: EventBus) -> None:
    from typing import Literal

    class Strict(Event[dict[str, int]]):
        type: Literal["strict"] = "strict"

    entered: list[PublishCall] = []
    bus.register(Strict)
    bus.use(lambda call: entered.append(call) or contextlib.nullcontext(), on="publish")
    with pytest.raises(ValueError, match="strict"):
        bus.publish("strict", {"n": "x"})
    assert entered == []
    bus.publish("strict", {"n": 1})
    assert [type(call.event) for call in entered] == [Strict]
    assert "strict" in repr(entered[0])
    with pytest.raises(AttributeError):
        entered[0].event = Strict()  # type: ignore[misc]
    with pytest.raises(AttributeError):
        entered[0].bus = bus  # type: ignore[misc]


def test_publish_raise_errors_happens_after_publish_middleware_exit(bus: EventBus) -> None:
    results: list[Any] = []

    @contextlib.contextmanager
    def watch(call: PublishCall) -> Iterator[None]:
        yield
        results.append(call.result)

    bus.subscribe("a.b", lambda event: 1 / 0)
    bus.use(watch, on="publish")
    with pytest.raises(ExceptionGroup):
        bus.publish("a.b", raise_errors=True)
    assert [r.handled for r in results] == [1]


def test_use_refuses_an_unknown_place_and_a_non_callable(bus: EventBus) -> None:
    with pytest.raises(ValueError, match="'handler' or 'publish'"):
        bus.use(lambda call: contextlib.nullcontext(), on="subscribe")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="callable"):
        bus.use(42)  # type: ignore[call-overload]


def test_removing_one_of_two_registrations_of_a_middleware_keeps_the_other(
    bus: EventBus,
) -> None:
    log: list[str] = []
    bus.subscribe("a.b", lambda event: log.append("handler"), name="h")
    middleware = tracer(log, "m")
    remove_first = bus.use(middleware)
    remove_second = bus.use(middleware)
    remove_first()
    remove_first()  # a second call removes nothing more
    bus.publish("a.b")
    assert log == ["m enter h", "handler", "m exit"]
    log.clear()
    remove_second()
    bus.publish("a.b")
    assert log == ["handler"]


def test_publish_middleware_added_twice_is_removed_one_registration_at_a_time(
    bus: EventBus,
) -> None:
    seen: list[str] = []

    @contextlib.contextmanager
    def middleware(call: PublishCall) -> Iterator[None]:
        seen.append(call.event.type)
        yield

    bus.subscribe("a.b", lambda event: None)
    remove_first = bus.use(middleware, on="publish")
    bus.use(middleware, on="publish")
    remove_first()
    bus.publish("a.b")
    assert seen == ["a.b"]


def test_adding_and_removing_middleware_rewraps_routes_without_recomputing_them(
    bus: EventBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``use()`` and its remover (what every ``capture`` and ``wait_for`` does) keep the
    cached routes' subscriptions and only rewrap their handlers."""
    from eventbus._routing import RoutingTable

    log: list[str] = []
    bus.subscribe("a.b", lambda event: log.append("exact"), name="exact")
    bus.subscribe("x.*", lambda event: log.append("wild"), name="wild")
    for event_type in ("a.b", "x.y", "x.z"):
        bus.publish(event_type)
    subscriptions = {t: route.subscriptions for t, route in bus._routes.items()}
    computed: list[str] = []
    compute = RoutingTable._compute

    def counting(table: RoutingTable, event_type: str) -> Any:
        computed.append(event_type)
        return compute(table, event_type)

    monkeypatch.setattr(RoutingTable, "_compute", counting)
    remove = bus.use(tracer(log, "m"))
    for event_type in ("a.b", "x.y"):
        bus.publish(event_type)
    traced = ["m enter exact", "exact", "m exit", "m enter wild", "wild", "m exit"]
    assert log == ["exact", "wild", "wild", *traced]
    remove()
    log.clear()
    bus.publish("x.z")
    assert log == ["wild"]
    assert computed == []
    assert {t: route.subscriptions for t, route in bus._routes.items()} == subscriptions
    assert bus._routes["x.y"] is bus._routes["x.z"]  # one route per shape, still shared


async def _async_middleware(call: HandlerCall) -> None:
    return None


@contextlib.asynccontextmanager
async def _async_context_middleware(call: HandlerCall) -> Any:
    yield


@pytest.mark.parametrize("middleware", [_async_middleware, _async_context_middleware])
def test_use_refuses_an_async_middleware_saying_why(bus: EventBus, middleware: Any) -> None:
    with pytest.raises(TypeError, match=r"sync context manager.*sync and async handlers"):
        bus.use(middleware)
    with pytest.raises(TypeError, match="is async"):
        bus.use(middleware, on="publish")


def test_a_middleware_returning_no_context_manager_fails_that_call_naming_it(
    bus: EventBus,
) -> None:
    def forgetful(call: HandlerCall) -> Any:
        return "not a manager"

    bus.subscribe("a.b", lambda event: None, name="h")
    bus.use(forgetful)
    result = bus.publish("a.b")
    [failure] = result.errors
    assert isinstance(failure.exception, TypeError)
    assert "forgetful" in str(failure.exception)
    assert "returned 'not a manager', not a context manager" in str(failure.exception)


@pytest.mark.anyio
async def test_an_async_handler_call_fails_the_same_way(bus: EventBus) -> None:
    async def handler(event: Event[Any]) -> None:
        return None

    bus.subscribe("a.b", handler)
    bus.use(lambda call: None)
    result = await bus.publish_async("a.b")
    [failure] = result.errors
    assert isinstance(failure.exception, TypeError)
    assert "returned None, not a context manager" in str(failure.exception)


def test_a_publish_middleware_returning_no_context_manager_raises_from_publish(
    bus: EventBus,
) -> None:
    bus.use(lambda call: 42, on="publish")
    with pytest.raises(TypeError, match="returned 42, not a context manager"):
        bus.publish("a.b")
