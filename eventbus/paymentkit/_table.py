"""The Payment Kit catalogue as one table: the source of the type constants, the descriptions,
the :class:`EventType` enum, the typed event classes and the CLI's sample events.

Adding a type is one row in :data:`TYPES` followed by ``python -m eventbus.paymentkit._codegen``,
which rewrites ``_generated.py`` and ``__init__.py`` (committed, so mypy and readers see every
name written out; a test fails while they are not current).

Descriptions are the documents' own words ("Event Type Descriptions" of the event-listening
guide); ``manual.notification`` is described in the custom notification guide.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True, slots=True)
class Family:
    """Every type under one prefix: one class whose ``data.object`` is one entity.

    :ivar pattern: the bus pattern the family class covers (``customer.subscription.*``)
    :ivar class_name: the family class (``SubscriptionEvent``)
    :ivar entity: the entity model in ``_models`` (``CustomerSubscription``)
    :ivar sample: the CLI sample for types of the family the documents do not name:
        ``(maker, *arguments)`` of ``eventbus._cli._samples``
    """

    pattern: str
    class_name: str
    entity: str
    sample: tuple[str, ...]

    @property
    def prefix(self) -> str:
        """The pattern without its final ``.*``."""
        return self.pattern.removesuffix(".*")


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One documented event type.

    :ivar type: the event type
    :ivar description: the documents' one-line description
    :ivar class_name: its typed class
    :ivar sample: the CLI sample's ``(maker, *arguments)``
    :ivar family: the family it belongs to, or ``None`` for a class of its own
    :ivar entity: for a class of its own, the model of its ``data.object``
    :ivar doc: for a class of its own, its docstring
    :ivar previous: the sample's ``previous_attributes``, for update-like types
    """

    type: str
    description: str
    class_name: str
    sample: tuple[str, ...]
    family: Family | None = None
    entity: str | None = None
    doc: str = ""
    previous: Mapping[str, Any] = field(default_factory=dict)

    @property
    def constant(self) -> str:
        """The module constant's name: ``customer.subscription.started`` is
        ``CUSTOMER_SUBSCRIPTION_STARTED``."""
        return self.type.upper().replace(".", "_")


CHECKOUT = Family("checkout.session.*", "CheckoutSessionEvent", "CheckoutSession", ("checkout",))
SUBSCRIPTION = Family(
    "customer.subscription.*",
    "SubscriptionEvent",
    "CustomerSubscription",
    ("subscription", "active"),
)
PAYMENT_INTENT = Family(
    "payment_intent.*", "PaymentIntentEvent", "PaymentIntent", ("payment_intent", "processing")
)
INVOICE = Family("invoice.*", "InvoiceEvent", "Invoice", ("invoice",))
REFUND = Family("refund.*", "RefundEvent", "Refund", ("refund",))

#: The families, in the documents' order.
FAMILIES: tuple[Family, ...] = (CHECKOUT, SUBSCRIPTION, PAYMENT_INTENT, INVOICE, REFUND)


def _sub(
    name: str, description: str, sample_status: str, previous: Mapping[str, Any] | None = None
) -> EventSpec:
    class_name = "Subscription" + name.title().replace("_", "")
    return EventSpec(
        f"customer.subscription.{name}",
        description,
        class_name,
        ("subscription", sample_status),
        SUBSCRIPTION,
        previous=MappingProxyType(dict(previous or {})),
    )


#: Every documented type, in the documents' order.
TYPES: tuple[EventSpec, ...] = (
    EventSpec(
        "checkout.session.completed",
        "Checkout session completed",
        "CheckoutSessionCompleted",
        ("checkout",),
        CHECKOUT,
    ),
    EventSpec(
        "checkout.session.nft_minted",
        "NFT minting complete",
        "CheckoutSessionNftMinted",
        ("nft_checkout",),
        CHECKOUT,
    ),
    _sub("created", "Customer subscription created", "incomplete"),
    _sub("started", "Subscription initiated", "active"),
    _sub("renewed", "Customer subscription renewed", "active"),
    _sub(
        "upgraded",
        "Customer Subscription Upgraded",
        "active",
        {"items": [{"price_id": "price_basic", "quantity": 1}]},
    ),
    _sub("updated", "Customer subscription updated", "active", {"cancel_at_period_end": True}),
    _sub("deleted", "Subscription canceled", "canceled", {"status": "active"}),
    _sub("paused", "Customer subscription paused", "paused", {"status": "active"}),
    _sub("resumed", "Subscription resumed", "active", {"status": "paused"}),
    _sub("trial_start", "Trial Start Date", "trialing"),
    _sub("trial_will_end", "Your trial will end soon.", "trialing"),
    _sub("trial_end", "Trial End", "active", {"status": "trialing"}),
    EventSpec(
        "payment_intent.succeeded",
        "Payment successful",
        "PaymentIntentSucceeded",
        ("payment_intent", "succeeded"),
        PAYMENT_INTENT,
    ),
    EventSpec(
        "payment_intent.payment_failed",
        "Payment failed",
        "PaymentIntentPaymentFailed",
        ("payment_intent", "requires_payment_method"),
        PAYMENT_INTENT,
    ),
    EventSpec("invoice.paid", "Invoice payment completed", "InvoicePaid", ("invoice",), INVOICE),
    EventSpec("refund.succeeded", "Refund successful", "RefundSucceeded", ("refund",), REFUND),
    EventSpec(
        "manual.notification",
        "A notification the application handles itself (custom notification processing)",
        "ManualNotification",
        ("notification",),
        entity="Notification",
        doc=(
            "``manual.notification``: a notification the application sends itself.\n\n"
            "``data.object.type`` is the trigger's type and ``data.object.data`` the entity, "
            "user and\ncontext; ``parent_id`` is the trigger's id when "
            ":class:`NotificationPolicy` published it,\nand its id is "
            "``<trigger id>:manual.notification`` (the same on every retry)."
        ),
    ),
)
