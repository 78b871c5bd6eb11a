"""From a verified body to the fields of the event it carries (rules 3 and the shapes).

Accepted shapes: Payment Kit's and Stripe's event JSON and Blocklet's event-bus envelope
(an ``id``, a ``type``, ``data`` and more, every other field kept), and Blocklet Server's
forwarded shape, recognised by ``$eventName``: it has no id, so the id is ``sha256:`` plus
the hex digest of the raw body (the same on every retry); its data is the body without the
``$`` keys, and ``$sender.did`` becomes the event's ``source``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from .._exceptions import InvalidEventTypeError
from .._topics import validate_event_type
from ._json_body import JsonBodyError, parse_json
from ._response import MAX_EVENT_ID_LENGTH, QUOTE_LIMIT, reject, shown

BLOCKLET_SERVER_TYPE = "$eventName"
_TYPE_RULE = (
    "event types are dot-separated segments of letters, digits, '_' and '-', such as 'invoice.paid'"
)


def is_json_media_type(content_type: str | None) -> bool:
    """Tell whether a Content-Type is absent, ``application/json`` or ``application/*+json``."""
    if content_type is None or not content_type.strip():
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def decode_object(body: bytes) -> dict[str, Any]:
    """Parse ``body`` as a JSON object.

    :raises DeliveryRejectedError: 400, when it is not JSON or not an object
    """
    try:
        decoded = parse_json(body)
    except JsonBodyError as exc:
        raise reject(400, f"the body is not valid JSON ({exc}); send the event as JSON") from None
    if not isinstance(decoded, dict):
        raise reject(
            400, f"the body is a JSON {_json_kind(decoded)}, not an object; send one event object"
        )
    return decoded


def event_fields(body: bytes, delivery_id: str | None) -> dict[str, Any]:
    """The fields of the event in ``body``, with a valid ``type`` and an ``id``.

    :param delivery_id: the scheme's delivery id, the id of a body that has none
    :raises DeliveryRejectedError: 400, naming the problem: not a JSON object, no or
        invalid type, no id, or an id longer than :data:`MAX_EVENT_ID_LENGTH`
    """
    fields = decode_object(body)
    if BLOCKLET_SERVER_TYPE in fields:
        fields = _from_blocklet_server(fields, body)
    _check_type(fields)
    event_id = fields.get("id")
    if event_id is None:
        if delivery_id is None:
            raise reject(
                400,
                "the event has no id: the body has no 'id' and the signature scheme gives no "
                "delivery id (Standard Webhooks' webhook-id); without one, redeliveries cannot "
                "be recognised",
            )
        fields["id"] = event_id = delivery_id
    if not isinstance(event_id, str) or not event_id:
        raise reject(400, f"the event's 'id' must be a non-empty string, not {shown(event_id)}")
    if len(event_id) > MAX_EVENT_ID_LENGTH:
        raise reject(
            400,
            f"the event's 'id' is {len(event_id)} characters long; ids of at most "
            f"{MAX_EVENT_ID_LENGTH} characters are accepted: give each event a short unique id",
        )
    return fields


def _from_blocklet_server(fields: Mapping[str, Any], body: bytes) -> dict[str, Any]:
    converted: dict[str, Any] = {
        "id": "sha256:" + hashlib.sha256(body).hexdigest(),
        "type": fields[BLOCKLET_SERVER_TYPE],
        "data": {key: value for key, value in fields.items() if not key.startswith("$")},
    }
    sender = fields.get("$sender")
    if isinstance(sender, Mapping) and isinstance(sender.get("did"), str):
        converted["source"] = sender["did"]
    return converted


def _check_type(fields: Mapping[str, Any]) -> None:
    if "type" not in fields:
        raise reject(400, "the event has no 'type'; an event is a JSON object with a 'type'")
    event_type = fields["type"]
    try:
        validate_event_type(event_type)
    except InvalidEventTypeError as exc:
        # The core's message quotes the whole value (more than once): only when it is short.
        if len(repr(event_type)) <= QUOTE_LIMIT:
            raise reject(400, f"the event's 'type' is invalid: {exc}") from None
        raise reject(
            400, f"the event's 'type' {shown(event_type)} is invalid: {_TYPE_RULE}"
        ) from None


def _json_kind(value: object) -> str:
    kinds = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)
