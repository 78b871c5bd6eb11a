"""Turning raw input into events of the class registered for their type.

Raw data is validated where it enters (publishing a type with data, a webhook body), so
handlers only ever see events that fit their model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydantic_core
from pydantic import ValidationError

from ._envelope import Event
from ._exceptions import EventValidationError, InvalidEventTypeError, MalformedEventError
from ._registry import EventClass
from ._topics import validate_event_type

RawEvent = bytes | bytearray | memoryview | str | Mapping[str, Any]


def _validated(cls: EventClass, event_type: str, fields: Mapping[str, Any]) -> Event[Any]:
    try:
        return cls.model_validate(fields)
    except ValidationError as exc:
        raise EventValidationError(event_type, cls, exc.errors()) from None


def build_event(cls: EventClass | None, event_type: str, data: Any) -> Event[Any]:
    """Build the event for ``publish(event_type, data)``; ``None`` data validates as ``{}``.

    ``event_type`` must be valid already (callers check it once, before looking up ``cls``).

    :raises EventValidationError: the data does not fit the class registered for the type
    """
    payload = {} if data is None else data
    if cls is None:
        return Event(type=event_type, data=payload)
    return _validated(cls, event_type, {"type": event_type, "data": payload})


def coerce_event(cls: EventClass, event: Event[Any]) -> Event[Any]:
    """Return ``event`` as an instance of ``cls``, validating it again only if it is not one.

    :raises EventValidationError: the event's data does not fit ``cls``
    """
    if isinstance(event, cls):
        return event
    return _validated(cls, event.type, event.model_dump())


def parse_event(raw: RawEvent, class_for: Any) -> Event[Any]:
    """Parse a JSON document (or an already decoded mapping) into the right event class.

    ``class_for`` maps a type to its registered class or ``None``. JSON is parsed by
    pydantic's own parser, straight from bytes.

    :raises MalformedEventError: not JSON, not an object, no valid ``type``, or (for a type
        no class is registered for) an envelope field of the wrong kind, such as ``created``
    :raises EventValidationError: the fields do not fit the class registered for the type
    """
    fields = _decode(raw)
    event_type = fields.get("type")
    if event_type is None:
        raise MalformedEventError(fields, "it has no 'type' field")
    try:
        event_type = validate_event_type(event_type)
    except InvalidEventTypeError as exc:
        raise MalformedEventError(fields, f"its 'type' is invalid ({exc})") from None
    cls = class_for(event_type)
    if cls is not None:
        return _validated(cls, event_type, fields)
    try:
        return Event.model_validate(fields)
    except ValidationError as exc:
        raise MalformedEventError(fields, f"its envelope is invalid ({_describe(exc)})") from None


def _describe(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in err['loc'])}: {err['msg']}" for err in exc.errors()
    )


def _decode(raw: RawEvent) -> Mapping[str, Any]:
    if isinstance(raw, Mapping):
        return raw
    if isinstance(raw, memoryview):
        raw = raw.tobytes()
    try:
        decoded = pydantic_core.from_json(raw)
    except ValueError as exc:
        raise MalformedEventError(raw, f"it is not valid JSON ({exc})") from None
    if not isinstance(decoded, dict):
        raise MalformedEventError(raw, f"it is a JSON {type(decoded).__name__}, not an object")
    return decoded
