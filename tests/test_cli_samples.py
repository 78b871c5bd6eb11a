"""The sample events `eventbus trigger` sends: one realistic, valid event per catalogue type."""

from __future__ import annotations

from typing import Any

import pytest

from eventbus import EventBus, paymentkit
from eventbus._cli._samples import has_sample, merged, new_event_id, sample_event


@pytest.fixture
def typed_bus() -> EventBus:
    """A bus with the Payment Kit models registered, as `eventbus listen` has."""
    bus = EventBus()
    paymentkit.register(bus)
    return bus


@pytest.mark.parametrize("event_type", list(paymentkit.DESCRIPTIONS))
def test_every_catalogue_type_has_a_sample_that_fits_its_model(
    event_type: str, typed_bus: EventBus
) -> None:
    """Each documented type's sample parses into its typed event class."""
    assert has_sample(event_type)
    event = typed_bus.parse(sample_event(event_type, event_id="evt_sample"))
    assert type(event).__name__ != "Event"
    assert (event.id, event.type) == ("evt_sample", event_type)


@pytest.mark.parametrize(
    ("prefix", "entity"),
    [
        pytest.param("customer.subscription.", paymentkit.Subscription, id="subscription"),
        pytest.param("payment_intent.", paymentkit.PaymentIntent, id="payment-intent"),
        pytest.param("checkout.session.", paymentkit.CheckoutSession, id="checkout-session"),
        pytest.param("invoice.", paymentkit.Invoice, id="invoice"),
        pytest.param("refund.", paymentkit.Refund, id="refund"),
    ],
)
def test_each_family_carries_its_entity(prefix: str, entity: type, typed_bus: EventBus) -> None:
    """customer.subscription.* carry a subscription, payment_intent.* a payment intent..."""
    for event_type in (t for t in paymentkit.DESCRIPTIONS if t.startswith(prefix)):
        event = typed_bus.parse(sample_event(event_type, event_id=new_event_id()))
        assert isinstance(event.data.object, entity)


def test_notification_has_the_documented_shape(typed_bus: EventBus) -> None:
    """manual.notification's data.object is {type, data: {entity, userDid, context}}."""
    raw = sample_event("manual.notification", event_id="evt_n")["data"]["object"]
    assert set(raw) == {"type", "data"}
    assert set(raw["data"]) == {"entity", "userDid", "context"}
    event = typed_bus.parse(sample_event("manual.notification", event_id="evt_n"))
    assert event.data.object.data.user_did == raw["data"]["userDid"]


def test_overrides_merge_into_the_object() -> None:
    """--data replaces the keys it names in data.object and keeps the others."""
    event = sample_event("refund.succeeded", event_id="evt_r", overrides={"amount": "1"})
    assert event["data"]["object"]["amount"] == "1"
    assert event["data"]["object"]["id"].startswith("re_")


def test_unknown_types_get_a_minimal_event() -> None:
    """A type without a sample is sent with an empty data.object."""
    assert not has_sample("shipment.delivered")
    event = sample_event("shipment.delivered", event_id="evt_u")
    assert event["data"] == {"object": {}}
    assert (event["id"], event["type"]) == ("evt_u", "shipment.delivered")


def test_event_ids_are_payment_kit_style_and_unique() -> None:
    """New ids look like Payment Kit's (evt_ and 24 characters) and do not repeat."""
    ids = {new_event_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.startswith("evt_") and len(i) == 28 and i[4:].isalnum() for i in ids)


@pytest.mark.parametrize(
    "event_type",
    [
        pytest.param("customer.subscription.past_due", id="subscription-family"),
        pytest.param("payment_intent.canceled", id="payment-intent-family"),
        pytest.param("checkout.session.expired", id="checkout-family"),
    ],
)
def test_family_members_get_their_family_sample(event_type: str) -> None:
    """A type only a Payment Kit family covers gets that family's entity and validates."""
    bus = EventBus()
    paymentkit.register(bus)
    assert has_sample(event_type)
    event = bus.parse(sample_event(event_type, event_id="evt_1"))
    assert event.type == event_type
    assert event.data.object.id


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param(
            {"meta": {"b": 2}}, {"meta": {"a": 1, "b": 2}, "items": [1]}, id="objects-merge"
        ),
        pytest.param(
            {"meta": {"a": {"deep": True}}},
            {"meta": {"a": {"deep": True}}, "items": [1]},
            id="object-replaces-a-scalar",
        ),
        pytest.param({"items": [2]}, {"meta": {"a": 1}, "items": [2]}, id="list-replaces"),
        pytest.param({"meta": None}, {"meta": None, "items": [1]}, id="null-replaces"),
        pytest.param({"new": "x"}, {"meta": {"a": 1}, "items": [1], "new": "x"}, id="added"),
    ],
)
def test_merged_is_deep_for_objects_only(
    overrides: dict[str, Any], expected: dict[str, Any]
) -> None:
    """Objects under the same key merge key by key; any other value replaces; the base
    is left as it was."""
    base = {"meta": {"a": 1}, "items": [1]}
    assert merged(base, overrides) == expected
    assert base == {"meta": {"a": 1}, "items": [1]}
