"""One attempt: the headers (signatures under every active secret, trace context), one POST
bounded by the timeout, and what the answer means for the delivery.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from .._tracing import outgoing_traceparent
from ._hmac_timestamp import HmacTimestampSignature
from ._standard import StandardWebhooks

if TYPE_CHECKING:
    from .._envelope import Event
    from ._outbox import Lease

#: How much of a response body an attempt keeps.
BODY_LIMIT = 4096
#: Statuses whose ``Retry-After`` is honoured (clamped to the schedule).
RETRY_AFTER_STATUSES = frozenset({429, 502, 503, 504})
#: The header the ``hmac-timestamp`` scheme signs in, as Blocklet Server sends it.
HMAC_HEADER = "X-Webhook-Signature"


@dataclass(frozen=True, slots=True)
class Answer:
    """What one POST came to.

    :ivar retry_after: seconds the receiver asked to wait (429/502/503/504 only)
    :ivar gone: the receiver answered 410: the endpoint no longer exists
    """

    ok: bool
    status: int | None
    body: str | None
    error: str | None
    duration: float
    retry_after: float | None = None
    gone: bool = False


def trace_headers(event: Event[Any]) -> dict[str, str]:
    """The trace context to send with every attempt of ``event``, fixed when it is queued.

    A ``traceparent`` header: the current span's when OpenTelemetry is installed and a span
    is current, otherwise the event's own ``traceparent`` field, if it has one.
    """
    traceparent = outgoing_traceparent(event)
    return {} if traceparent is None else {"traceparent": traceparent}


def signature_headers(claim: Lease, now: datetime) -> dict[str, str]:
    """Sign the claimed message afresh at ``now`` with each of the endpoint's active secrets."""
    endpoint, message = claim.endpoint, claim.message
    keys = endpoint.signing_secrets(now)
    stamp = int(now.timestamp())
    if endpoint.scheme == "hmac-timestamp":
        return HmacTimestampSignature(keys, header=HMAC_HEADER).sign(message.body, timestamp=stamp)
    return StandardWebhooks(keys).sign(message.body, msg_id=message.event_id, timestamp=stamp)


def retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delay seconds or an HTTP date)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())
