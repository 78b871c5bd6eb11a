"""Typed event classes: registration, validation where data enters, delivery by class."""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal

import pytest
from pydantic import BaseModel

from eventbus import (
    Event,
    EventBus,
    EventClassConflictError,
    EventValidationError,
    MalformedEventError,
)
from eventbus.testing import capture


class Invoice(BaseModel):
    id: str
    amount_paid: int


class InvoiceData(BaseModel):
    object: Invoice


class InvoicePaid(Event[InvoiceData]):
    type: Literal["invoice.paid"] = "invoice.paid"


class Sub(BaseModel):
    id: str
    status: str = "active"


class SubData(BaseModel):
    object: Sub


class SubscriptionEvent(Event[SubData]):
    event_pattern: ClassVar[str] = "customer.subscription.*"


class SubscriptionRenewed(SubscriptionEvent):
    type: Literal["customer.subscription.renewed"] = "customer.subscription.renewed"


class InvoiceChanged(Event[InvoiceData]):
    type: Literal["invoice.updated", "invoice.finalized"]


INVOICE = {"object": {"id": "in_1", "amount_paid": 2000}}


def test_publish_raw_data_validates_into_registered_class(bus: EventBus) -> None:
    """Publishing a registered type with a dict builds the typed class, fields typed."""
    bus.register(InvoicePaid)
    result = bus.publish("invoice.paid", INVOICE)
    assert isinstance(result.event, InvoicePaid)
    assert result.event.data.object.amount_paid == 2000


def test_subscribe_by_class_registers_and_delivers_instances(bus: EventBus) -> None:
    """A handler subscribed by class receives instances of that class."""
    got: list[Any] = []
    bus.subscribe(InvoicePaid, got.append)
    bus.publish("invoice.paid", INVOICE)
    assert len(got) == 1
    assert isinstance(got[0], InvoicePaid)
    assert bus.event_class_for("invoice.paid") is InvoicePaid


def test_on_with_class_returns_function(bus: EventBus) -> None:
    """@bus.on(Class) subscribes and returns the function unchanged."""
    got: list[Any] = []

    def handler(event: InvoicePaid) -> None:
        got.append(event)

    assert bus.on(InvoicePaid)(handler) is handler
    bus.publish("invoice.paid", INVOICE)
    assert [type(event) for event in got] == [InvoicePaid]


def test_invalid_data_raises_naming_type_and_field_and_publishes_nothing(bus: EventBus) -> None:
    """Bad data for a known type raises naming the field path; no handler runs."""
    got: list[Any] = []
    bus.subscribe(InvoicePaid, got.append)
    match = r"invoice\.paid.*data\.object\.amount_paid"
    with capture(bus) as captured, pytest.raises(EventValidationError, match=match):
        bus.publish("invoice.paid", {"object": {"id": "in_1", "amount_paid": "lots"}})
    assert got == []
    assert captured.events == []


def test_event_validation_error_is_value_error_with_details(bus: EventBus) -> None:
    """EventValidationError is a ValueError carrying type, class and pydantic's errors."""
    bus.register(InvoicePaid)
    with pytest.raises(ValueError, match=r"invalid 'invoice\.paid' event") as caught:
        bus.publish("invoice.paid", {"object": {}})
    error = caught.value
    assert isinstance(error, EventValidationError)
    assert error.event_type == "invoice.paid"
    assert error.event_class is InvoicePaid
    assert {tuple(err["loc"]) for err in error.errors} == {
        ("data", "object", "id"),
        ("data", "object", "amount_paid"),
    }


def test_typed_type_without_data_validates_empty_payload(bus: EventBus) -> None:
    """Publishing a typed type with no data fails when the model requires fields."""
    bus.register(InvoicePaid)
    with pytest.raises(EventValidationError, match=r"data\.object"):
        bus.publish("invoice.paid")


def test_unknown_types_become_plain_events(bus: EventBus) -> None:
    """A type no class covers is published as a plain Event with dict data."""
    bus.register(InvoicePaid)
    result = bus.publish("invoice.voided", {"anything": [1, 2]})
    assert type(result.event) is Event
    assert result.event.data == {"anything": [1, 2]}


def test_built_instance_is_not_validated_again(bus: EventBus) -> None:
    """Publishing an already-built instance delivers that very object."""
    bus.register(InvoicePaid)
    event = InvoicePaid(data=InvoiceData(object=Invoice(id="in_1", amount_paid=5)))
    assert bus.publish(event).event is event


def test_plain_event_of_typed_type_is_validated_into_class(bus: EventBus) -> None:
    """A plain Event of a registered type reaches class handlers as the class, ids kept."""
    got: list[Any] = []
    bus.subscribe(InvoicePaid, got.append)
    plain = Event(type="invoice.paid", data=INVOICE, livemode=True)
    bus.publish(plain)
    assert isinstance(got[0], InvoicePaid)
    assert (got[0].id, got[0].created, got[0].model_extra) == (
        plain.id,
        plain.created,
        {"livemode": True},
    )
    with pytest.raises(EventValidationError):
        bus.publish(Event(type="invoice.paid", data={"object": {}}))


def test_family_handler_receives_every_member(bus: EventBus) -> None:
    """A handler on a family class gets every member type, as the most specific class."""
    got: list[Any] = []
    bus.subscribe(SubscriptionEvent, got.append)
    bus.register(SubscriptionRenewed)
    bus.publish("customer.subscription.renewed", {"object": {"id": "sub_1"}})
    bus.publish("customer.subscription.paused", {"object": {"id": "sub_1"}})
    bus.publish("customer.created", {})
    assert [type(event) for event in got] == [SubscriptionRenewed, SubscriptionEvent]


def test_member_not_subclassing_family_is_rejected_naming_both(bus: EventBus) -> None:
    """Registering a member that does not subclass its family fails at registration."""

    class Stray(Event[dict[str, Any]]):
        type: Literal["customer.subscription.paused"] = "customer.subscription.paused"

    bus.register(SubscriptionEvent)
    with pytest.raises(EventClassConflictError, match=r"Stray.*SubscriptionEvent"):
        bus.register(Stray)
    bus.register(SubscriptionRenewed)  # a proper member is accepted


def test_family_registered_after_stray_member_is_rejected(bus: EventBus) -> None:
    """A family covering an already registered class that does not subclass it is rejected."""

    class Stray(Event[dict[str, Any]]):
        type: Literal["customer.subscription.paused"] = "customer.subscription.paused"

    bus.register(Stray)
    with pytest.raises(EventClassConflictError):
        bus.register(SubscriptionEvent)


def test_multi_literal_class_covers_each_type(bus: EventBus) -> None:
    """A class whose type is a Literal of several values stands for each of them."""
    got: list[str] = []
    bus.subscribe(InvoiceChanged, lambda event: got.append(event.type))
    bus.publish("invoice.updated", INVOICE)
    bus.publish("invoice.finalized", INVOICE)
    bus.publish("invoice.paid", INVOICE)
    assert got == ["invoice.updated", "invoice.finalized"]


@pytest.mark.parametrize(
    ("registered", "expected"),
    [
        pytest.param(["exact", "pattern"], "exact", id="exact-beats-pattern"),
        pytest.param(["pattern", "exact"], "exact", id="exact-beats-later-pattern"),
        pytest.param(["deep", "shallow"], "deep", id="more-literals-beat-fewer"),
        pytest.param(["shallow", "deep"], "deep", id="more-literals-beat-later"),
        pytest.param(["shallow", "shallow2"], "shallow2", id="later-wins-between-equals"),
    ],
)
def test_registry_precedence(bus: EventBus, registered: list[str], expected: str) -> None:
    """Exact beats pattern, more literal segments beat fewer, later wins between equals."""

    class Shallow(Event[dict[str, Any]]):
        event_pattern: ClassVar[str] = "a.**"

    class Shallow2(Event[dict[str, Any]]):
        event_pattern: ClassVar[str] = "*.b.c"

    class Deep(Shallow, Shallow2):
        event_pattern: ClassVar[str] = "a.b.*"

    class Exact(Deep):
        type: Literal["a.b.c"] = "a.b.c"

    classes = {"exact": Exact, "pattern": Deep, "deep": Deep, "shallow": Shallow}
    classes["shallow2"] = Shallow2
    for key in registered:
        bus.register(classes[key])
    assert bus.event_class_for("a.b.c") is classes[expected]


def test_class_without_type_is_a_type_error(bus: EventBus) -> None:
    """Subscribing by a class that declares no type names the fix."""

    class Vague(Event[dict[str, Any]]):
        pass

    with pytest.raises(TypeError, match="declares no event type"):
        bus.subscribe(Vague, print)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(json.dumps({"type": "invoice.paid", "data": INVOICE}).encode(), id="bytes"),
        pytest.param(json.dumps({"type": "invoice.paid", "data": INVOICE}), id="str"),
        pytest.param({"type": "invoice.paid", "data": INVOICE}, id="mapping"),
    ],
)
def test_parse_picks_registered_class(bus: EventBus, raw: Any) -> None:
    """bus.parse turns bytes, str or a mapping into the registered class."""
    bus.register(InvoicePaid)
    event = bus.parse(raw)
    assert isinstance(event, InvoicePaid)
    assert event.data.object.id == "in_1"


def test_parse_keeps_unknown_fields_and_platform_timestamps(bus: EventBus) -> None:
    """A Payment Kit body keeps livemode etc. and its created_at lands in created."""
    body = b'{"id":"evt_1","type":"x.y","livemode":false,"created_at":"2025-02-19T21:20:00.000Z"}'
    event = bus.parse(body)
    assert event.id == "evt_1"
    assert event.created.isoformat() == "2025-02-19T21:20:00+00:00"
    assert event.model_extra == {"livemode": False}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param(b"{not json", "not valid JSON", id="not-json"),
        pytest.param(b"[1, 2]", "JSON list, not an object", id="array"),
        pytest.param(b'{"id": "evt_1"}', "no 'type'", id="no-type"),
        pytest.param(b'{"type": "a..b"}', "'type' is invalid", id="bad-type"),
        pytest.param(b'{"type": 7}', "'type' is invalid", id="type-not-string"),
    ],
)
def test_parse_rejects_what_is_not_an_event(bus: EventBus, raw: bytes, reason: str) -> None:
    """Input that is not an event object raises MalformedEventError saying why."""
    with pytest.raises(MalformedEventError, match=reason):
        bus.parse(raw)


def test_parse_invalid_data_for_known_type(bus: EventBus) -> None:
    """A known type whose data fails its model raises EventValidationError from parse."""
    bus.register(InvoicePaid)
    with pytest.raises(EventValidationError, match="amount_paid"):
        bus.parse(b'{"type": "invoice.paid", "data": {"object": {"id": "in_1"}}}')


def test_unrelated_class_cannot_take_over_a_subscribed_type(bus: EventBus) -> None:
    """A second, unrelated class for a type someone subscribed to by class is refused."""

    class Other(Event[dict[str, Any]]):
        type: Literal["invoice.paid"] = "invoice.paid"

    got: list[Any] = []
    bus.subscribe(InvoicePaid, got.append)
    with pytest.raises(EventClassConflictError, match=r"Other.*InvoicePaid"):
        bus.subscribe(Other, got.append)
    with pytest.raises(EventClassConflictError):
        bus.register(Other)
    bus.publish("invoice.paid", INVOICE)
    assert [type(event) for event in got] == [InvoicePaid]


def test_subclass_may_take_over_a_subscribed_type(bus: EventBus) -> None:
    """A subclass of the subscribed class may replace it: handlers still get what they asked."""

    class Richer(InvoicePaid):
        pass

    got: list[Any] = []
    bus.subscribe(InvoicePaid, got.append)
    bus.register(Richer)
    bus.publish("invoice.paid", INVOICE)
    assert [type(event) for event in got] == [Richer]


def test_typed_instance_cannot_be_built_without_required_data() -> None:
    """Building a typed class with no data validates the empty payload, as publishing does."""
    with pytest.raises(ValueError, match=r"data\.object"):
        InvoicePaid()


def test_publish_accepts_str_enum_types(bus: EventBus) -> None:
    """A StrEnum member publishes and subscribes as its value."""
    from enum import StrEnum

    class Types(StrEnum):
        PAID = "invoice.paid"

    got: list[str] = []
    bus.subscribe(Types.PAID, lambda event: got.append(event.type))
    result = bus.publish(Types.PAID, INVOICE)
    assert got == ["invoice.paid"]
    assert type(result.event.type) is str


def test_parse_unknown_type_with_bad_envelope_is_malformed(bus: EventBus) -> None:
    """An unregistered type whose envelope fields are wrong is malformed (400), not 422."""
    with pytest.raises(MalformedEventError, match=r"created"):
        bus.parse(b'{"type": "never.registered", "created": "not a date"}')
