"""The process-wide default bus and the module-level functions that act on it."""

from __future__ import annotations

import pytest

import eventbus
from eventbus import Event, EventBus, PublishError


def test_default_bus_is_one_bus() -> None:
    """default_bus() returns the same EventBus every time."""
    bus = eventbus.default_bus()
    assert isinstance(bus, EventBus)
    assert eventbus.default_bus() is bus


def test_module_subscribe_and_publish_use_the_real_default_bus() -> None:
    """Module-level subscribe and publish act on default_bus() without any swapping."""
    calls: list[str] = []
    sub = eventbus.subscribe("test.default.real", lambda event: calls.append(event.type))
    try:
        assert eventbus.default_bus().publish("test.default.real").handled == 1
        assert eventbus.publish("test.default.real").handled == 1
    finally:
        sub.unsubscribe()
    assert calls == ["test.default.real"] * 2
    assert eventbus.publish("test.default.real").handled == 0


def test_module_subscribe_reaches_default_bus() -> None:
    """eventbus.subscribe(pattern, handler) subscribes on the current default bus."""
    with eventbus.use_bus(EventBus()) as bus:
        calls: list[str] = []
        sub = eventbus.subscribe("invoice.*", lambda event: calls.append(event.type))
        assert bus.publish("invoice.paid").handled == 1
        assert calls == ["invoice.paid"]
        sub.unsubscribe()
        assert bus.publish("invoice.paid").handled == 0


def test_module_subscribe_without_pattern_receives_everything() -> None:
    """eventbus.subscribe(handler) receives every event on the default bus."""
    with eventbus.use_bus(EventBus()) as bus:
        calls: list[str] = []
        eventbus.subscribe(lambda event: calls.append(event.type))
        bus.publish("a")
        bus.publish("invoice.paid")
        assert calls == ["a", "invoice.paid"]


def test_module_subscribe_options() -> None:
    """eventbus.subscribe passes priority, once and name through to the default bus."""
    with eventbus.use_bus(EventBus()) as bus:
        calls: list[str] = []
        eventbus.subscribe("invoice.paid", lambda event: calls.append("low"))
        sub = eventbus.subscribe(
            "invoice.paid", lambda event: calls.append("high"), priority=5, once=True, name="hi"
        )
        assert sub.name == "hi"
        bus.publish("invoice.paid")
        bus.publish("invoice.paid")
        assert calls == ["high", "low", "low"]


def test_module_on_decorator() -> None:
    """@eventbus.on(pattern) subscribes on the default bus and returns the function unchanged."""
    with eventbus.use_bus(EventBus()) as bus:
        calls: list[str] = []

        def handler(event: Event) -> None:
            calls.append(event.type)

        assert eventbus.on("invoice.paid", priority=1)(handler) is handler
        bus.publish("invoice.paid")
        bus.publish("invoice.voided")
        assert calls == ["invoice.paid"]


@pytest.mark.parametrize(
    "form",
    [
        pytest.param("bare", id="bare-decorator"),
        pytest.param("called", id="called-without-arguments"),
    ],
)
def test_module_on_without_pattern_receives_everything(form: str) -> None:
    """@eventbus.on and @eventbus.on() subscribe to every event on the default bus."""
    with eventbus.use_bus(EventBus()) as bus:
        calls: list[str] = []

        def handler(event: Event) -> None:
            calls.append(event.type)

        decorated = eventbus.on(handler) if form == "bare" else eventbus.on()(handler)
        assert decorated is handler
        bus.publish("a")
        bus.publish("invoice.paid")
        assert calls == ["a", "invoice.paid"]


def test_module_publish_reaches_default_bus() -> None:
    """eventbus.publish delivers through the current default bus and returns its result."""
    with eventbus.use_bus(EventBus()) as bus:
        delivered: list[Event] = []
        bus.subscribe("invoice.paid", delivered.append)
        result = eventbus.publish("invoice.paid", {"amount": 1})
        assert delivered == [result.event]
        assert result.event.data == {"amount": 1}
        event = Event(type="invoice.paid")
        assert eventbus.publish(event).event is event


def test_module_publish_raise_errors() -> None:
    """eventbus.publish(raise_errors=True) raises PublishError like the bus method."""
    with eventbus.use_bus(EventBus()) as bus:

        def fail(event: Event) -> None:
            raise ValueError("bad")

        bus.subscribe("invoice.paid", fail)
        assert not eventbus.publish("invoice.paid").ok
        with pytest.raises(PublishError):
            eventbus.publish("invoice.paid", raise_errors=True)


@pytest.mark.anyio
async def test_module_publish_async_reaches_default_bus() -> None:
    """eventbus.publish_async delivers through the current default bus, async handlers too."""
    with eventbus.use_bus(EventBus()) as bus:
        delivered: list[Event] = []

        async def handler(event: Event) -> None:
            delivered.append(event)

        bus.subscribe("invoice.paid", handler)
        result = await eventbus.publish_async("invoice.paid", {"amount": 1})
        assert delivered == [result.event]


def test_use_bus_swaps_for_the_block() -> None:
    """use_bus makes a bus the default inside the block and restores the old one after."""
    original = eventbus.default_bus()
    replacement = EventBus()
    with eventbus.use_bus(replacement) as inside:
        assert inside is replacement
        assert eventbus.default_bus() is replacement
    assert eventbus.default_bus() is original


def test_use_bus_restores_on_exception() -> None:
    """use_bus restores the previous default bus when the block raises."""
    original = eventbus.default_bus()
    with pytest.raises(RuntimeError, match="boom"), eventbus.use_bus(EventBus()):
        raise RuntimeError("boom")
    assert eventbus.default_bus() is original


def test_use_bus_nests() -> None:
    """Nested use_bus blocks restore each previous bus in turn."""
    original = eventbus.default_bus()
    outer, inner = EventBus(), EventBus()
    with eventbus.use_bus(outer):
        with eventbus.use_bus(inner):
            assert eventbus.default_bus() is inner
        assert eventbus.default_bus() is outer
    assert eventbus.default_bus() is original


def test_use_bus_isolates_subscriptions() -> None:
    """Subscriptions made inside a use_bus block do not reach the default bus after it."""
    calls: list[str] = []
    with eventbus.use_bus(EventBus()):
        eventbus.subscribe("test.isolated", lambda event: calls.append("inside"))
    assert eventbus.publish("test.isolated").handled == 0
    assert calls == []


def test_module_on_takes_weak() -> None:
    """eventbus.on(..., weak=True) holds the handler weakly, as bus.on does."""
    import gc

    with eventbus.use_bus(EventBus()) as bus:

        def make() -> None:
            @eventbus.on("test.default.weak", weak=True)
            def handler(event: object) -> None:
                raise AssertionError("collected")

        make()
        gc.collect()
        assert bus.subscriptions == ()


def test_module_publish_takes_skip() -> None:
    """eventbus.publish and publish_async pass skip= on to the default bus."""
    with eventbus.use_bus(EventBus()) as bus:
        got: list[str] = []
        bus.subscribe("test.default.skip", lambda event: got.append("a"), name="a")
        bus.subscribe("test.default.skip", lambda event: got.append("b"), name="b")
        assert eventbus.publish("test.default.skip", skip={"a"}).handled == 1
        import anyio

        result = anyio.run(lambda: eventbus.publish_async("test.default.skip", skip={"b"}))
        assert result.handled == 1
        assert got == ["b", "a"]
