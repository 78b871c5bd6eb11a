"""Typed handlers, checked by ``mypy --strict`` in ``make test`` (not run by pytest).

If the typing of ``Event[...]`` subclasses or of ``subscribe``/``on``/``wait_for`` with a
class broke (to ``Any`` included), the ``assert_type`` lines below would fail under mypy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ClassVar, Literal, assert_type

from pydantic import BaseModel

from eventbus import Event, EventBus, HandlerCall, PublishCall, PublishResult, paymentkit


class Invoice(BaseModel):
    id: str
    amount_paid: int
    currency: str = "usd"


class InvoiceData(BaseModel):
    object: Invoice


class InvoicePaid(Event[InvoiceData]):
    type: Literal["invoice.paid"] = "invoice.paid"


class Subscription(BaseModel):
    id: str
    status: str


class SubscriptionData(BaseModel):
    object: Subscription


class SubscriptionEvent(Event[SubscriptionData]):
    """Every ``customer.subscription.*`` event carries a subscription."""

    event_pattern: ClassVar[str] = "customer.subscription.*"


bus = EventBus()


@bus.on(InvoicePaid)
def record_payment(event: InvoicePaid) -> None:
    assert_type(event.data.object.amount_paid, int)
    assert_type(event.data.object.currency, str)


def on_subscription(event: SubscriptionEvent) -> None:
    assert_type(event.data.object.status, str)


bus.subscribe(SubscriptionEvent, on_subscription)


async def wait_for_payment() -> int:
    event = await bus.wait_for(
        InvoicePaid, timeout=1.0, where=lambda e: e.data.object.amount_paid > 0
    )
    assert_type(event, InvoicePaid)
    return event.data.object.amount_paid


@bus.on(paymentkit.PaymentIntentSucceeded)
def fulfil(event: paymentkit.PaymentIntentSucceeded) -> None:
    assert_type(event.data.object.amount, int)


@bus.on(paymentkit.ManualNotification)
def notify(event: paymentkit.ManualNotification) -> None:
    assert_type(event.data.object.data.user_did, str | None)


# ``on(cls)`` checks the handler's parameter as ``subscribe(cls, handler)`` does: a handler
# for another class is an error (``warn_unused_ignores`` would flag this line if mypy
# stopped reporting it).
@bus.on(InvoicePaid)  # type: ignore[arg-type]
def mismatched(event: paymentkit.PaymentIntentSucceeded) -> None: ...


assert_type(record_payment, Callable[[InvoicePaid], None])


# Middleware is checked against where it goes: a handler middleware takes a HandlerCall, a
# publish middleware a PublishCall.
@contextmanager
def log_handler_calls(call: HandlerCall) -> Iterator[None]:
    assert_type(call.subscription.name, str)
    yield


@contextmanager
def log_publishes(call: PublishCall) -> Iterator[None]:
    yield
    assert_type(call.result, PublishResult | None)


remove_handler_middleware = bus.use(log_handler_calls)
remove_publish_middleware = bus.use(log_publishes, on="publish")
assert_type(remove_publish_middleware, Callable[[], None])
bus.use(log_publishes)  # type: ignore[arg-type]
