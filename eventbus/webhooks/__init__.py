"""Webhook deliveries in, verified, de-duplicated events on the bus out."""

from ._asgi import AsgiWebhookApp
from ._blocklet import BlockletComponentSignature
from ._endpoints import Endpoint
from ._errors import SignatureError, WebhookError
from ._hmac_timestamp import HmacTimestampSignature
from ._idempotency import Claim, IdempotencyStore, MemoryIdempotencyStore
from ._outbox import Attempt, OutboundDelivery, Outbox
from ._receiver import WebhookReceiver
from ._request import WebhookRequest
from ._response import WebhookResponse
from ._scheme import SignatureScheme
from ._sender import WebhookSender
from ._sender_errors import (
    DeliveryNotFoundError,
    EndpointNotFoundError,
    EndpointURLError,
    UnsafeAddressError,
)
from ._sqlite_outbox import SqliteOutbox
from ._sqlite_store import SqliteIdempotencyStore
from ._standard import StandardWebhooks
from ._unverified import Unverified
from ._wsgi import WsgiWebhookApp

__all__ = [
    "AsgiWebhookApp",
    "Attempt",
    "BlockletComponentSignature",
    "Claim",
    "DeliveryNotFoundError",
    "Endpoint",
    "EndpointNotFoundError",
    "EndpointURLError",
    "HmacTimestampSignature",
    "IdempotencyStore",
    "MemoryIdempotencyStore",
    "OutboundDelivery",
    "Outbox",
    "SignatureError",
    "SignatureScheme",
    "SqliteIdempotencyStore",
    "SqliteOutbox",
    "StandardWebhooks",
    "UnsafeAddressError",
    "Unverified",
    "WebhookError",
    "WebhookReceiver",
    "WebhookRequest",
    "WebhookResponse",
    "WebhookSender",
    "WsgiWebhookApp",
]
