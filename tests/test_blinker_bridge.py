"""The blinker bridge: bus events to signals, signal sends to the bus, never looping."""

from __future__ import annotations

from typing import Any, Literal

import anyio.to_thread
import blinker
import flask
import pytest
from pydantic import BaseModel

from eventbus import Event, EventBus, EventValidationError, InvalidEventTypeError
from eventbus import blinker as bridge
from eventbus.testing import capture


class Receiver:
    """A blinker receiver that records (sender, kwargs) per call."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, dict[str, Any]]] = []

    def __call__(self, sender: Any, /, **kwargs: Any) -> None:
        self.calls.append((sender, kwargs))


@pytest.fixture
def signal() -> blinker.Signal:
    """A fresh anonymous signal."""
    return blinker.Signal()


@pytest.fixture
def receiver() -> Receiver:
    """A recording receiver."""
    return Receiver()


# -- bus -> blinker --------------------------------------------------------------------


def test_to_signal_sends_matching_events(
    bus: EventBus, signal: blinker.Signal, receiver: Receiver
) -> None:
    """Every event matching the pattern is sent with sender=its type and event=the event."""
    signal.connect(receiver)
    bridge.to_signal(bus, "invoice.*", signal)
    paid = bus.publish("invoice.paid", {"n": 1}).event
    bus.publish("customer.created")
    assert receiver.calls == [("invoice.paid", {"event": paid})]


def test_to_signal_sender_is_the_type(
    bus: EventBus, signal: blinker.Signal, receiver: Receiver
) -> None:
    """A receiver connected with sender=<type> gets that type only."""
    signal.connect(receiver, sender="invoice.paid")
    bridge.to_signal(bus, "**", signal)
    bus.publish("invoice.created")
    bus.publish("invoice.paid")
    assert [sender for sender, _ in receiver.calls] == ["invoice.paid"]


def test_to_signal_without_signal_makes_one(bus: EventBus, receiver: Receiver) -> None:
    """Without a signal the bridge creates an anonymous one, exposed as .signal."""
    link = bridge.to_signal(bus, "a.*")
    assert isinstance(link.signal, blinker.Signal)
    link.signal.connect(receiver)
    bus.publish("a.b")
    assert [sender for sender, _ in receiver.calls] == ["a.b"]
    assert (link.direction, link.pattern, link.bus) == ("to_signal", "a.*", bus)


def test_to_signal_close_stops_sending(
    bus: EventBus, signal: blinker.Signal, receiver: Receiver
) -> None:
    """close() ends the bridge; closing twice does nothing."""
    signal.connect(receiver)
    link = bridge.to_signal(bus, "x", signal)
    assert link.active
    link.close()
    link.close()
    assert not link.active
    bus.publish("x")
    assert receiver.calls == []
    assert bus.subscriptions == ()


def test_to_signal_as_context_manager(
    bus: EventBus, signal: blinker.Signal, receiver: Receiver
) -> None:
    """Used as a context manager the bridge lasts for the block."""
    signal.connect(receiver)
    with bridge.to_signal(bus, "x", signal) as link:
        bus.publish("x")
    bus.publish("x")
    assert len(receiver.calls) == 1
    assert not link.active


def test_to_signal_receiver_failure_is_in_the_result(bus: EventBus, signal: blinker.Signal) -> None:
    """A receiver that raises fails the bridge handler; the publish reports it, others run."""

    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("receiver broke")

    signal.connect(broken)
    seen: list[Event[Any]] = []
    bridge.to_signal(bus, "x", signal)
    bus.subscribe("x", seen.append)
    result = bus.publish("x")
    assert len(seen) == 1
    assert [str(failure.exception) for failure in result.errors] == ["receiver broke"]


def test_to_signal_priority(bus: EventBus, signal: blinker.Signal) -> None:
    """The bridge handler's priority orders it among the bus's handlers."""
    order: list[str] = []
    signal.connect(lambda sender, **kwargs: order.append("signal"), weak=False)
    bus.subscribe("x", lambda event: order.append("bus"))
    bridge.to_signal(bus, "x", signal, priority=5)
    bus.publish("x")
    assert order == ["signal", "bus"]


# -- blinker -> bus --------------------------------------------------------------------


def test_from_signal_publishes_each_send(bus: EventBus, signal: blinker.Signal) -> None:
    """Each send is published as the chosen type with sender and kwargs in data, as is."""
    payload = object()
    link = bridge.from_signal(signal, bus, "lib.thing_done")
    with capture(bus) as captured:
        signal.send("me", payload=payload, count=2)
    (event,) = captured.events
    assert event.type == "lib.thing_done"
    assert event.data == {"sender": "me", "payload": payload, "count": 2}
    assert event.data["payload"] is payload
    assert (link.direction, link.pattern, link.signal) == ("from_signal", "lib.thing_done", signal)


def test_from_signal_sender_shadows_a_sender_kwarg(bus: EventBus, signal: blinker.Signal) -> None:
    """A keyword argument named sender is shadowed by the real sender."""
    bridge.from_signal(signal, bus, "x")
    with capture(bus) as captured:
        signal.send("real", sender="kwarg")
    assert captured.events[0].data == {"sender": "real"}


def test_from_signal_filters_by_sender(bus: EventBus, signal: blinker.Signal) -> None:
    """With sender=..., only sends from that sender are published."""
    wanted, other = object(), object()
    bridge.from_signal(signal, bus, "x", sender=wanted)
    with capture(bus) as captured:
        signal.send(other)
        signal.send(wanted)
    assert [event.data["sender"] for event in captured.events] == [wanted]


def test_from_signal_data_builder(bus: EventBus, signal: blinker.Signal) -> None:
    """data= builds the event's data from the sender and kwargs."""
    bridge.from_signal(signal, bus, "x", data=lambda sender, **kw: {"who": repr(sender), **kw})
    with capture(bus) as captured:
        signal.send(7, n=1)
    assert captured.events[0].data == {"who": "7", "n": 1}


def test_from_signal_close_disconnects(bus: EventBus, signal: blinker.Signal) -> None:
    """close() disconnects the receiver; the signal has no receivers left."""
    with bridge.from_signal(signal, bus, "x") as link:
        assert link.active
    assert not link.active
    assert not signal.receivers
    link.close()
    with capture(bus) as captured:
        signal.send("me")
    assert captured.events == []


def test_from_signal_rejects_malformed_type(bus: EventBus, signal: blinker.Signal) -> None:
    """A malformed event type fails when the bridge is made, not at the first send."""
    with pytest.raises(InvalidEventTypeError):
        bridge.from_signal(signal, bus, "not a type")
    assert not signal.receivers


class Progress(BaseModel):
    sender: str
    done: int


class ProgressEvent(Event[Progress]):
    type: Literal["job.progress"] = "job.progress"


def test_from_signal_validates_into_registered_class(bus: EventBus, signal: blinker.Signal) -> None:
    """A registered class for the type validates the data; invalid data raises to the sender."""
    got: list[ProgressEvent] = []
    bus.subscribe(ProgressEvent, got.append)
    bridge.from_signal(signal, bus, "job.progress")
    signal.send("job-1", done="3")
    assert got[0].data == Progress(sender="job-1", done=3)
    with pytest.raises(EventValidationError, match=r"data\.done"):
        signal.send("job-1", done="lots")
    assert len(got) == 1


def test_from_signal_handler_failure_does_not_reach_sender(
    bus: EventBus, signal: blinker.Signal
) -> None:
    """A failing bus handler is reported in the result, not raised into signal.send."""
    bus.subscribe("x", lambda event: 1 / 0)
    bridge.from_signal(signal, bus, "x")
    with capture(bus) as captured:
        signal.send("me")
    assert not captured.results[0].ok


def test_bridge_repr(bus: EventBus, signal: blinker.Signal) -> None:
    """A bridge's repr shows its direction and pattern."""
    assert "-> " in repr(bridge.to_signal(bus, "a.*", signal))
    assert "<- " in repr(bridge.from_signal(signal, bus, "a.b"))


# -- both ways -------------------------------------------------------------------------


@pytest.fixture
def both_ways(bus: EventBus, signal: blinker.Signal, receiver: Receiver) -> Receiver:
    """``signal`` bridged to and from ``bus`` under one type, with a receiver connected."""
    signal.connect(receiver)
    bridge.to_signal(bus, "app.ping", signal)
    bridge.from_signal(signal, bus, "app.ping")
    return receiver


def test_both_ways_bus_event_is_sent_once(
    bus: EventBus, both_ways: Receiver, signal: blinker.Signal
) -> None:
    """A bus event reaches the receiver once and is not published back."""
    with capture(bus) as captured:
        event = bus.publish("app.ping").event
    assert both_ways.calls == [("app.ping", {"event": event})]
    assert captured.events == [event]


def test_both_ways_signal_send_is_published_once(
    bus: EventBus, both_ways: Receiver, signal: blinker.Signal
) -> None:
    """A send reaches the bus once and is not sent back to the signal."""
    with capture(bus) as captured:
        signal.send("origin", n=1)
    assert [event.data for event in captured.events] == [{"sender": "origin", "n": 1}]
    assert both_ways.calls == [("origin", {"n": 1})]


def test_both_ways_across_worker_threads(signal: blinker.Signal, receiver: Receiver) -> None:
    """With sync handlers in worker threads the bridge still does not loop."""
    threaded = EventBus(sync_handlers="thread")
    signal.connect(receiver)
    bridge.to_signal(threaded, "app.ping", signal)
    bridge.from_signal(signal, threaded, "app.ping")

    async def tick(event: Event[Any]) -> None:
        pass

    threaded.subscribe("app.ping", tick)  # an async handler: publish runs a loop
    with capture(threaded) as captured:
        threaded.publish("app.ping")
    assert len(receiver.calls) == 1
    assert len(captured.events) == 1


@pytest.mark.anyio
async def test_both_ways_from_async_code(
    bus: EventBus, both_ways: Receiver, signal: blinker.Signal
) -> None:
    """publish_async and sends from worker threads do not loop either."""
    with capture(bus) as captured:
        await bus.publish_async("app.ping")
        await anyio.to_thread.run_sync(lambda: signal.send("thread"))
    assert len(captured.events) == 2
    assert [sender for sender, _ in both_ways.calls] == ["app.ping", "thread"]


def test_separate_sends_are_each_relayed(
    bus: EventBus, both_ways: Receiver, signal: blinker.Signal
) -> None:
    """Loop prevention is per send: later sends and publishes are relayed again."""
    for _ in range(3):
        bus.publish("app.ping")
        signal.send("s")
    assert len(both_ways.calls) == 6


# -- Flask ---------------------------------------------------------------------------


def make_app() -> flask.Flask:
    """A Flask app with one route."""
    app = flask.Flask("bridge_test_app")

    @app.get("/hello")
    def hello() -> str:
        return "hello"

    return app


def test_flask_request_finished_reaches_the_bus(bus: EventBus) -> None:
    """A real Flask request's request_finished signal is published as a bus event."""
    app = make_app()
    got: list[Event[Any]] = []
    bus.subscribe("flask.request_finished", got.append)
    with bridge.from_signal(flask.request_finished, bus, "flask.request_finished", sender=app):
        assert app.test_client().get("/hello").status_code == 200
    app.test_client().get("/hello")
    (event,) = got
    assert event.data["sender"] is app
    assert event.data["response"].status_code == 200
    assert event.data["response"].get_data() == b"hello"


def test_flask_request_finished_with_json_data(bus: EventBus) -> None:
    """A data builder turns Flask's objects into JSON-able event data."""
    app = make_app()

    def describe(sender: flask.Flask, *, response: flask.Response) -> dict[str, Any]:
        return {"app": sender.name, "status": response.status_code}

    with (
        capture(bus, "http.*") as captured,
        bridge.from_signal(flask.request_finished, bus, "http.finished", sender=app, data=describe),
    ):
        app.test_client().get("/missing")
    assert captured.events[0].data == {"app": "bridge_test_app", "status": 404}
    assert '"status":404' in captured.events[0].model_dump_json()


# -- public surface --------------------------------------------------------------------


def test_module_imports_the_real_blinker() -> None:
    """eventbus.blinker uses the blinker library, not itself, and exports its three names."""
    assert vars(bridge)["blinker"] is blinker
    assert bridge.__all__ == sorted(bridge.__all__) == ["Bridge", "from_signal", "to_signal"]
