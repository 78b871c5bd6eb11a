"""Self-handled notifications: NotificationPolicy's settings levels, decisions and actions."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from eventbus import Event, EventBus, InvalidPatternError, paymentkit
from eventbus.paymentkit import Decision, NotificationPolicy, NotificationSetting
from eventbus.testing import capture

STARTED = "customer.subscription.started"
RENEWED = "customer.subscription.renewed"


def sub(**fields: Any) -> dict[str, Any]:
    """A subscription-event data dict whose entity has ``fields``."""
    return {"object": {"id": "sub_1", "status": "active", **fields}}


def event(event_type: str = STARTED, **fields: Any) -> Event[Any]:
    """An untyped event of ``event_type`` about a subscription with ``fields``."""
    return Event(type=event_type, data=sub(**fields))


GLOBAL = {
    "id": "set_1",
    "mount_location": "app.id",
    "settings": {"self_handle": True, "include_events": [STARTED, RENEWED]},
}


class Notifier:
    """A default notifier that records what it was called with."""

    def __init__(self) -> None:
        self.events: list[Event[Any]] = []

    def __call__(self, event: Event[Any]) -> None:
        self.events.append(event)


@pytest.fixture
def notifier() -> Notifier:
    """A recording default notifier."""
    return Notifier()


# -- deciding ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "event_type", "covered"),
    [
        pytest.param({"self_handle": False}, STARTED, False, id="not-self-handled"),
        pytest.param({"self_handle": True}, STARTED, True, id="no-include-means-all"),
        pytest.param({"self_handle": True, "include_events": [STARTED]}, STARTED, True, id="in"),
        pytest.param(
            {"self_handle": True, "include_events": [STARTED]}, RENEWED, False, id="not-included"
        ),
        pytest.param(
            {"self_handle": True, "include_events": []}, STARTED, False, id="empty-include"
        ),
        pytest.param(
            {"self_handle": True, "include_events": ["customer.subscription.*"]},
            RENEWED,
            True,
            id="include-pattern",
        ),
        pytest.param(
            {"self_handle": True, "include_events": ["customer.**"], "exclude_events": [RENEWED]},
            RENEWED,
            False,
            id="exclude-beats-include",
        ),
    ],
)
def test_setting_covers(setting: dict[str, Any], event_type: str, covered: bool) -> None:
    """A setting self-handles a type when self_handle, included (or no list), not excluded."""
    assert NotificationSetting.model_validate(setting).covers(event_type) is covered


def test_no_settings_means_default(bus: EventBus) -> None:
    """An entity with neither level of settings goes to the default notifier."""
    policy = NotificationPolicy(bus, settings=[GLOBAL])
    assert policy.decide(event()) == Decision(STARTED, "default")


def test_subscription_level_self_handles(bus: EventBus) -> None:
    """Settings on the subscription decide, at subscription level."""
    policy = NotificationPolicy(bus)
    settings = {"self_handle": True, "include_events": [STARTED]}
    decision = policy.decide(event(notification_settings=settings))
    assert decision.action == "self_handle"
    assert decision.level == "subscription"
    assert decision.setting == NotificationSetting.model_validate(settings)


def test_subscription_level_not_included_is_default(bus: EventBus) -> None:
    """A type outside the subscription's include_events goes to the default notifier."""
    policy = NotificationPolicy(bus)
    settings = {"self_handle": True, "include_events": [STARTED]}
    decision = policy.decide(event(RENEWED, notification_settings=settings))
    assert (decision.action, decision.level) == ("default", "subscription")


def test_checkout_session_subscription_data_settings(bus: EventBus) -> None:
    """A checkout session's subscription_data.notification_settings is subscription level."""
    policy = NotificationPolicy(bus)
    session: Event[Any] = Event(
        type="checkout.session.completed",
        data={
            "object": {
                "id": "cs_1",
                "subscription_data": {"notification_settings": {"self_handle": True}},
            }
        },
    )
    assert policy.decide(session).level == "subscription"


@pytest.mark.parametrize(
    "setting_id",
    [pytest.param("set_1", id="by-id"), pytest.param("app.id", id="by-mount-location")],
)
def test_global_setting_found_by_id_or_mount_location(bus: EventBus, setting_id: str) -> None:
    """metadata.setting_id names a global setting by id or by mount location."""
    policy = NotificationPolicy(bus, settings=[GLOBAL])
    decision = policy.decide(event(metadata={"setting_id": setting_id}))
    assert (decision.action, decision.level) == ("self_handle", "global")
    assert decision.setting is not None
    assert decision.setting.include_events == (STARTED, RENEWED)


def test_id_is_looked_up_before_mount_location(bus: EventBus) -> None:
    """A setting_id matching one setting's id and another's mount location picks the id."""
    by_mount = {"id": "other", "mount_location": "set_1", "settings": {"self_handle": False}}
    policy = NotificationPolicy(bus, settings=[by_mount, GLOBAL])
    assert policy.decide(event(metadata={"setting_id": "set_1"})).action == "self_handle"


def test_subscription_level_wins_over_global(bus: EventBus) -> None:
    """Subscription-level settings win, even when they do not self-handle."""
    policy = NotificationPolicy(bus, settings=[GLOBAL])
    decision = policy.decide(
        event(notification_settings={"self_handle": False}, metadata={"setting_id": "set_1"})
    )
    assert (decision.action, decision.level) == ("default", "subscription")


@pytest.mark.parametrize(
    ("setting", "metadata"),
    [
        pytest.param(GLOBAL, {"setting_id": "missing"}, id="unknown-id"),
        pytest.param({**GLOBAL, "active": False}, {"setting_id": "set_1"}, id="inactive"),
        pytest.param({**GLOBAL, "type": "donate"}, {"setting_id": "set_1"}, id="not-notification"),
        pytest.param(GLOBAL, {"setting_id": 1}, id="id-not-a-string"),
        pytest.param(GLOBAL, {}, id="no-setting-id"),
    ],
)
def test_global_setting_not_applying(
    bus: EventBus, setting: dict[str, Any], metadata: dict[str, Any]
) -> None:
    """Unknown, inactive or non-notification global settings do not apply."""
    policy = NotificationPolicy(bus, settings=[setting])
    assert policy.decide(event(metadata=metadata)) == Decision(STARTED, "default")


def test_manual_notification_is_ignored(bus: EventBus, notifier: Notifier) -> None:
    """The policy never decides on manual.notification itself, so it cannot feed itself."""
    policy = NotificationPolicy(bus, default_notifier=notifier)
    decision = policy.handle(Event(type="manual.notification", data={"object": {}}))
    assert decision == Decision("manual.notification", "ignore")
    assert notifier.events == []


def test_event_without_entity_goes_to_default(bus: EventBus) -> None:
    """An event with no data.object has no settings: default."""
    policy = NotificationPolicy(bus, settings=[GLOBAL])
    assert policy.decide(Event(type=STARTED)).action == "default"


def test_typed_entities_are_read_too(bus: EventBus) -> None:
    """Settings are found on typed entities as on raw dicts."""
    paymentkit.register(bus)
    policy = NotificationPolicy(bus, settings=[GLOBAL])
    typed = bus.build(STARTED, sub(metadata={"setting_id": "set_1"}))
    assert isinstance(typed, paymentkit.SubscriptionStarted)
    assert policy.decide(typed).level == "global"
    own = bus.build(STARTED, sub(notification_settings={"self_handle": True}))
    assert policy.decide(own).level == "subscription"


def test_malformed_subscription_settings_raise(bus: EventBus) -> None:
    """Subscription-level settings that do not fit NotificationSetting raise ValidationError."""
    policy = NotificationPolicy(bus)
    with pytest.raises(ValidationError, match="self_handle"):
        policy.decide(event(notification_settings={"self_handle": "perhaps"}))


def test_malformed_global_setting_raises_at_construction(bus: EventBus) -> None:
    """A global setting without an id is rejected when the policy is built."""
    with pytest.raises(ValidationError, match="id"):
        NotificationPolicy(bus, settings=[{"settings": {"self_handle": True}}])


def test_settings_accept_models_and_mappings(bus: EventBus) -> None:
    """Global settings may be Setting models or mappings; both are kept as models."""
    model = paymentkit.Setting(id="set_2", settings=NotificationSetting(self_handle=True))
    policy = NotificationPolicy(bus, settings=[GLOBAL, model])
    assert [s.id for s in policy.settings] == ["set_1", "set_2"]
    assert policy.settings[1] is model
    assert repr(policy) == "<NotificationPolicy settings=2>"


# -- acting --------------------------------------------------------------------------


def test_self_handled_event_publishes_manual_notification(
    bus: EventBus, notifier: Notifier
) -> None:
    """Self-handling publishes manual.notification with type, entity, user, context, parent."""
    policy = NotificationPolicy(bus, default_notifier=notifier)
    trigger = event(notification_settings={"self_handle": True}, customer_did="z1user", plan="pro")
    with capture(bus, "manual.notification") as captured:
        decision = policy.handle(trigger)
    assert decision.action == "self_handle"
    assert notifier.events == []
    (note,) = captured.events
    assert isinstance(note, paymentkit.ManualNotification)
    assert note.parent_id == trigger.id
    assert note.data.object.type == STARTED
    assert note.data.object.data.user_did == "z1user"
    assert note.data.object.data.entity == trigger.data["object"]
    assert note.data.object.data.context == {}


def test_notification_dumps_in_the_platform_shape(bus: EventBus) -> None:
    """The published notification dumps (by alias) as {type, data: {entity, userDid, context}}."""
    policy = NotificationPolicy(bus)
    note = policy.build_notification(event(customer_did="z1"))
    assert note.model_dump(by_alias=True)["data"]["object"] == {
        "type": STARTED,
        "data": {"entity": sub(customer_did="z1")["object"], "userDid": "z1", "context": {}},
    }


def test_typed_entity_is_carried_as_a_dict(bus: EventBus) -> None:
    """A typed entity is put into the notification as its plain dict."""
    paymentkit.register(bus)
    policy = NotificationPolicy(bus)
    note = policy.build_notification(bus.build(STARTED, sub(extra_field=1)))
    entity = note.data.object.data.entity
    assert isinstance(entity, dict)
    assert entity["id"] == "sub_1"
    assert entity["extra_field"] == 1


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({"customer_did": "z1"}, "z1", id="customer_did"),
        pytest.param({"user_did": "z2"}, "z2", id="user_did"),
        pytest.param({"metadata": {"userDid": "z3"}}, "z3", id="metadata-userDid"),
        pytest.param({"customer_did": ""}, None, id="empty"),
        pytest.param({}, None, id="none"),
    ],
)
def test_default_user_lookup(bus: EventBus, fields: dict[str, Any], expected: str | None) -> None:
    """The user's DID is read from the entity or its metadata, else left None."""
    note = NotificationPolicy(bus).build_notification(event(**fields))
    assert note.data.object.data.user_did == expected


def test_hooks_supply_subscription_user_and_context(bus: EventBus) -> None:
    """subscription_of, user_of and context_of replace the defaults."""
    subscriptions = {"sub_9": {"id": "sub_9", "notification_settings": {"self_handle": True}}}
    policy = NotificationPolicy(
        bus,
        subscription_of=lambda e: subscriptions[e.data["object"]["subscription_id"]],
        user_of=lambda e: "z9",
        context_of=lambda e: {"amount": e.data["object"]["amount_paid"]},
    )
    invoice: Event[Any] = Event(
        type="invoice.paid",
        data={"object": {"id": "in_1", "subscription_id": "sub_9", "amount_paid": 5}},
    )
    with capture(bus, "manual.notification") as captured:
        assert policy.handle(invoice).level == "subscription"
    note = captured.events[0]
    assert isinstance(note, paymentkit.ManualNotification)
    assert note.data.object.data.user_did == "z9"
    assert note.data.object.data.context == {"amount": 5}
    assert note.data.object.data.entity == invoice.data["object"]


def test_not_self_handled_calls_default_notifier(bus: EventBus, notifier: Notifier) -> None:
    """An event not self-handled goes to the default notifier and publishes nothing."""
    policy = NotificationPolicy(bus, default_notifier=notifier)
    trigger = event(
        RENEWED, notification_settings={"self_handle": True, "include_events": [STARTED]}
    )
    with capture(bus) as captured:
        assert policy.handle(trigger).action == "default"
    assert notifier.events == [trigger]
    assert captured.events == []


def test_no_default_notifier_does_nothing(bus: EventBus) -> None:
    """Without a default notifier an event that is not self-handled is left alone."""
    with capture(bus) as captured:
        assert NotificationPolicy(bus).handle(event()).action == "default"
    assert captured.events == []


def test_sync_handle_refuses_async_notifier(bus: EventBus) -> None:
    """handle() with an async default notifier raises TypeError pointing to handle_async."""

    async def notify(event: Event[Any]) -> None:
        pass

    policy = NotificationPolicy(bus, default_notifier=notify)
    with pytest.raises(TypeError, match="handle_async"):
        policy.handle(event())


# -- attaching -----------------------------------------------------------------------


def test_attach_handles_published_events(bus: EventBus, notifier: Notifier) -> None:
    """attach(pattern) subscribes the policy: publishing a trigger yields the notification."""
    paymentkit.register(bus)
    policy = NotificationPolicy(bus, settings=[GLOBAL], default_notifier=notifier)
    subscription = policy.attach("customer.subscription.*")
    assert not subscription.is_async
    got: list[paymentkit.ManualNotification] = []
    bus.subscribe(paymentkit.ManualNotification, got.append)
    trigger = bus.publish(STARTED, sub(metadata={"setting_id": "app.id"})).event
    bus.publish("customer.subscription.paused", sub(metadata={"setting_id": "app.id"}))
    assert [note.parent_id for note in got] == [trigger.id]
    assert got[0].data.object.type == STARTED
    assert [e.type for e in notifier.events] == ["customer.subscription.paused"]


def test_attach_everything_skips_its_own_notifications(bus: EventBus, notifier: Notifier) -> None:
    """Attached to '**', the policy sees its own notification and ignores it."""
    policy = NotificationPolicy(bus, default_notifier=notifier)
    policy.attach("**")
    with capture(bus) as captured:
        bus.publish(STARTED, sub(notification_settings={"self_handle": True}))
    # events in publish order; results in completion order (the nested one finishes first)
    assert captured.types == [STARTED, "manual.notification"]
    assert [r.event.type for r in captured.results] == ["manual.notification", STARTED]
    assert notifier.events == []


def test_attach_rejects_malformed_pattern(bus: EventBus) -> None:
    """attach() validates its pattern like subscribe()."""
    with pytest.raises(InvalidPatternError):
        NotificationPolicy(bus).attach("customer.*x")


def test_attach_follows_the_notifier(bus: EventBus) -> None:
    """attach() subscribes handle_async when the default notifier is async, or when asked."""

    async def notify(event: Event[Any]) -> None:
        pass

    assert NotificationPolicy(bus, default_notifier=notify).attach("a").is_async
    assert NotificationPolicy(bus).attach("b", asynchronous=True).is_async
    assert (
        not NotificationPolicy(bus, default_notifier=notify)
        .attach("c", asynchronous=False)
        .is_async
    )


@pytest.mark.anyio
async def test_handle_async_publishes_to_async_handlers(bus: EventBus) -> None:
    """handle_async publishes the notification with publish_async, reaching async handlers."""
    got: list[Event[Any]] = []

    async def send_email(note: Event[Any]) -> None:
        got.append(note)

    bus.subscribe("manual.notification", send_email)
    policy = NotificationPolicy(bus)
    policy.attach(STARTED, asynchronous=True)
    trigger = (
        await bus.publish_async(STARTED, sub(notification_settings={"self_handle": True}))
    ).event
    assert [note.parent_id for note in got] == [trigger.id]


@pytest.mark.anyio
async def test_handle_async_awaits_async_notifier(bus: EventBus) -> None:
    """handle_async awaits an async default notifier."""
    got: list[Event[Any]] = []

    async def notify(event: Event[Any]) -> None:
        got.append(event)

    policy = NotificationPolicy(bus, default_notifier=notify)
    policy.attach(STARTED)
    result = await bus.publish_async(STARTED, sub())
    assert result.ok
    assert got == [result.event]


@pytest.mark.anyio
async def test_handle_async_calls_sync_notifier(bus: EventBus, notifier: Notifier) -> None:
    """handle_async calls a sync default notifier directly."""
    policy = NotificationPolicy(bus, default_notifier=notifier)
    trigger = event()
    assert (await policy.handle_async(trigger)).action == "default"
    assert notifier.events == [trigger]


@pytest.mark.anyio
async def test_handle_async_ignores_notifications(bus: EventBus, notifier: Notifier) -> None:
    """handle_async ignores manual.notification and has nothing to call without a notifier."""
    policy = NotificationPolicy(bus, default_notifier=notifier)
    decision = await policy.handle_async(Event(type="manual.notification"))
    assert decision.action == "ignore"
    assert notifier.events == []
    assert (await NotificationPolicy(bus).handle_async(event())).action == "default"
