"""The event types Payment Kit's documents name, with the documents' one-line descriptions.

The platform accepts any dotted string as a type (its ``EventType`` is a literal union widened
to ``string``), so this catalogue is what the documents promise, not a closed list: types not
listed here are still delivered, as plain events or through a family class.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

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

#: Each documented type and its one-line description, in the documents' order. The
#: descriptions are the documents' own words ("Event Type Descriptions" of the event-listening
#: guide); ``manual.notification`` is described in the custom notification guide.
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


def describe(event_type: str, /) -> str:
    """The documents' one-line description of ``event_type``.

    :raises KeyError: the documents do not name ``event_type``
    """
    try:
        return DESCRIPTIONS[event_type]
    except KeyError:
        raise KeyError(
            f"{event_type!r} is not in the Payment Kit catalogue; "
            "see eventbus.paymentkit.DESCRIPTIONS for the documented types"
        ) from None


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
