"""Which typed event class stands for which event type.

A class stands for exact types when its ``type`` field is a ``Literal``
(``type: Literal["invoice.paid"] = "invoice.paid"``), or for a family when it sets
``event_pattern: ClassVar[str] = "customer.subscription.*"`` and leaves ``type`` a ``str``.
Look-ups prefer an exact registration, then the pattern with the most literal segments, then
the later registration.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any

from ._envelope import Event
from ._exceptions import EventClassConflictError
from ._topics import compile_pattern, is_wildcard, literal_segments, validate_event_type

EventClass = type[Event[Any]]


def declared_types(cls: EventClass) -> tuple[str, ...]:
    """The exact types or the one pattern ``cls`` stands for.

    :raises TypeError: ``cls`` is not an :class:`Event` subclass, or declares neither a
        ``Literal`` type nor an ``event_pattern``
    """
    if not (isinstance(cls, type) and issubclass(cls, Event)):
        raise TypeError(f"expected an Event subclass, got {cls!r}")
    annotation = cls.model_fields["type"].annotation
    if typing.get_origin(annotation) is typing.Literal:
        return tuple(validate_event_type(value) for value in typing.get_args(annotation))
    if cls.event_pattern is not None:
        compile_pattern(cls.event_pattern)
        return (cls.event_pattern,)
    raise TypeError(
        f"{cls.__qualname__} declares no event type: give it "
        f'type: Literal["some.type"] = "some.type", or event_pattern: ClassVar[str] = "some.*"'
    )


class _Entry:
    __slots__ = ("cls", "match", "pattern", "rank")

    def __init__(self, pattern: str, cls: EventClass, seq: int) -> None:
        self.pattern = pattern
        self.cls = cls
        self.match: Callable[[str], bool] = compile_pattern(pattern)
        self.rank = (literal_segments(pattern), seq)


class Registry:
    """Maps event types to typed classes; unknown types map to ``None`` (plain :class:`Event`)."""

    def __init__(self) -> None:
        #: the classes registered for exact types (read-only outside this class)
        self.exact: dict[str, EventClass] = {}
        self._patterns: list[_Entry] = []
        self._seq = 0

    def register(self, cls: EventClass) -> None:
        """Register ``cls`` for the types it declares.

        :raises EventClassConflictError: a family covering one of its types is not a base
            class of it, or it is a family covering an exact class that does not subclass it
        """
        for pattern in declared_types(cls):
            self._check(pattern, cls)
        for pattern in declared_types(cls):
            self._seq += 1
            if is_wildcard(pattern):
                self._patterns.append(_Entry(pattern, cls, self._seq))
            else:
                self.exact[pattern] = cls

    def _check(self, pattern: str, cls: EventClass) -> None:
        if is_wildcard(pattern):
            match = compile_pattern(pattern)
            for event_type, member in self.exact.items():
                if match(event_type) and not issubclass(member, cls):
                    raise EventClassConflictError(member, cls, event_type)
            return
        for entry in self._patterns:
            if entry.match(pattern) and not issubclass(cls, entry.cls):
                raise EventClassConflictError(cls, entry.cls, pattern)

    def class_for(self, event_type: str) -> EventClass | None:
        """The class registered for ``event_type``, or ``None`` when no registration covers it."""
        found = self.exact.get(event_type)
        if found is not None:
            return found
        matches = [entry for entry in self._patterns if entry.match(event_type)]
        return max(matches, key=lambda entry: entry.rank).cls if matches else None

    def literals(self) -> set[str]:
        """The literal segments of the registered patterns (families)."""
        return {
            segment
            for entry in self._patterns
            for segment in entry.pattern.split(".")
            if segment not in ("*", "**")
        }

    @property
    def classes(self) -> tuple[EventClass, ...]:
        """Every registered class, once each."""
        found = [*self.exact.values(), *(entry.cls for entry in self._patterns)]
        return tuple(dict.fromkeys(found))
