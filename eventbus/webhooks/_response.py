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

from .._exceptions import StoreFileMissingError

logger = logging.getLogger("eventbus.webhooks")

OutcomeName = Literal[
    "handled",
    "ignored",
    "duplicate",
    "dead_letter",
    "queued",
    "in_flight",
    "failed",
    "rejected",
]

#: How many characters of a sender's value an error message quotes.
QUOTE_LIMIT = 200

#: The longest event id accepted. Senders' ids are short (Stripe's ``evt_`` plus 24
#: characters); a longer one is refused before any handler runs, so answers, log lines and
#: the inbox's keys stay small whatever a sender signs.
MAX_EVENT_ID_LENGTH = 255

#: Each outcome but ``rejected``: its one HTTP status, and when the receiver answers it.
#: With :data:`REFUSALS`, the one table of answers (the FastAPI router documents these).
OUTCOMES: dict[OutcomeName, tuple[int, str]] = {
    "handled": (200, "published, and every handler succeeded"),
    "ignored": (200, "the type is outside enabled_events; nothing published"),
    "duplicate": (200, "the event was already handled (or queued); nothing published"),
    "dead_letter": (200, "given up as a dead letter after max_attempts failed attempts"),
    "queued": (202, "queue mode: the event is on the stream; its consumers run the handlers"),
    "in_flight": (409, "another delivery of this event is being handled right now; retry later"),
    "failed": (
        500,
        "a handler failed (the error names which; on the retry only the failed ones run), "
        "or the receiver's store or adapter failed",
    ),
}

#: Each status answered with outcome ``rejected``, and when.
REFUSALS: dict[int, str] = {
    400: "the body is not JSON or not an object, an envelope field (id, type, times, "
    f"source) is wrong, or the id is longer than {MAX_EVENT_ID_LENGTH} characters",
    401: "the signature check failed; nothing was parsed or published",
    405: "not a POST (the answer has Allow: POST)",
    408: "the body did not arrive within the receiver's read_timeout",
    413: "the body is larger than the receiver's max_body_bytes",
    415: "the content type is not JSON",
    422: "the data does not fit the event type's registered model",
}


@dataclass(frozen=True, slots=True)
class WebhookResponse:
    """The answer to one delivery.

    ``body`` is ``{"ok": ..., "outcome": ..., "event_id": ..., "error": ...}``: ``ok`` is
    true exactly for a 2xx status; ``outcome`` is ``handled``, ``ignored``, ``duplicate`` or
    ``dead_letter`` (200), ``queued`` (202, queue mode), ``in_flight`` (409), ``failed``
    (500) or ``rejected`` (every other 4xx);
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


def ended(outcome: OutcomeName, event_id: str | None = None, error: str | None = None) -> Outcome:
    """The :class:`Outcome` ``outcome`` (any but ``rejected``) with its status from
    :data:`OUTCOMES`."""
    return Outcome(OUTCOMES[outcome][0], outcome, event_id, error)


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
    outcome, event id and reason; never a secret, a signature or the body. A store whose
    file vanished is logged at ERROR naming the file and answered 500 saying so; any other
    unexpected exception is logged with its traceback and answered 500.

    :param result: the delivery's outcome, or the exception that ended it
    :param where: ``METHOD path``, for the log
    """
    if isinstance(result, DeliveryRejectedError):
        result = result.outcome
    if isinstance(result, StoreFileMissingError):
        logger.error("webhook %s refused: %s", where, result)
        result = ended("failed", None, f"{result}; the sender should retry")
    elif isinstance(result, BaseException):
        logger.error("webhook %s: adapter failed", where, exc_info=result)
        result = ended(
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
    if result.outcome in ("handled", "ignored", "queued"):
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
