"""The pure steps a delivery goes through: precheck, verify, decode, filter, build.

Each step either returns what the next one needs or raises a
:class:`~eventbus.webhooks._response.DeliveryRejectedError` carrying the refusal; none of
them touches the store or the bus's handlers, so the sync and async entry points share them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .._exceptions import EventValidationError, MalformedEventError
from .._topics import compile_pattern
from ._delivery import event_fields, is_json_media_type
from ._errors import SignatureError
from ._request import WebhookRequest
from ._response import DeliveryRejectedError, Outcome, reject, shown
from ._scheme import SignatureScheme, get_header

if TYPE_CHECKING:
    from .._bus import EventBus
    from .._envelope import Event

#: W3C trace-context ``traceparent``: version, trace id, parent id, flags.
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")


def method_not_allowed(method: str) -> Outcome:
    """405 for any method but POST, with ``Allow: POST``."""
    return Outcome(
        405,
        "rejected",
        None,
        f"method {shown(method)} is not allowed; webhooks are delivered with POST",
        {"Allow": "POST"},
    )


def too_large(limit: int, size: int | None = None) -> Outcome:
    """413 for a body over ``limit`` bytes (``size`` when known)."""
    seen = "" if size is None else f" ({size} bytes)"
    return Outcome(
        413,
        "rejected",
        None,
        f"the body{seen} exceeds max_body_bytes={limit}; raise "
        "WebhookReceiver(max_body_bytes=...) if the sender's events are this large",
    )


def timed_out(limit: float) -> Outcome:
    """408 for a body not complete within ``limit`` seconds of the request's start."""
    return Outcome(
        408,
        "rejected",
        None,
        f"the body did not arrive within read_timeout={limit:g} s of the request's start; "
        "send the whole body at once, or raise WebhookReceiver(read_timeout=...)",
    )


def precheck(method: str, headers: Mapping[str, str], size: int | None, limit: int) -> None:
    """Refuse what can be refused before the body is read: 405, 413, 415.

    :param size: the body's length when known (``Content-Length``), else ``None``
    :raises DeliveryRejectedError: the refusal
    """
    if method.upper() != "POST":
        raise DeliveryRejectedError(method_not_allowed(method))
    if size is not None and size > limit:
        raise DeliveryRejectedError(too_large(limit, size))
    content_type = get_header(headers, "content-type")
    if not is_json_media_type(content_type):
        raise reject(
            415, f"content type {shown(content_type)} is not JSON; send application/json"
        )


def content_length(value: str | None) -> int | None:
    """Parse a ``Content-Length`` header, refusing a malformed one with 400."""
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()):
        raise reject(400, f"invalid Content-Length header {shown(value)}")
    digits = value.lstrip("0") or "0"
    # More digits than any body could have: too large, without converting thousands of them.
    return int(digits) if len(digits) <= 18 else 10**18


def verify(scheme: SignatureScheme, request: WebhookRequest, headers: Mapping[str, str]) -> Any:
    """Check the signature; return the scheme's delivery id (or ``None``).

    A signature header given more than once is refused before the scheme sees it: a
    server keeping only the first value must not decide which one is checked.

    :raises DeliveryRejectedError: 401, with the scheme's reason
    """
    repeats = len(request.header_pairs) > len(headers)
    for name in getattr(scheme, "signature_headers", ()) if repeats else ():
        times = request.count(name.lower())
        if times > 1:
            raise reject(
                401,
                f"signature verification failed: header {name.lower()!r} was given {times} "
                "times; a delivery carries each signature header once",
            )
    try:
        return scheme.verify(
            request.body, headers, method=request.method, path=request.raw_path, query=request.query
        )
    except SignatureError as exc:
        raise reject(401, f"signature verification failed: {exc}") from None


def decode(body: bytes, delivery_id: str | None, traceparent: str | None) -> dict[str, Any]:
    """The event's fields from the body (400 when unusable), with the request's trace kept.

    A valid ``traceparent`` request header becomes the event's ``traceparent`` field when
    the body has none, so handler spans join the sender's trace.
    """
    fields = event_fields(body, delivery_id)
    if traceparent is not None and _TRACEPARENT.fullmatch(traceparent.strip()):
        fields.setdefault("traceparent", traceparent.strip())
    return fields


def type_filter(enabled_events: str | Iterable[str] | None) -> Callable[[str], bool]:
    """A predicate telling whether a type matches one of ``enabled_events`` (all if None)."""
    if enabled_events is None:
        return lambda _event_type: True
    patterns = [enabled_events] if isinstance(enabled_events, str) else list(enabled_events)
    matchers = [compile_pattern(pattern) for pattern in patterns]
    return lambda event_type: any(match(event_type) for match in matchers)


def build(bus: EventBus, fields: dict[str, Any]) -> Event[Any]:
    """The event of the class registered for its type.

    One rule for every type: an envelope field (id, type, times...) of the wrong kind is
    400, data that does not fit the registered model is 422.

    :raises DeliveryRejectedError: 400 or 422
    """
    try:
        return bus.parse(fields)
    except EventValidationError as exc:
        envelope = [err for err in exc.errors if not err["loc"] or err["loc"][0] != "data"]
        if envelope:
            raise reject(400, _envelope_error(envelope), fields["id"]) from None
        raise reject(422, str(exc), fields["id"]) from None
    except MalformedEventError as exc:
        raise reject(400, str(exc), fields["id"]) from None


def _envelope_error(errors: list[Any]) -> str:
    details = "; ".join(
        f"{'.'.join(str(part) for part in err['loc']) or '<root>'}: {err['msg']}"
        for err in errors
    )
    return f"cannot parse an event: its envelope is invalid ({details})"

