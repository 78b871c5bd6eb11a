"""The Payment Kit catalogue: constants, descriptions, enum, classes.

Generated from ``_table.py`` by ``python -m eventbus.paymentkit._codegen``; do not
edit it by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import ClassVar, Final, Literal

from .._envelope import Event
from .._registry import EventClass
from ._models import (
    CheckoutSession,
    CustomerSubscription,
    EventData,
    Invoice,
    Notification,
    PaymentIntent,
    Refund,
)

CHECKOUT_SESSION_COMPLETED: Final = "checkout.session.completed"
CHECKOUT_SESSION_NFT_MINTED: Final = "checkout.session.nft_minted"
CUSTOMER_SUBSCRIPTION_CREATED: Final = "customer.subscription.created"
CUSTOMER_SUBSCRIPTION_STARTED: Final = "customer.subscription.started"
CUSTOMER_SUBSCRIPTION_RENEWED: Final = "customer.subscription.renewed"
CUSTOMER_SUBSCRIPTION_UPGRADED: Final = "customer.subscription.upgraded"
CUSTOMER_SUBSCRIPTION_UPDATED: Final = "customer.subscription.updated"
CUSTOMER_SUBSCRIPTION_DELETED: Final = "customer.subscription.deleted"
CUSTOMER_SUBSCRIPTION_PAUSED: Final = "customer.subscription.paused"
CUSTOMER_SUBSCRIPTION_RESUMED: Final = "customer.subscription.resumed"
CUSTOMER_SUBSCRIPTION_TRIAL_START: Final = "customer.subscription.trial_start"
CUSTOMER_SUBSCRIPTION_TRIAL_WILL_END: Final = "customer.subscription.trial_will_end"
CUSTOMER_SUBSCRIPTION_TRIAL_END: Final = "customer.subscription.trial_end"
PAYMENT_INTENT_SUCCEEDED: Final = "payment_intent.succeeded"
PAYMENT_INTENT_PAYMENT_FAILED: Final = "payment_intent.payment_failed"
INVOICE_PAID: Final = "invoice.paid"
REFUND_SUCCEEDED: Final = "refund.succeeded"
MANUAL_NOTIFICATION: Final = "manual.notification"

#: Each documented type and its one-line description, in the documents' order.
DESCRIPTIONS: Final[Mapping[str, str]] = MappingProxyType(
    {
        CHECKOUT_SESSION_COMPLETED: "Checkout session completed",
        CHECKOUT_SESSION_NFT_MINTED: "NFT minting complete",
        CUSTOMER_SUBSCRIPTION_CREATED: "Customer subscription created",
        CUSTOMER_SUBSCRIPTION_STARTED: "Subscription initiated",
        CUSTOMER_SUBSCRIPTION_RENEWED: "Customer subscription renewed",
        CUSTOMER_SUBSCRIPTION_UPGRADED: "Customer Subscription Upgraded",
        CUSTOMER_SUBSCRIPTION_UPDATED: "Customer subscription updated",
        CUSTOMER_SUBSCRIPTION_DELETED: "Subscription canceled",
        CUSTOMER_SUBSCRIPTION_PAUSED: "Customer subscription paused",
        CUSTOMER_SUBSCRIPTION_RESUMED: "Subscription resumed",
        CUSTOMER_SUBSCRIPTION_TRIAL_START: "Trial Start Date",
        CUSTOMER_SUBSCRIPTION_TRIAL_WILL_END: "Your trial will end soon.",
        CUSTOMER_SUBSCRIPTION_TRIAL_END: "Trial End",
        PAYMENT_INTENT_SUCCEEDED: "Payment successful",
        PAYMENT_INTENT_PAYMENT_FAILED: "Payment failed",
        INVOICE_PAID: "Invoice payment completed",
        REFUND_SUCCEEDED: "Refund successful",
        MANUAL_NOTIFICATION: (
            "A notification the application handles itself (custom notification processing)"
        ),
    }
)


class EventType(StrEnum):
    """The documented types as an enum; members compare equal to the plain strings."""

    CHECKOUT_SESSION_COMPLETED = CHECKOUT_SESSION_COMPLETED
    CHECKOUT_SESSION_NFT_MINTED = CHECKOUT_SESSION_NFT_MINTED
    CUSTOMER_SUBSCRIPTION_CREATED = CUSTOMER_SUBSCRIPTION_CREATED
    CUSTOMER_SUBSCRIPTION_STARTED = CUSTOMER_SUBSCRIPTION_STARTED
    CUSTOMER_SUBSCRIPTION_RENEWED = CUSTOMER_SUBSCRIPTION_RENEWED
    CUSTOMER_SUBSCRIPTION_UPGRADED = CUSTOMER_SUBSCRIPTION_UPGRADED
    CUSTOMER_SUBSCRIPTION_UPDATED = CUSTOMER_SUBSCRIPTION_UPDATED
    CUSTOMER_SUBSCRIPTION_DELETED = CUSTOMER_SUBSCRIPTION_DELETED
    CUSTOMER_SUBSCRIPTION_PAUSED = CUSTOMER_SUBSCRIPTION_PAUSED
    CUSTOMER_SUBSCRIPTION_RESUMED = CUSTOMER_SUBSCRIPTION_RESUMED
    CUSTOMER_SUBSCRIPTION_TRIAL_START = CUSTOMER_SUBSCRIPTION_TRIAL_START
    CUSTOMER_SUBSCRIPTION_TRIAL_WILL_END = CUSTOMER_SUBSCRIPTION_TRIAL_WILL_END
    CUSTOMER_SUBSCRIPTION_TRIAL_END = CUSTOMER_SUBSCRIPTION_TRIAL_END
    PAYMENT_INTENT_SUCCEEDED = PAYMENT_INTENT_SUCCEEDED
    PAYMENT_INTENT_PAYMENT_FAILED = PAYMENT_INTENT_PAYMENT_FAILED
    INVOICE_PAID = INVOICE_PAID
    REFUND_SUCCEEDED = REFUND_SUCCEEDED
    MANUAL_NOTIFICATION = MANUAL_NOTIFICATION

    @property
    def description(self) -> str:
        """The documents' one-line description of this type."""
        return DESCRIPTIONS[self.value]


class CheckoutSessionEvent(Event[EventData[CheckoutSession]]):
    """Every ``checkout.session.*`` event: its ``data.object`` is a :class:`CheckoutSession`."""

    event_pattern: ClassVar[str] = "checkout.session.*"


class CheckoutSessionCompleted(CheckoutSessionEvent):
    """``checkout.session.completed``: Checkout session completed"""

    type: Literal["checkout.session.completed"] = "checkout.session.completed"


class CheckoutSessionNftMinted(CheckoutSessionEvent):
    """``checkout.session.nft_minted``: NFT minting complete"""

    type: Literal["checkout.session.nft_minted"] = "checkout.session.nft_minted"


class SubscriptionEvent(Event[EventData[CustomerSubscription]]):
    """Every ``customer.subscription.*`` event: its ``data.object`` is a
    :class:`CustomerSubscription`.
    """

    event_pattern: ClassVar[str] = "customer.subscription.*"


class SubscriptionCreated(SubscriptionEvent):
    """``customer.subscription.created``: Customer subscription created"""

    type: Literal["customer.subscription.created"] = "customer.subscription.created"


class SubscriptionStarted(SubscriptionEvent):
    """``customer.subscription.started``: Subscription initiated"""

    type: Literal["customer.subscription.started"] = "customer.subscription.started"


class SubscriptionRenewed(SubscriptionEvent):
    """``customer.subscription.renewed``: Customer subscription renewed"""

    type: Literal["customer.subscription.renewed"] = "customer.subscription.renewed"


class SubscriptionUpgraded(SubscriptionEvent):
    """``customer.subscription.upgraded``: Customer Subscription Upgraded"""

    type: Literal["customer.subscription.upgraded"] = "customer.subscription.upgraded"


class SubscriptionUpdated(SubscriptionEvent):
    """``customer.subscription.updated``: Customer subscription updated"""

    type: Literal["customer.subscription.updated"] = "customer.subscription.updated"


class SubscriptionDeleted(SubscriptionEvent):
    """``customer.subscription.deleted``: Subscription canceled"""

    type: Literal["customer.subscription.deleted"] = "customer.subscription.deleted"


class SubscriptionPaused(SubscriptionEvent):
    """``customer.subscription.paused``: Customer subscription paused"""

    type: Literal["customer.subscription.paused"] = "customer.subscription.paused"


class SubscriptionResumed(SubscriptionEvent):
    """``customer.subscription.resumed``: Subscription resumed"""

    type: Literal["customer.subscription.resumed"] = "customer.subscription.resumed"


class SubscriptionTrialStart(SubscriptionEvent):
    """``customer.subscription.trial_start``: Trial Start Date"""

    type: Literal["customer.subscription.trial_start"] = "customer.subscription.trial_start"


class SubscriptionTrialWillEnd(SubscriptionEvent):
    """``customer.subscription.trial_will_end``: Your trial will end soon."""

    type: Literal["customer.subscription.trial_will_end"] = "customer.subscription.trial_will_end"


class SubscriptionTrialEnd(SubscriptionEvent):
    """``customer.subscription.trial_end``: Trial End"""

    type: Literal["customer.subscription.trial_end"] = "customer.subscription.trial_end"


class PaymentIntentEvent(Event[EventData[PaymentIntent]]):
    """Every ``payment_intent.*`` event: its ``data.object`` is a :class:`PaymentIntent`."""

    event_pattern: ClassVar[str] = "payment_intent.*"


class PaymentIntentSucceeded(PaymentIntentEvent):
    """``payment_intent.succeeded``: Payment successful"""

    type: Literal["payment_intent.succeeded"] = "payment_intent.succeeded"


class PaymentIntentPaymentFailed(PaymentIntentEvent):
    """``payment_intent.payment_failed``: Payment failed"""

    type: Literal["payment_intent.payment_failed"] = "payment_intent.payment_failed"


class InvoiceEvent(Event[EventData[Invoice]]):
    """Every ``invoice.*`` event: its ``data.object`` is an :class:`Invoice`."""

    event_pattern: ClassVar[str] = "invoice.*"


class InvoicePaid(InvoiceEvent):
    """``invoice.paid``: Invoice payment completed"""

    type: Literal["invoice.paid"] = "invoice.paid"


class RefundEvent(Event[EventData[Refund]]):
    """Every ``refund.*`` event: its ``data.object`` is a :class:`Refund`."""

    event_pattern: ClassVar[str] = "refund.*"


class RefundSucceeded(RefundEvent):
    """``refund.succeeded``: Refund successful"""

    type: Literal["refund.succeeded"] = "refund.succeeded"


class ManualNotification(Event[EventData[Notification]]):
    """``manual.notification``: a notification the application sends itself.

    ``data.object.type`` is the trigger's type and ``data.object.data`` the entity, user and
    context; ``parent_id`` is the trigger's id when :class:`NotificationPolicy` published it,
    and its id is ``<trigger id>:manual.notification`` (the same on every retry).
    """

    type: Literal["manual.notification"] = "manual.notification"


#: Every class of the catalogue, families before their members.
EVENT_CLASSES: tuple[EventClass, ...] = (
    CheckoutSessionEvent,
    CheckoutSessionCompleted,
    CheckoutSessionNftMinted,
    SubscriptionEvent,
    SubscriptionCreated,
    SubscriptionStarted,
    SubscriptionRenewed,
    SubscriptionUpgraded,
    SubscriptionUpdated,
    SubscriptionDeleted,
    SubscriptionPaused,
    SubscriptionResumed,
    SubscriptionTrialStart,
    SubscriptionTrialWillEnd,
    SubscriptionTrialEnd,
    PaymentIntentEvent,
    PaymentIntentSucceeded,
    PaymentIntentPaymentFailed,
    InvoiceEvent,
    InvoicePaid,
    RefundEvent,
    RefundSucceeded,
    ManualNotification,
)
