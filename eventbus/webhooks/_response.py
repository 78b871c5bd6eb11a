"""What the receiver answers a sender: a status and a small JSON body."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

logger = logging.getLogger("eventbus.webhooks")

Outcome = Literal["handled", "ignored", "duplicate", "in_flight", "failed", "rejected"]


@dataclass(frozen=True, slots=True)
class WebhookResponse:
    """The answer to one delivery.

    ``body`` is ``{"ok": ..., "outcome": ..., "event_id": ..., "error": ...}``: ``ok`` is
    true exactly for a 2xx status; ``outcome`` is ``handled``, ``ignored`` or ``duplicate``
    (200), ``in_flight`` (409), ``failed`` (500) or ``rejected`` (every other 4xx);
    ``event_id`` is the event's id once known, else ``None``; ``error`` says what went wrong
    and what to do, or is ``None``.

    :ivar status: the HTTP status code
    :ivar body: the JSON-able body
    :ivar headers: extra response headers (``Allow`` on a 405)
    """

    status: int
    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True for a 2xx status: the sender should not retry."""
        return 200 <= self.status < 300

    @property
    def content(self) -> bytes:
        """The body as UTF-8 JSON bytes."""
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode()


def respond(
    status: int,
    outcome: Outcome,
    event_id: str | None = None,
    error: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> WebhookResponse:
    """Build a :class:`WebhookResponse` with the standard body."""
    body = {"ok": 200 <= status < 300, "outcome": outcome, "event_id": event_id, "error": error}
    return WebhookResponse(status, body, dict(headers or {}))


class DeliveryRejectedError(Exception):
    """Ends a delivery early with ``response``; raised and caught inside the receiver only."""

    def __init__(self, response: WebhookResponse) -> None:
        super().__init__(response.body["error"])
        self.response = response


def reject(status: int, error: str, event_id: str | None = None) -> DeliveryRejectedError:
    """A :class:`DeliveryRejectedError` answering ``status`` with outcome ``rejected``."""
    return DeliveryRejectedError(respond(status, "rejected", event_id, error))


def internal_error(where: str) -> WebhookResponse:
    """Log the exception being handled, with its traceback, and build the 500 answer."""
    logger.exception("webhook adapter failed on %s", where)
    return respond(
        500,
        "failed",
        None,
        "internal error in the webhook adapter; the traceback is in the server log "
        "(logger 'eventbus.webhooks'); the sender should retry",
    )
