"""What the receiver answers a sender, and the one mapping from a delivery's end to it.

Every entry point (``handle``, ``handle_async``, the ASGI and WSGI apps, the framework
adapters) ends a delivery with an :class:`Outcome` or an exception and passes it to
:func:`answer`, which builds the :class:`WebhookResponse` and logs the refusal.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

logger = logging.getLogger("eventbus.webhooks")

OutcomeName = Literal["handled", "ignored", "duplicate", "in_flight", "failed", "rejected"]

#: How many characters of a sender's value an error message quotes.
QUOTE_LIMIT = 200


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
        """The body as UTF-8 JSON bytes (a lone surrogate in a quoted value is escaped)."""
        return json.dumps(self.body, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a delivery ended, before it is written as HTTP: what the steps return."""

    status: int
    outcome: OutcomeName
    event_id: str | None = None
    error: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


class DeliveryRejectedError(Exception):
    """Ends a delivery early with ``outcome``; raised and caught inside the webhook package."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.error)
        self.outcome = outcome


def reject(
    status: int,
    error: str,
    event_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> DeliveryRejectedError:
    """A :class:`DeliveryRejectedError` answering ``status`` with outcome ``rejected``."""
    return DeliveryRejectedError(Outcome(status, "rejected", event_id, error, dict(headers or {})))


def shown(value: object) -> str:
    """``repr(value)`` cut to :data:`QUOTE_LIMIT` characters, for quoting a sender's value."""
    text = repr(value)
    if len(text) <= QUOTE_LIMIT:
        return text
    return f"{text[:QUOTE_LIMIT]}... ({len(text)} characters)"


def answer(result: Outcome | BaseException, where: str) -> WebhookResponse:
    """The HTTP answer for a delivery that ended with ``result``; logs what it refused.

    A refusal logs one line on the ``eventbus.webhooks`` logger (INFO for 405, 409 and
    duplicates, WARNING for every other refusal and for failed handlers) with the status,
    outcome, event id and reason; never a secret, a signature or the body. An unexpected
    exception is logged with its traceback and answered 500.

    :param result: the delivery's outcome, or the exception that ended it
    :param where: ``METHOD path``, for the log
    """
    if isinstance(result, DeliveryRejectedError):
        result = result.outcome
    if isinstance(result, BaseException):
        logger.error("webhook %s: adapter failed", where, exc_info=result)
        result = Outcome(
            500,
            "failed",
            None,
            "internal error in the webhook adapter; the traceback is in the server log "
            "(logger 'eventbus.webhooks'); the sender should retry",
        )
    else:
        _log(result, where)
    body = {
        "ok": 200 <= result.status < 300,
        "outcome": result.outcome,
        "event_id": result.event_id,
        "error": result.error,
    }
    return WebhookResponse(result.status, body, dict(result.headers))


def _log(result: Outcome, where: str) -> None:
    if result.outcome in ("handled", "ignored"):
        return
    quiet = result.outcome == "duplicate" or result.status in (405, 409)
    logger.log(
        logging.INFO if quiet else logging.WARNING,
        "webhook %s answered %d %s, event %s: %s",
        where,
        result.status,
        result.outcome,
        result.event_id,
        result.error or "already handled",
        extra={
            "webhook_status": result.status,
            "webhook_outcome": result.outcome,
            "webhook_event_id": result.event_id,
        },
    )
