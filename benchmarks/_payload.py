"""S6's delivery: a signed ~1 KB Payment Kit event, made fresh (new id, current time) per sample.

Signed with the Standard Webhooks scheme (the adapter's default): HMAC-SHA256 over
``id.timestamp.body`` with the base64 secret, so the floor is that HMAC plus ``json.loads``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time

SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
KEY = bytes(range(32))
EVENT_TYPE = "customer.subscription.renewed"
_counter = itertools.count(1)


def body_for(event_id: str) -> bytes:
    """A Payment Kit event of about 1 KB, as its webhook body."""
    subscription = {
        "id": "sub_hmL7FQTmMbYVELkH6uVo6m9P",
        "object": "subscription",
        "status": "active",
        "customer_id": "cus_Wq8kLmN2pR4sT6vX8zB1dF3h",
        "currency_id": "pc_usd_7YhT2kLmN4pQ6rS8",
        "current_period_start": 1740000000,
        "current_period_end": 1742592000,
        "cancel_at_period_end": False,
        "collection_method": "charge_automatically",
        "description": "Pro plan, monthly, Café ☕",
        "items": [
            {"id": "si_9Kd2mF7hJ4", "price_id": "price_3Lp8Rt6Yw2", "quantity": 1},
            {"id": "si_2Xc5vB8nM1", "price_id": "price_7Gh4Jk9Lq3", "quantity": 3},
        ],
        "metadata": {"tenant": "acme-corp", "plan": "pro", "seats": "4", "region": "eu-west"},
    }
    event = {
        "id": event_id,
        "type": EVENT_TYPE,
        "livemode": False,
        "api_version": "2023-09-05",
        "object_type": "Subscription",
        "object_id": subscription["id"],
        "data": {"object": subscription, "previous_attributes": {"status": "past_due"}},
        "request": {"id": "req_4Fg7Hj2Kl9Mn", "idempotency_key": "idem_8Qw3Er5Ty7Ui"},
        "pending_webhooks": 1,
        "metadata": {"source": "benchmark", "note": "x" * 30},
        "created_at": "2025-02-19T21:20:00.000Z",
    }
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


def sign(event_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header for ``body``."""
    mac = hmac.new(KEY, f"{event_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


class Deliveries:
    """``items``: ``(body, headers)`` pairs with ids never used before in this process."""

    def __init__(self) -> None:
        self.items: list[tuple[bytes, dict[str, str]]] = []

    def prepare(self, n: int) -> None:
        now = int(time.time())
        self.items = []
        for _ in range(n):
            event_id = f"evt_bench{next(_counter):012d}"
            body = body_for(event_id)
            headers = {
                "content-type": "application/json",
                "webhook-id": event_id,
                "webhook-timestamp": str(now),
                "webhook-signature": sign(event_id, now, body),
            }
            self.items.append((body, headers))
