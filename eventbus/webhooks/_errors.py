"""The exceptions of the webhook adapter.

The tree (both under :class:`eventbus.EventBusError`)::

    WebhookError
    └── SignatureError (ValueError)   a delivery failed signature verification

A :class:`SignatureError` becomes a ``401`` response whose ``error`` is its message, so every
message says which check failed and what the sender or the operator can do about it.
"""

from __future__ import annotations

from .._exceptions import EventBusError


class WebhookError(EventBusError):
    """Base class of the errors raised by :mod:`eventbus.webhooks`."""


class SignatureError(WebhookError, ValueError):
    """A delivery failed signature verification; nothing was parsed or published.

    The message names the failed check: ``missing header``, ``malformed header``,
    ``no matching signature``, ``too old`` or ``too new`` (the last two show the header's time
    and the receiver's).

    A scheme of your own raises it with the reason alone, ``SignatureError("no matching
    signature")``; the receiver answers 401 with that reason.

    :ivar reason: the message without the scheme's name
    :ivar scheme: the name of the scheme that refused the delivery, when given
    """

    def __init__(self, reason: str, *, scheme: str | None = None) -> None:
        self.scheme = scheme
        self.reason = reason
        super().__init__(reason if scheme is None else f"{scheme}: {reason}")
