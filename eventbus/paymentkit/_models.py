"""Payment Kit's entities as pydantic models (the typed event classes that carry them are
generated from ``_table.py`` into ``_generated.py``).

The models are lenient the way the platform is: unknown fields are kept (``model_extra``),
only what the platform always sends is required, statuses are plain strings (the platform
widens its literal unions to ``string``). Amounts are integers in the currency's smallest
unit; Payment Kit sends them as decimal strings (token amounts overflow JavaScript numbers),
and they are parsed to ``int`` losslessly.

Every event's data is ``{object, previous_attributes}``: :class:`EventData`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .._topics import compile_pattern

ObjT = TypeVar("ObjT")


class PaymentKitModel(BaseModel):
    """Base of every Payment Kit model: frozen, unknown fields kept, fields by name or alias."""

    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)


class EventData(PaymentKitModel, Generic[ObjT]):
    """An event's data: the entity it is about and, on updates, the fields it changed.

    :ivar object: the entity (a subscription, a payment intent...)
    :ivar previous_attributes: the changed fields' previous values (``{}`` when absent or null)
    """

    object: ObjT
    previous_attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("previous_attributes", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value


class NotificationSetting(PaymentKitModel):
    """Who sends the notifications of an entity's events: ``{self_handle, include_events,
    exclude_events}``, as the platform's ``NotificationSetting``.

    ``include_events`` and ``exclude_events`` hold event types or bus patterns
    (``customer.subscription.*``); malformed patterns are rejected when the setting is built.

    :ivar self_handle: the application handles notifications itself
    :ivar include_events: only these types are self-handled; ``None`` (absent) means every type
    :ivar exclude_events: these types are never self-handled, even when included
    """

    self_handle: bool = False
    include_events: tuple[str, ...] | None = None
    exclude_events: tuple[str, ...] = ()

    @field_validator("include_events", "exclude_events")
    @classmethod
    def _check_patterns(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for pattern in value or ():
            compile_pattern(pattern)
        return value

    def covers(self, event_type: str, /) -> bool:
        """Tell whether this setting self-handles ``event_type``."""
        if not self.self_handle:
            return False
        if any(compile_pattern(p)(event_type) for p in self.exclude_events):
            return False
        if self.include_events is None:
            return True
        return any(compile_pattern(p)(event_type) for p in self.include_events)


class Setting(PaymentKitModel):
    """A global setting, as the platform's ``Setting``; the policy uses ``type="notification"``.

    Found by its ``id`` or its ``mount_location`` (``mountLocation`` accepted too), either of
    which a checkout session or subscription names in ``metadata.setting_id``.
    """

    id: str
    mount_location: str | None = Field(default=None, alias="mountLocation")
    type: str = "notification"
    active: bool = True
    livemode: bool | None = None
    component_did: str | None = Field(default=None, alias="componentDid")
    description: str | None = None
    settings: NotificationSetting = Field(default_factory=NotificationSetting)


class _Entity(PaymentKitModel):
    id: str
    livemode: bool | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @field_validator("metadata", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value


class SubscriptionData(PaymentKitModel):
    """A checkout session's ``subscription_data``: what the subscription it creates gets."""

    description: str | None = None
    trial_period_days: int | None = None
    metadata: dict[str, Any] | None = None
    notification_settings: NotificationSetting | None = None


class CustomerSubscription(_Entity):
    """A subscription (``sub_...``). ``status``: active, past_due, paused, canceled,
    incomplete, incomplete_expired, trialing, or a newer one.

    ``notification_settings`` holds subscription-level notification settings when the
    subscription carries them.
    """

    status: str | None = None
    customer_id: str | None = None
    currency_id: str | None = None
    description: str | None = None
    current_period_start: int | None = None
    current_period_end: int | None = None
    cancel_at_period_end: bool | None = None
    cancel_at: int | None = None
    canceled_at: int | None = None
    trial_start: int | None = None
    trial_end: int | None = None
    latest_invoice_id: str | None = None
    notification_settings: NotificationSetting | None = None


class CheckoutSession(_Entity):
    """A checkout session (``cs_...``). ``mode``: payment, setup or subscription; ``status``:
    open, complete or expired; ``payment_status``: paid, unpaid or no_payment_required."""

    mode: str | None = None
    status: str | None = None
    payment_status: str | None = None
    customer_id: str | None = None
    customer_did: str | None = None
    subscription_id: str | None = None
    payment_intent_id: str | None = None
    invoice_id: str | None = None
    currency_id: str | None = None
    amount_subtotal: int | None = None
    amount_total: int | None = None
    url: str | None = None
    success_url: str | None = None
    nft_mint_status: str | None = None
    subscription_data: SubscriptionData | None = None


class PaymentIntent(_Entity):
    """A payment intent (``pi_...``); ``amount`` in the currency's smallest unit."""

    amount: int
    amount_received: int | None = None
    status: str | None = None
    currency_id: str | None = None
    customer_id: str | None = None
    invoice_id: str | None = None
    payment_method_id: str | None = None
    description: str | None = None
    receipt_email: str | None = None


class Invoice(_Entity):
    """An invoice (``in_...``). ``status``: draft, open, void, paid or uncollectible."""

    number: str | None = None
    status: str | None = None
    paid: bool | None = None
    customer_id: str | None = None
    subscription_id: str | None = None
    payment_intent_id: str | None = None
    checkout_session_id: str | None = None
    currency_id: str | None = None
    billing_reason: str | None = None
    amount_due: int | None = None
    amount_paid: int | None = None
    amount_remaining: int | None = None
    subtotal: int | None = None
    total: int | None = None
    period_start: int | None = None
    period_end: int | None = None
    customer_email: str | None = None


class Refund(_Entity):
    """A refund (``re_...``); ``amount`` in the currency's smallest unit."""

    amount: int
    status: str | None = None
    reason: str | None = None
    currency_id: str | None = None
    customer_id: str | None = None
    payment_intent_id: str | None = None
    invoice_id: str | None = None
    subscription_id: str | None = None
    description: str | None = None


class NotificationData(PaymentKitModel):
    """What a notification is about: ``{entity, userDid, context}``.

    :ivar entity: the related entity (a subscription, an invoice...), as sent
    :ivar user_did: the user's decentralized id (``userDid`` in the platform's JSON)
    :ivar context: extra data for rendering the notification
    """

    entity: Any = None
    user_did: str | None = Field(default=None, alias="userDid")
    context: dict[str, Any] = Field(default_factory=dict)


class Notification(PaymentKitModel):
    """The ``data.object`` of ``manual.notification``: ``{type, data: {entity, userDid, context}}``.

    :ivar type: the type of the event that triggered the notification
    """

    type: str
    data: NotificationData
