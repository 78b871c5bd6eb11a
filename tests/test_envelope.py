"""The Event envelope: defaults, accepted inputs, round-trips, immutability, causality."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from eventbus import Event, EventBus

NOV_14_2023 = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)  # unix time 1700000000


def assert_utc(moment: datetime) -> None:
    """Check a datetime is timezone-aware and in UTC."""
    assert moment.tzinfo is not None
    assert moment.utcoffset() == timedelta(0)


# -- defaults ------------------------------------------------------------------------------


def test_defaults() -> None:
    """A bare event gets an evt_ id, empty data, no source and no parent outside handlers."""
    event = Event(type="invoice.paid")
    assert event.id.startswith("evt_")
    assert len(event.id) > len("evt_")
    assert event.type == "invoice.paid"
    assert event.data == {}
    assert event.source is None
    assert event.parent_id is None


def test_default_data_is_not_shared() -> None:
    """Each event gets its own empty data dict."""
    first, second = Event(type="a"), Event(type="a")
    assert first.data is not second.data


def test_created_defaults_to_now_in_utc() -> None:
    """created defaults to the current time, timezone-aware and in UTC."""
    before = datetime.now(UTC)
    event = Event(type="invoice.paid")
    after = datetime.now(UTC)
    assert_utc(event.created)
    assert before <= event.created <= after


def test_ids_are_unique() -> None:
    """Many events made in a row all have different ids."""
    ids = [Event(type="a").id for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert all(event_id.startswith("evt_") for event_id in ids)


def test_ids_are_unique_across_threads() -> None:
    """Events made concurrently in many threads all have different ids."""
    barrier = threading.Barrier(8)
    ids: list[list[str]] = []

    def make() -> None:
        barrier.wait()
        ids.append([Event(type="a").id for _ in range(2_000)])

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    flat = [event_id for chunk in ids for event_id in chunk]
    assert len(flat) == 16_000
    assert len(set(flat)) == len(flat)


def test_explicit_fields_are_kept() -> None:
    """An id, source and data given explicitly are used as is."""
    event = Event(id="evt_given", type="invoice.paid", data={"amount": 5}, source="payment-kit")
    assert (event.id, event.data, event.source) == ("evt_given", {"amount": 5}, "payment-kit")


# -- created: accepted inputs --------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(1_700_000_000, id="unix-seconds-int"),
        pytest.param(1_700_000_000.0, id="unix-seconds-float"),
        pytest.param("2023-11-14T22:13:20Z", id="iso-z"),
        pytest.param("2023-11-14T22:13:20+00:00", id="iso-utc-offset"),
        pytest.param("2023-11-15T00:13:20+02:00", id="iso-other-offset"),
        pytest.param("2023-11-14T22:13:20", id="iso-naive"),
        pytest.param(NOV_14_2023, id="aware-datetime"),
        pytest.param(datetime(2023, 11, 14, 22, 13, 20), id="naive-datetime"),
        pytest.param(
            datetime(2023, 11, 14, 17, 13, 20, tzinfo=timezone(timedelta(hours=-5))),
            id="datetime-other-zone",
        ),
    ],
)
def test_created_accepts_webhook_formats(value: Any) -> None:
    """created takes unix seconds, ISO strings and datetimes; naive is UTC; stored in UTC."""
    event = Event.model_validate({"type": "invoice.paid", "created": value})
    assert event.created == NOV_14_2023
    assert_utc(event.created)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("created", id="created"),
        pytest.param("created_at", id="created_at"),
        pytest.param("time", id="time"),
    ],
)
def test_created_accepts_platform_input_names(name: str) -> None:
    """created is read from the platform's input names created_at and time too."""
    event = Event.model_validate({"type": "invoice.paid", name: "2023-11-14T22:13:20Z"})
    assert event.created == NOV_14_2023
    assert_utc(event.created)
    assert "created" in event.model_dump()


def test_created_input_names_work_as_keywords() -> None:
    """The input names are accepted by the constructor as well as by model_validate."""
    assert Event(type="a", created_at=1_700_000_000).created == NOV_14_2023
    assert Event(type="a", time=1_700_000_000).created == NOV_14_2023


def test_invalid_created_is_rejected() -> None:
    """A created value that is not a time raises a validation error."""
    with pytest.raises(ValidationError):
        Event.model_validate({"type": "a", "created": "not a time"})


# -- unknown fields and round-trips --------------------------------------------------------

PAYLOAD: dict[str, Any] = {
    "id": "evt_1NG8Du2eZvKYlo2CUI79vXWy",
    "type": "customer.subscription.trial_will_end",
    "created_at": 1_700_000_000,
    "data": {"object": {"id": "sub_1", "amount": 500, "items": [1, 2]}},
    "livemode": False,
    "api_version": "2024-04-10",
    "request": {"id": None, "idempotency_key": "abc"},
}


def test_unknown_fields_are_kept() -> None:
    """Top-level fields the model does not declare stay on the event and in model_dump."""
    event = Event.model_validate(PAYLOAD)
    dumped = event.model_dump()
    assert dumped["livemode"] is False
    assert dumped["api_version"] == "2024-04-10"
    assert dumped["request"] == {"id": None, "idempotency_key": "abc"}
    assert event.model_extra == {
        "livemode": False,
        "api_version": "2024-04-10",
        "request": {"id": None, "idempotency_key": "abc"},
    }


def test_round_trip_through_model_dump() -> None:
    """model_validate(model_dump()) gives back an equal event, unknown fields included."""
    event = Event.model_validate(PAYLOAD)
    again = Event.model_validate(event.model_dump())
    assert again == event
    assert again.model_dump() == event.model_dump()


def test_round_trip_through_json() -> None:
    """model_validate_json(model_dump_json()) gives back an equal event, unknown fields included."""
    event = Event.model_validate(PAYLOAD)
    again = Event.model_validate_json(event.model_dump_json())
    assert again == event
    assert again.model_dump() == event.model_dump()
    assert again.model_extra == event.model_extra
    assert_utc(again.created)


def test_dump_has_every_field() -> None:
    """model_dump carries the declared fields under their own names."""
    event = Event(type="invoice.paid", data={"a": 1}, source="s", parent_id="evt_p")
    dumped = event.model_dump()
    assert dumped["id"] == event.id
    assert dumped["type"] == "invoice.paid"
    assert dumped["created"] == event.created
    assert dumped["data"] == {"a": 1}
    assert dumped["source"] == "s"
    assert dumped["parent_id"] == "evt_p"


# -- frozen --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("id", "evt_other", id="id"),
        pytest.param("type", "invoice.void", id="type"),
        pytest.param("created", NOV_14_2023, id="created"),
        pytest.param("data", {"x": 1}, id="data"),
        pytest.param("source", "elsewhere", id="source"),
        pytest.param("parent_id", "evt_other", id="parent_id"),
        pytest.param("livemode", True, id="unknown-field"),
    ],
)
def test_event_is_frozen(field: str, value: Any) -> None:
    """Assigning to any field of an event raises, and the event is unchanged."""
    event = Event.model_validate(PAYLOAD)
    before = event.model_dump()
    with pytest.raises(ValidationError):
        setattr(event, field, value)
    assert event.model_dump() == before


def test_events_from_the_same_payload_are_equal() -> None:
    """Two events built from the same payload are equal."""
    assert Event.model_validate(PAYLOAD) == Event.model_validate(PAYLOAD)


# -- typed data ----------------------------------------------------------------------------


class Invoice(BaseModel):
    """A typed payload."""

    id: str
    amount: int


def test_typed_data_is_validated() -> None:
    """Event[Model] validates its data into the model."""
    event = Event[Invoice](type="invoice.paid", data={"id": "in_1", "amount": "500"})
    assert event.data == Invoice(id="in_1", amount=500)


def test_typed_data_rejects_bad_payloads() -> None:
    """Event[Model] raises a validation error for data that does not fit the model."""
    with pytest.raises(ValidationError):
        Event[Invoice](type="invoice.paid", data={"id": "in_1"})


# -- parent_id -----------------------------------------------------------------------------


def test_event_created_in_a_handler_gets_parent_id(bus: EventBus) -> None:
    """An event made while a handler runs has the handled event's id as parent_id."""
    children: list[Event] = []
    bus.subscribe("order.placed", lambda event: children.append(Event(type="order.shipped")))
    parent = bus.publish("order.placed").event
    assert [child.parent_id for child in children] == [parent.id]


def test_event_published_by_type_in_a_handler_gets_parent_id(bus: EventBus) -> None:
    """Publishing a type string from a handler delivers an event whose parent is the handled one."""
    seen: list[Event] = []
    bus.subscribe("order.placed", lambda event: bus.publish("order.shipped"))
    bus.subscribe("order.shipped", lambda event: bus.publish("order.delivered"))
    bus.subscribe("**", seen.append)
    bus.publish("order.placed")
    by_type = {event.type: event for event in seen}
    placed, shipped, delivered = (
        by_type["order.placed"],
        by_type["order.shipped"],
        by_type["order.delivered"],
    )
    assert placed.parent_id is None
    assert shipped.parent_id == placed.id
    assert delivered.parent_id == shipped.id


@pytest.mark.parametrize(
    "explicit",
    [
        pytest.param("evt_explicit", id="explicit-id"),
        pytest.param(None, id="explicit-none"),
    ],
)
def test_explicit_parent_id_wins(bus: EventBus, explicit: str | None) -> None:
    """An explicit parent_id given while a handler runs is kept over the default."""
    children: list[Event] = []
    bus.subscribe(
        "order.placed",
        lambda event: children.append(Event(type="order.shipped", parent_id=explicit)),
    )
    bus.publish("order.placed")
    assert [child.parent_id for child in children] == [explicit]


@pytest.mark.parametrize(
    "parent_id",
    [
        pytest.param(None, id="built-without-parent"),
        pytest.param("evt_elsewhere", id="built-with-parent"),
    ],
)
def test_built_event_published_from_a_handler_is_kept_as_is(
    bus: EventBus, parent_id: str | None
) -> None:
    """A built event published from a handler is delivered unchanged, parent_id included."""
    prebuilt = Event(type="order.shipped", parent_id=parent_id)
    delivered: list[Event] = []
    bus.subscribe("order.placed", lambda event: bus.publish(prebuilt))
    bus.subscribe("order.shipped", delivered.append)
    bus.publish("order.placed")
    assert len(delivered) == 1
    assert delivered[0] is prebuilt
    assert delivered[0].parent_id == parent_id


def test_no_parent_after_publish_returns(bus: EventBus) -> None:
    """Once a publish returns, new events have no parent again."""
    bus.subscribe("order.placed", lambda event: None)
    bus.publish("order.placed")
    assert Event(type="order.shipped").parent_id is None


def test_no_parent_after_a_handler_raised(bus: EventBus) -> None:
    """The handled event stops being the parent even when a handler raised."""

    def fail(event: Event) -> None:
        raise RuntimeError("boom")

    bus.subscribe("order.placed", fail)
    assert not bus.publish("order.placed").ok
    assert Event(type="order.shipped").parent_id is None


def test_to_json_writes_a_lone_surrogate_as_its_escape() -> None:
    """to_json writes a string cut mid-emoji as JavaScript does, and it reads back the same."""
    event = Event(type="a.b", data={"text": "cut \ud83c", "name": "Zoë"})
    body = event.to_json()
    assert b'"cut \\ud83c"' in body
    assert "Zoë".encode() in body
    assert Event.model_validate(json.loads(body)) == event


def test_to_json_matches_pydantic_for_ordinary_events() -> None:
    """to_json is pydantic's compact JSON when pydantic can write the event."""
    event = Event(type="a.b", data={"n": 1})
    assert event.to_json() == event.model_dump_json().encode()
