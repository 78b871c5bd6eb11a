"""The exceptions of the webhook sender (all :class:`WebhookError`)::

    WebhookError
    ├── EndpointURLError (ValueError)         an endpoint URL that cannot be used
    │   └── UnsafeAddressError                its host is, or resolves to, an internal address
    ├── EndpointNotFoundError (LookupError)   no endpoint has this id
    └── DeliveryNotFoundError (LookupError)   no event was queued for this endpoint
"""

from __future__ import annotations

from ._errors import WebhookError


class EndpointURLError(WebhookError, ValueError):
    """An endpoint URL the sender cannot post to: not ``http(s)``, no host, or unresolvable.

    :ivar url: the URL refused
    :ivar reason: why, without the URL
    """

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"endpoint URL {url!r} refused: {reason}")


class UnsafeAddressError(EndpointURLError):
    """The URL's host is, or resolves to, an address the sender must not reach (loopback,
    private, link-local, CGNAT, multicast, reserved or unspecified, in any IPv6 form).

    Raised at create/update time and again at connect time, for the address actually about to
    be connected to. Trusted local networks go in the sender's ``allow_networks``.

    :ivar address: the refused IP address, as text
    """

    def __init__(self, url: str, address: str, kind: str) -> None:
        self.address = address
        super().__init__(
            url,
            f"{address} is a {kind} address; the sender only posts to public addresses "
            "(list trusted networks in WebhookSender(allow_networks=...), e.g. "
            "('127.0.0.0/8',) for local development)",
        )


class EndpointNotFoundError(WebhookError, LookupError):
    """No endpoint has this id (it was never created, or was deleted).

    :ivar endpoint_id: the id looked up
    """

    def __init__(self, endpoint_id: str) -> None:
        self.endpoint_id = endpoint_id
        super().__init__(
            f"no webhook endpoint {endpoint_id!r}; sender.endpoints.list() shows the ids"
        )


class DeliveryNotFoundError(WebhookError, LookupError):
    """The event was never queued for this endpoint (or its delivery was purged).

    :ivar event_id: the event's id
    :ivar endpoint_id: the endpoint's id
    """

    def __init__(self, event_id: str, endpoint_id: str) -> None:
        self.event_id = event_id
        self.endpoint_id = endpoint_id
        super().__init__(
            f"event {event_id!r} was not queued for endpoint {endpoint_id!r} (or its delivery "
            "is older than the outbox's retention); sender.deliveries() lists what is queued"
        )
