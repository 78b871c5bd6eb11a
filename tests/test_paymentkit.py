"""The Payment Kit catalogue: documented types, descriptions, payload models, typed classes."""

from __future__ import annotations

import json
import types
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import ValidationError

from eventbus import Event, EventBus, EventClassConflictError, EventValidationError, paymentkit
from eventbus.paymentkit import _table
from eventbus.testing import capture

#: Every type the platform's documents name (../shared/seed-notes.md), by group.
DOCUMENTED = {
    "checkout.session.completed": paymentkit.CheckoutSessionCompleted,
    "checkout.session.nft_minted": paymentkit.CheckoutSessionNftMinted,
    "customer.subscription.created": paymentkit.SubscriptionCreated,
    "customer.subscription.started": paymentkit.SubscriptionStarted,
    "customer.subscription.renewed": paymentkit.SubscriptionRenewed,
    "customer.subscription.upgraded": paymentkit.SubscriptionUpgraded,
    "customer.subscription.updated": paymentkit.SubscriptionUpdated,
    "customer.subscription.deleted": paymentkit.SubscriptionDeleted,
    "customer.subscription.paused": paymentkit.SubscriptionPaused,
    "customer.subscription.resumed": paymentkit.SubscriptionResumed,
    "customer.subscription.trial_start": paymentkit.SubscriptionTrialStart,
    "customer.subscription.trial_will_end": paymentkit.SubscriptionTrialWillEnd,
    "customer.subscription.trial_end": paymentkit.SubscriptionTrialEnd,
    "payment_intent.succeeded": paymentkit.PaymentIntentSucceeded,
    "payment_intent.payment_failed": paymentkit.PaymentIntentPaymentFailed,
    "invoice.paid": paymentkit.InvoicePaid,
    "refund.succeeded": paymentkit.RefundSucceeded,
    "manual.notification": paymentkit.ManualNotification,
}
FAMILIES = {
    "checkout.session.completed": paymentkit.CheckoutSessionEvent,
    "checkout.session.nft_minted": paymentkit.CheckoutSessionEvent,
    "payment_intent.succeeded": paymentkit.PaymentIntentEvent,
    "payment_intent.payment_failed": paymentkit.PaymentIntentEvent,
    "invoice.paid": paymentkit.InvoiceEvent,
    "refund.succeeded": paymentkit.RefundEvent,
} | {t: paymentkit.SubscriptionEvent for t in DOCUMENTED if t.startswith("customer.")}
TYPES = [pytest.param(t, id=t) for t in DOCUMENTED]

# The SW-2 body of webhook-notes.md: a Payment Kit subscription event with non-ASCII text.
SW2_BODY = (
    '{"id":"evt_T2UiJ2VHUxVo3J6BuULkrp15","type":"customer.subscription.renewed",'
    '"livemode":false,"api_version":"2023-09-05","object_type":"Subscription",'
    '"object_id":"sub_hmL7FQTmMbYVELkH6uVo6m9P","data":{"object":{"id":'
    '"sub_hmL7FQTmMbYVELkH6uVo6m9P","status":"active","description":"Café ☕"},'
    '"previous_attributes":{"status":"past_due"}},"created_at":"2025-02-19T21:20:00.000Z"}'
).encode()
# The ST-1 body of webhook-notes.md: a Stripe event, integer ``created``.
ST1_BODY = (
    b'{"id":"evt_1","object":"event","type":"payment_intent.succeeded","api_version":'
    b'"2023-09-05","created":1740000000,"livemode":false,"data":{"object":{"id":"pi_1",'
    b'"object":"payment_intent","amount":2000}}}'
)


@pytest.fixture
def kit_bus() -> EventBus:
    """A bus with the Payment Kit catalogue registered."""
    bus = EventBus()
    paymentkit.register(bus)
    return bus


# -- catalogue ---------------------------------------------------------------------


@pytest.mark.parametrize("event_type", TYPES)
def test_constant_named_after_each_documented_type(event_type: str) -> None:
    """Each documented type has a module constant named after it, holding the type."""
    name = event_type.upper().replace(".", "_")
    assert getattr(paymentkit, name) == event_type
    assert name in paymentkit.__all__


@pytest.mark.parametrize("event_type", TYPES)
def test_each_documented_type_has_a_description(event_type: str) -> None:
    """Each documented type has a one-line description, by mapping and by describe()."""
    description = paymentkit.DESCRIPTIONS[event_type]
    assert description
    assert "\n" not in description
    assert paymentkit.describe(event_type) == description


def test_descriptions_are_the_documents_words() -> None:
    """Descriptions are taken from the documents, not paraphrased."""
    assert paymentkit.describe(paymentkit.CUSTOMER_SUBSCRIPTION_STARTED) == "Subscription initiated"
    assert paymentkit.describe(paymentkit.INVOICE_PAID) == "Invoice payment completed"


def test_catalogue_holds_exactly_the_documented_types() -> None:
    """DESCRIPTIONS, the enum and the documents list the same types."""
    assert set(paymentkit.DESCRIPTIONS) == set(DOCUMENTED)
    assert {member.value for member in paymentkit.EventType} == set(DOCUMENTED)


def test_descriptions_are_read_only() -> None:
    """DESCRIPTIONS cannot be changed by accident."""
    with pytest.raises(TypeError):
        paymentkit.DESCRIPTIONS["x"] = "y"  # type: ignore[index]


def test_describe_unknown_type_raises_key_error_naming_it() -> None:
    """describe() of an undocumented type raises KeyError saying where the list is."""
    with pytest.raises(KeyError, match=r"customer\.credit\.insufficient.*DESCRIPTIONS"):
        paymentkit.describe("customer.credit.insufficient")


def test_enum_members_are_the_constants() -> None:
    """EventType members compare equal to the constants and carry their description."""
    member = paymentkit.EventType.CUSTOMER_SUBSCRIPTION_RENEWED
    assert member == paymentkit.CUSTOMER_SUBSCRIPTION_RENEWED == "customer.subscription.renewed"
    assert member.description == "Customer subscription renewed"
    for member in paymentkit.EventType:
        assert getattr(paymentkit, member.name) == member


# -- registration --------------------------------------------------------------------


@pytest.mark.parametrize("event_type", TYPES)
def test_register_maps_each_documented_type_to_its_class(
    kit_bus: EventBus, event_type: str
) -> None:
    """After register(bus), each documented type is built as its own typed class."""
    assert kit_bus.event_class_for(event_type) is DOCUMENTED[event_type]


@pytest.mark.parametrize(
    "event_type", [pytest.param(t, id=t) for t in FAMILIES if t != "manual.notification"]
)
def test_each_member_subclasses_its_family(event_type: str) -> None:
    """Every exact class subclasses its family, so family handlers get what they asked for."""
    assert issubclass(DOCUMENTED[event_type], FAMILIES[event_type])


@pytest.mark.parametrize(
    ("event_type", "family"),
    [
        pytest.param("customer.subscription.past_due", paymentkit.SubscriptionEvent, id="sub"),
        pytest.param("checkout.session.expired", paymentkit.CheckoutSessionEvent, id="checkout"),
        pytest.param("payment_intent.canceled", paymentkit.PaymentIntentEvent, id="pi"),
        pytest.param("invoice.finalized", paymentkit.InvoiceEvent, id="invoice"),
        pytest.param("refund.canceled", paymentkit.RefundEvent, id="refund"),
    ],
)
def test_undocumented_member_of_a_family_gets_the_family(
    kit_bus: EventBus, event_type: str, family: type[Event[Any]]
) -> None:
    """A type the documents do not name but a family covers is built as the family class."""
    assert kit_bus.event_class_for(event_type) is family


def test_unknown_types_stay_plain_events(kit_bus: EventBus) -> None:
    """Types outside the catalogue are never rejected: they stay plain Events."""
    result = kit_bus.publish("customer.credit.insufficient", {"anything": 1})
    assert type(result.event) is Event
    assert kit_bus.event_class_for("blocklet.started") is Event


def test_register_twice_is_harmless(kit_bus: EventBus) -> None:
    """Registering the catalogue again changes nothing."""
    paymentkit.register(kit_bus)
    assert kit_bus.event_class_for("invoice.paid") is paymentkit.InvoicePaid


def test_every_catalogue_class_is_registered(kit_bus: EventBus) -> None:
    """EVENT_CLASSES lists every typed class, and register() registers each."""
    assert set(paymentkit.EVENT_CLASSES) == set(DOCUMENTED.values()) | set(FAMILIES.values())
    assert len(paymentkit.EVENT_CLASSES) == len(set(paymentkit.EVENT_CLASSES))


def test_own_class_must_subclass_the_family(kit_bus: EventBus) -> None:
    """An application class for a catalogue type must subclass the family, else it fails."""

    class MyInvoicePaid(Event[dict[str, Any]]):
        type: Literal["invoice.paid"] = "invoice.paid"

    with pytest.raises(EventClassConflictError, match=r"MyInvoicePaid.*InvoiceEvent"):
        kit_bus.register(MyInvoicePaid)


def test_own_subclass_registered_after_wins(kit_bus: EventBus) -> None:
    """A subclass of a catalogue class registered after register() is used for its type."""

    class MyInvoicePaid(paymentkit.InvoicePaid):
        def total(self) -> int:
            return self.data.object.amount_paid or 0

    kit_bus.register(MyInvoicePaid)
    result = kit_bus.publish("invoice.paid", {"object": {"id": "in_1", "amount_paid": "7"}})
    assert isinstance(result.event, MyInvoicePaid)
    assert result.event.total() == 7


# -- payloads ------------------------------------------------------------------------


def test_amount_strings_become_ints(kit_bus: EventBus) -> None:
    """Payment Kit's decimal-string amounts are parsed to int, token-sized ones exactly."""
    wei = "1000000000000000000000"
    result = kit_bus.publish(
        "payment_intent.succeeded",
        {"object": {"id": "pi_1", "amount": wei, "amount_received": "2000"}},
    )
    assert isinstance(result.event, paymentkit.PaymentIntentSucceeded)
    assert result.event.data.object.amount == 10**21
    assert result.event.data.object.amount_received == 2000


def test_parse_payment_kit_webhook_body(kit_bus: EventBus) -> None:
    """A Payment Kit body parses into its class, unknown fields kept, created_at read."""
    event = kit_bus.parse(SW2_BODY)
    assert isinstance(event, paymentkit.SubscriptionRenewed)
    assert event.id == "evt_T2UiJ2VHUxVo3J6BuULkrp15"
    assert event.data.object.status == "active"
    assert event.data.object.description == "Café ☕"
    assert event.data.previous_attributes == {"status": "past_due"}
    assert event.created == datetime(2025, 2, 19, 21, 20, tzinfo=UTC)
    assert event.model_extra == {
        "livemode": False,
        "api_version": "2023-09-05",
        "object_type": "Subscription",
        "object_id": "sub_hmL7FQTmMbYVELkH6uVo6m9P",
    }


def test_parse_stripe_shaped_body(kit_bus: EventBus) -> None:
    """A Stripe-shaped body (integer created, object fields) parses too."""
    event = kit_bus.parse(ST1_BODY)
    assert isinstance(event, paymentkit.PaymentIntentSucceeded)
    assert event.data.object.amount == 2000
    assert event.data.object.model_extra == {"object": "payment_intent"}
    assert event.created == datetime.fromtimestamp(1740000000, UTC)


def test_round_trip_keeps_unknown_entity_fields(kit_bus: EventBus) -> None:
    """Unknown entity fields survive model_dump and JSON."""
    event = kit_bus.parse(SW2_BODY)
    again = kit_bus.parse(event.model_dump_json())
    assert again == event
    dumped = json.loads(event.model_dump_json())
    assert dumped["data"]["object"]["description"] == "Café ☕"


@pytest.mark.parametrize(
    ("event_type", "obj", "path"),
    [
        pytest.param("payment_intent.succeeded", {"id": "pi_1"}, "data.object.amount", id="pi"),
        pytest.param("refund.succeeded", {"id": "re_1"}, "data.object.amount", id="refund"),
        pytest.param("invoice.paid", {"total": 3}, "data.object.id", id="invoice-id"),
        pytest.param(
            "customer.subscription.started", {"status": "active"}, "data.object.id", id="sub-id"
        ),
        pytest.param(
            "checkout.session.completed",
            {"id": "cs_1", "amount_total": "lots"},
            "data.object.amount_total",
            id="checkout-amount",
        ),
    ],
)
def test_missing_or_wrong_required_field_names_the_path(
    kit_bus: EventBus, event_type: str, obj: dict[str, Any], path: str
) -> None:
    """Data missing what the platform always sends fails naming the field path."""
    with pytest.raises(EventValidationError, match=path.replace(".", r"\.")):
        kit_bus.publish(event_type, {"object": obj})


def test_typed_type_without_data_fails(kit_bus: EventBus) -> None:
    """Publishing a catalogue type without data fails: it has no entity."""
    with capture(kit_bus) as captured, pytest.raises(EventValidationError, match=r"data\.object"):
        kit_bus.publish("invoice.paid")
    assert captured.events == []


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"object": {"id": "in_1"}}, id="absent"),
        pytest.param({"object": {"id": "in_1"}, "previous_attributes": None}, id="null"),
    ],
)
def test_previous_attributes_default_to_empty(kit_bus: EventBus, data: dict[str, Any]) -> None:
    """previous_attributes absent or null reads as {}."""
    event = kit_bus.build("invoice.paid", data)
    assert isinstance(event, paymentkit.InvoicePaid)
    assert event.data.previous_attributes == {}


def test_null_metadata_reads_as_empty() -> None:
    """An entity's null metadata reads as {}."""
    assert (
        paymentkit.Refund.model_validate({"id": "re_1", "amount": 1, "metadata": None}).metadata
        == {}
    )


def test_models_are_frozen() -> None:
    """Entities cannot be changed in place: handlers share them."""
    invoice = paymentkit.Invoice(id="in_1")
    with pytest.raises(ValidationError):
        invoice.id = "in_2"  # type: ignore[misc]


def test_family_handler_receives_each_member(kit_bus: EventBus) -> None:
    """A SubscriptionEvent handler gets every subscription type as its exact class."""
    got: list[paymentkit.SubscriptionEvent] = []
    kit_bus.subscribe(paymentkit.SubscriptionEvent, got.append)
    for event_type in ("customer.subscription.started", "customer.subscription.past_due"):
        kit_bus.publish(event_type, {"object": {"id": "sub_1", "status": "active"}})
    assert [type(event) for event in got] == [
        paymentkit.SubscriptionStarted,
        paymentkit.SubscriptionEvent,
    ]
    assert all(event.data.object.id == "sub_1" for event in got)


def test_checkout_session_carries_subscription_data_settings(kit_bus: EventBus) -> None:
    """A checkout session's subscription_data.notification_settings is typed."""
    event = kit_bus.build(
        "checkout.session.completed",
        {
            "object": {
                "id": "cs_1",
                "mode": "subscription",
                "amount_total": "500",
                "subscription_data": {
                    "notification_settings": {
                        "self_handle": True,
                        "include_events": ["customer.subscription.started"],
                    }
                },
                "metadata": {"setting_id": "set_1"},
            }
        },
    )
    assert isinstance(event, paymentkit.CheckoutSessionCompleted)
    session = event.data.object
    assert session.amount_total == 500
    assert session.metadata == {"setting_id": "set_1"}
    assert session.subscription_data is not None
    settings = session.subscription_data.notification_settings
    assert settings == paymentkit.NotificationSetting(
        self_handle=True, include_events=("customer.subscription.started",)
    )


# -- manual.notification ---------------------------------------------------------------


NOTIFICATION = {
    "type": "customer.subscription.started",
    "data": {"entity": {"id": "sub_1"}, "userDid": "z1user", "context": {"plan": "pro"}},
}


def test_manual_notification_payload_reads_user_did(kit_bus: EventBus) -> None:
    """manual.notification's data.object is {type, data: {entity, userDid, context}}."""
    event = kit_bus.build("manual.notification", {"object": NOTIFICATION})
    assert isinstance(event, paymentkit.ManualNotification)
    note = event.data.object
    assert note.type == "customer.subscription.started"
    assert note.data.user_did == "z1user"
    assert note.data.entity == {"id": "sub_1"}
    assert note.data.context == {"plan": "pro"}


def test_notification_user_did_by_name_and_dumped_by_alias() -> None:
    """user_did is accepted by name too, and dumps as userDid by alias."""
    data = paymentkit.NotificationData.model_validate({"user_did": "z2"})
    assert data.user_did == "z2"
    assert data.model_dump(by_alias=True) == {"entity": None, "userDid": "z2", "context": {}}


def test_notification_needs_its_trigger_type() -> None:
    """A notification without its trigger type is invalid."""
    with pytest.raises(ValidationError, match="type"):
        paymentkit.Notification.model_validate({"data": {}})


# -- settings models -------------------------------------------------------------------


def test_setting_accepts_the_platform_spelling() -> None:
    """Setting reads mountLocation/componentDid as the SDK writes them."""
    setting = paymentkit.Setting.model_validate(
        {
            "id": "set_1",
            "mountLocation": "app.id",
            "componentDid": "z8comp",
            "settings": {"self_handle": True},
        }
    )
    assert setting.mount_location == "app.id"
    assert setting.component_did == "z8comp"
    assert setting.settings.self_handle
    assert setting.active
    assert setting.type == "notification"


def test_setting_rejects_malformed_patterns() -> None:
    """A malformed include/exclude pattern fails when the setting is built."""
    with pytest.raises(ValidationError, match="trial_"):
        paymentkit.NotificationSetting(self_handle=True, include_events=("customer.trial_*",))


# -- public surface --------------------------------------------------------------------


def test_all_is_sorted_and_complete() -> None:
    """paymentkit.__all__ is sorted and names every public attribute, and only those."""
    public = sorted(
        name
        for name, value in vars(paymentkit).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    )
    assert paymentkit.__all__ == sorted(paymentkit.__all__)
    assert public == sorted(paymentkit.__all__)


# -- one table -----------------------------------------------------------------------


def test_generated_modules_are_what_the_table_generates() -> None:
    """_generated.py and __init__.py are current: regenerate them after changing _table.py."""
    from eventbus.paymentkit import _codegen

    assert _codegen.main(["--check"]) == 0
    here = Path(_codegen.__file__).parent
    assert (here / "_generated.py").read_text(encoding="utf-8") == _codegen.render_generated()
    assert (here / "__init__.py").read_text(encoding="utf-8") == _codegen.render_init()


def test_the_check_names_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--check fails naming each file that differs; without it, the files are written."""
    from eventbus.paymentkit import _codegen

    for name in ("_generated.py", "__init__.py"):
        (tmp_path / name).write_text("stale\n", encoding="utf-8")
    monkeypatch.setattr(_codegen, "HERE", tmp_path)
    assert _codegen.main(["--check"]) == 1
    assert _codegen.main([]) == 0
    assert _codegen.main(["--check"]) == 0
    assert (tmp_path / "__init__.py").read_text(encoding="utf-8") == _codegen.render_init()


@pytest.mark.parametrize("spec", [pytest.param(spec, id=spec.type) for spec in _table.TYPES])
def test_each_table_row_makes_constant_member_class_and_sample(spec: _table.EventSpec) -> None:
    """A row is the constant, the enum member, the typed class (its family's subclass) and
    the CLI sample of its type."""
    from eventbus._cli._samples import sample_event

    assert getattr(paymentkit, spec.constant) == spec.type
    assert paymentkit.EventType[spec.constant].description == spec.description
    cls = getattr(paymentkit, spec.class_name)
    assert cls in paymentkit.EVENT_CLASSES
    if spec.family is not None:
        assert issubclass(cls, getattr(paymentkit, spec.family.class_name))
    bus = EventBus()
    paymentkit.register(bus)
    sample = sample_event(spec.type, event_id="evt_1")
    assert isinstance(bus.parse(sample), cls)
    assert sample["data"].get("previous_attributes", {}) == dict(spec.previous)


def test_the_old_subscription_name_warns_and_still_works() -> None:
    """paymentkit.Subscription is CustomerSubscription, with a DeprecationWarning; it no
    longer shares a name with eventbus.Subscription."""
    with pytest.warns(DeprecationWarning, match="CustomerSubscription"):
        old = paymentkit.Subscription
    assert old is paymentkit.CustomerSubscription
    assert "Subscription" not in paymentkit.__all__
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = paymentkit.no_such_name
