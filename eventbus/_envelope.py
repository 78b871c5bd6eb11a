"""The event envelope: what every published or delivered event is.

An :class:`Event` is a frozen pydantic model with an id, a type, a creation time and data.
Applications subclass it with a typed ``data`` (``Event[InvoiceData]``) to get payloads
validated where they enter and typed in handlers.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import secrets
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticSerializationError

from ._topics import validate_event_type

DataT = TypeVar("DataT")

#: The event whose handlers are running in the current context (task, thread or worker
#: thread started from it). Events created there take its id as their ``parent_id``.
current_event: ContextVar[Event[Any] | None] = ContextVar("eventbus_current_event", default=None)


class _IdSource:
    """Unique, cheap event ids: a random per-process prefix and a counter.

    ids must be unique, not unguessable; a uuid4 per event costs more than the rest of a
    publish. The prefix is drawn again in a forked child so parent and child never collide.
    """

    def __init__(self) -> None:
        self.reseed()

    def reseed(self) -> None:
        self.prefix = "evt_" + secrets.token_hex(8)
        self.counter = itertools.count(1)

    def next(self) -> str:
        return f"{self.prefix}{next(self.counter):08x}"


_ids = _IdSource()
os.register_at_fork(after_in_child=_ids.reseed)


def new_event_id() -> str:
    """Return a new event id, unique within and across processes: ``evt_`` + 16 hex + counter."""
    return _ids.next()


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape_surrogate(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _parent_id() -> str | None:
    parent = current_event.get()
    return None if parent is None else parent.id


class Event(BaseModel, Generic[DataT]):
    """An event: what happened (``type``), when (``created``), and its ``data``.

    Frozen: handlers share one instance, so none can change what the others see.
    Fields the model does not declare are kept and round-trip through ``model_dump`` and JSON,
    so nothing in an incoming payload is lost.

    ``created`` accepts a timezone-aware datetime, unix seconds or an ISO 8601 string, under
    the names ``created``, ``created_at`` (Payment Kit) or ``time`` (Blocklet's event bus);
    naive times are taken as UTC and every time is stored in UTC.

    ``parent_id`` defaults to the id of the event being handled when this one is created, so
    causal chains can be followed. It is carried by a context variable: it holds in tasks and
    anyio worker threads a handler starts, not in a plain ``threading.Thread``.
    """

    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)

    #: Types this class stands for as exact names, derived from a ``Literal`` ``type`` field.
    event_types: ClassVar[tuple[str, ...]] = ()
    #: A wildcard pattern this class stands for (a family such as ``customer.subscription.*``).
    event_pattern: ClassVar[str | None] = None

    id: str = Field(default_factory=new_event_id)
    type: str
    created: datetime = Field(
        default_factory=_utc_now, validation_alias=AliasChoices("created", "created_at", "time")
    )
    # Validated even when defaulted, so a typed class whose model requires fields cannot be
    # built without data (and then reach handlers typed for that model).
    data: DataT = Field(default_factory=dict, validate_default=True)
    source: str | None = None
    parent_id: str | None = Field(default_factory=_parent_id)

    @field_validator("type")
    @classmethod
    def _check_type(cls, value: str) -> str:
        return validate_event_type(value)

    @field_validator("created")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def to_json(self) -> bytes:
        """Return the envelope as compact UTF-8 JSON: what transports send and stores keep.

        Every event that could be accepted can be written: a lone UTF-16 surrogate in a
        string (which JavaScript's ``JSON.stringify`` emits for a string cut mid-emoji) is
        written as its six-character escape (``\\ud83c``), as JavaScript writes it, where
        pydantic's own writer refuses it.
        """
        try:
            return self.__pydantic_serializer__.to_json(self)
        except PydanticSerializationError:
            fields = self.model_dump(mode="json")
            text = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
            return _LONE_SURROGATE.sub(_escape_surrogate, text).encode()
