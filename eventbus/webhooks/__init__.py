"""Webhook deliveries in, verified, de-duplicated events on the bus out."""

from ._asgi import AsgiWebhookApp
from ._blocklet import BlockletComponentSignature
from ._errors import SignatureError, WebhookError
from ._hmac_timestamp import HmacTimestampSignature
from ._idempotency import Claim, IdempotencyStore, MemoryIdempotencyStore
from ._receiver import WebhookReceiver
from ._request import WebhookRequest
from ._response import WebhookResponse
from ._scheme import SignatureScheme
from ._sqlite_store import SqliteIdempotencyStore
from ._standard import StandardWebhooks
from ._unverified import Unverified
from ._wsgi import WsgiWebhookApp

__all__ = [
    "AsgiWebhookApp",
    "BlockletComponentSignature",
    "Claim",
    "HmacTimestampSignature",
    "IdempotencyStore",
    "MemoryIdempotencyStore",
    "SignatureError",
    "SignatureScheme",
    "SqliteIdempotencyStore",
    "StandardWebhooks",
    "Unverified",
    "WebhookError",
    "WebhookReceiver",
    "WebhookRequest",
    "WebhookResponse",
    "WsgiWebhookApp",
]
