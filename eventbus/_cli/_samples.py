"""Sample Payment Kit events for ``eventbus trigger``: one realistic object per type.

The shapes follow Payment Kit's published models (``@blocklet/payment-types``): snake_case
fields, ``*_id`` references, amounts as decimal strings of the currency's smallest unit,
billing periods in unix seconds and ``created_at`` times as ISO 8601 strings.
``manual.notification`` carries the notification shape ``{type, data: {entity, userDid,
context}}`` under ``data.object``.
"""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

API_VERSION = "2023-09-05"
USER_DID = "z1muQ3xqHQK2uiACHyChikobsiY5kLqtShA"
CUSTOMER = "cus_3Hv9K2pXqL8mN4rT6wYz1aBc"
CURRENCY = "pc_ABT7xR2mK9pL4vN8qW3sT6yZ"
PRICE = "price_M4nB7vC2xZ9kL3jH6gF1dS8a"

Sample = dict[str, Any]


def _iso(unix: float) -> str:
    return (
        datetime.fromtimestamp(unix, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def _subscription(status: str) -> Sample:
    now = int(time.time())
    start = now - 86_400
    return {
        "id": "sub_hmL7FQTmMbYVELkH6uVo6m9P",
        "object": "subscription",
        "status": status,
        "customer_id": CUSTOMER,
        "currency_id": CURRENCY,
        "description": "Pro plan (monthly)",
        "collection_method": "charge_automatically",
        "cancel_at_period_end": status == "canceled",
        "current_period_start": start,
        "current_period_end": start + 30 * 86_400,
        "trial_start": start if status == "trialing" else None,
        "trial_end": start + 14 * 86_400 if status == "trialing" else None,
        "items": [{"id": "si_Q2w3E4r5T6y7U8i9O0pA1sD2", "price_id": PRICE, "quantity": 1}],
        "latest_invoice_id": "in_7Yt5Rw3Qe1Zx9Cv7Bn5Ml3Kj",
        "metadata": {"setting_id": "your.app.id"},
        "livemode": False,
        "created_at": _iso(start),
    }


def _payment_intent(status: str) -> Sample:
    failed = status != "succeeded"
    return {
        "id": "pi_9LpK3mX7vQ2nR8sT4wY6zA1b",
        "object": "payment_intent",
        "amount": "1990",
        "amount_received": "0" if failed else "1990",
        "currency_id": CURRENCY,
        "customer_id": CUSTOMER,
        "description": "Subscription update",
        "status": status,
        "invoice_id": "in_7Yt5Rw3Qe1Zx9Cv7Bn5Ml3Kj",
        "last_payment_error": (
            {"type": "card_error", "code": "insufficient_funds", "message": "Insufficient funds"}
            if failed
            else None
        ),
        "metadata": {},
        "livemode": False,
        "created_at": _iso(time.time()),
    }


def _checkout_session() -> Sample:
    return {
        "id": "cs_live_a1B2c3D4e5F6g7H8i9J0kLmN",
        "object": "checkout.session",
        "mode": "subscription",
        "status": "complete",
        "payment_status": "paid",
        "amount_subtotal": "1990",
        "amount_total": "1990",
        "currency_id": CURRENCY,
        "customer_id": CUSTOMER,
        "customer_did": USER_DID,
        "subscription_id": "sub_hmL7FQTmMbYVELkH6uVo6m9P",
        "payment_intent_id": "pi_9LpK3mX7vQ2nR8sT4wY6zA1b",
        "line_items": [{"price_id": PRICE, "quantity": 1}],
        "success_url": "https://your-app.example/checkout/success",
        "metadata": {"setting_id": "your.app.id"},
        "livemode": False,
        "created_at": _iso(time.time() - 60),
    }


def _nft_session() -> Sample:
    session = _checkout_session()
    session["nft_mint_status"] = "minted"
    session["nft_mint_details"] = {
        "type": "arcblock",
        "arcblock": {"address": "zjdn7tKzUEKc3bSjp4rHmwRkx1iFYF6eXbUx", "tx_hash": "0x5f3a9c"},
    }
    return session


def _invoice() -> Sample:
    now = int(time.time())
    return {
        "id": "in_7Yt5Rw3Qe1Zx9Cv7Bn5Ml3Kj",
        "object": "invoice",
        "number": "ABCD1234-0007",
        "status": "paid",
        "billing_reason": "subscription_cycle",
        "amount_due": "1990",
        "amount_paid": "1990",
        "amount_remaining": "0",
        "currency_id": CURRENCY,
        "customer_id": CUSTOMER,
        "subscription_id": "sub_hmL7FQTmMbYVELkH6uVo6m9P",
        "payment_intent_id": "pi_9LpK3mX7vQ2nR8sT4wY6zA1b",
        "period_start": now - 86_400,
        "period_end": now + 29 * 86_400,
        "livemode": False,
        "created_at": _iso(now),
    }


def _refund() -> Sample:
    return {
        "id": "re_5Gh8Jk2Lm4Nb6Vc8Xz0Qw2Er",
        "object": "refund",
        "amount": "1990",
        "currency_id": CURRENCY,
        "customer_id": CUSTOMER,
        "payment_intent_id": "pi_9LpK3mX7vQ2nR8sT4wY6zA1b",
        "reason": "requested_by_customer",
        "status": "succeeded",
        "livemode": False,
        "created_at": _iso(time.time()),
    }


def _notification() -> Sample:
    return {
        "type": "customer.subscription.started",
        "data": {
            "entity": _subscription("active"),
            "userDid": USER_DID,
            "context": {
                "locale": "en",
                "productName": "Pro plan",
                "amount": "19.90 ABT",
                "viewSubscriptionLink": "https://your-app.example/customer/subscription",
            },
        },
    }


_SUBSCRIPTION_STATUS = {
    "created": "incomplete",
    "started": "active",
    "renewed": "active",
    "upgraded": "active",
    "updated": "active",
    "deleted": "canceled",
    "paused": "paused",
    "resumed": "active",
    "trial_start": "trialing",
    "trial_will_end": "trialing",
    "trial_end": "active",
}

_PREVIOUS: dict[str, Sample] = {
    "customer.subscription.updated": {"cancel_at_period_end": True},
    "customer.subscription.upgraded": {"items": [{"price_id": "price_basic", "quantity": 1}]},
    "customer.subscription.deleted": {"status": "active"},
    "customer.subscription.paused": {"status": "active"},
    "customer.subscription.resumed": {"status": "paused"},
    "customer.subscription.trial_end": {"status": "trialing"},
}

SAMPLES: dict[str, Callable[[], Sample]] = {
    "checkout.session.completed": _checkout_session,
    "checkout.session.nft_minted": _nft_session,
    **{
        f"customer.subscription.{name}": functools.partial(_subscription, status)
        for name, status in _SUBSCRIPTION_STATUS.items()
    },
    "payment_intent.succeeded": functools.partial(_payment_intent, "succeeded"),
    "payment_intent.payment_failed": functools.partial(_payment_intent, "requires_payment_method"),
    "invoice.paid": _invoice,
    "refund.succeeded": _refund,
    "manual.notification": _notification,
}


#: Types the documents do not name but a Payment Kit family covers (``customer.subscription.*``
#: and so on) get their family's entity, so the listener's typed validation accepts them.
FAMILY_SAMPLES: dict[str, Callable[[], Sample]] = {
    "checkout.session": _checkout_session,
    "customer.subscription": functools.partial(_subscription, "active"),
    "payment_intent": functools.partial(_payment_intent, "processing"),
    "invoice": _invoice,
    "refund": _refund,
}


def _maker(event_type: str) -> Callable[[], Sample] | None:
    family, _, member = event_type.rpartition(".")
    return SAMPLES.get(event_type) or (FAMILY_SAMPLES.get(family) if member else None)


def merged(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> Sample:
    """``base`` with ``overrides`` merged in deeply: where both hold an object under a key,
    the two are merged key by key; any other value (a list, a string, ``null``) replaces.
    """
    result = dict(base)
    for key, value in overrides.items():
        current = result.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            value = merged(current, value)
        result[key] = value
    return result


def has_sample(event_type: str) -> bool:
    """Whether ``event_type`` has a realistic sample, its own or its family's (otherwise a
    minimal event is sent)."""
    return _maker(event_type) is not None


def new_event_id() -> str:
    """A Payment Kit style event id: ``evt_`` and 24 random letters and digits."""
    return "evt_" + secrets.token_urlsafe(18).replace("-", "x").replace("_", "y")


def sample_event(
    event_type: str, *, event_id: str, overrides: Mapping[str, Any] | None = None
) -> Sample:
    """A Payment Kit event of ``event_type``, as the platform would POST it.

    :param overrides: merged deeply over ``data.object`` (:func:`merged`), so a few fields,
        nested ones included, can be changed while the rest of the sample stays realistic
    """
    make = _maker(event_type)
    obj = merged(make() if make is not None else {}, overrides or {})
    data: Sample = {"object": obj}
    if event_type in _PREVIOUS:
        data["previous_attributes"] = _PREVIOUS[event_type]
    event: Sample = {
        "id": event_id,
        "type": event_type,
        "livemode": False,
        "api_version": API_VERSION,
        "data": data,
        "created_at": _iso(time.time()),
    }
    if isinstance(obj.get("object"), str) and isinstance(obj.get("id"), str):
        event["object_type"] = obj["object"].replace(".", "_").title().replace("_", "")
        event["object_id"] = obj["id"]
    return event
