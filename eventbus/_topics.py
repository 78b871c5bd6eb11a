"""Event type names and the wildcard patterns that select them.

A type is dot-separated segments of ASCII letters, digits, ``_`` and ``-``
(``customer.subscription.trial_will_end``). A pattern is a type in which a whole segment may be
``*`` (exactly one segment) or ``**`` (zero or more segments): ``customer.**`` matches
``customer`` and ``customer.subscription.renewed``; ``**`` alone matches every type.

Matching compiles no regular expression: an exact type is compared, a pattern is matched
segment by segment, in time linear in the type's length whatever its wildcards.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from itertools import islice

from ._exceptions import InvalidEventTypeError, InvalidPatternError

_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_VALID_TYPE = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")

Matcher = Callable[[str], bool]


#: Types already found valid: every event built checks its type, and most use a few types.
#: Past the limit the oldest eighth is set aside (and the batch set aside before dropped); a
#: type seen again while set aside comes back unchecked, so the types in steady use stay.
_valid_types: dict[str, None] = {}
_set_aside: set[str] = set()
_MAX_VALID_TYPES = 4096


def validate_event_type(event_type: object) -> str:
    """Return ``event_type`` as a plain ``str`` if it is a valid type, else raise naming the
    bad part. ``str`` subclasses such as ``StrEnum`` members become their plain value.

    :raises InvalidEventTypeError: a ``ValueError`` naming the offending segment
    """
    if type(event_type) is not str and isinstance(event_type, str):
        event_type = str.__str__(event_type)
    if type(event_type) is str:
        if event_type in _valid_types:
            return event_type
        if event_type in _set_aside or _VALID_TYPE.fullmatch(event_type):
            _remember(event_type)
            return event_type
    if not isinstance(event_type, str):
        raise InvalidEventTypeError(
            event_type, f"expected a string, got {type(event_type).__name__}"
        )
    raise InvalidEventTypeError(event_type, _type_problem(event_type))


def _remember(event_type: str) -> None:
    global _set_aside
    if len(_valid_types) >= _MAX_VALID_TYPES:
        oldest = list(islice(_valid_types, _MAX_VALID_TYPES // 8))
        for one in oldest:
            del _valid_types[one]
        _set_aside = set(oldest)
    _valid_types[event_type] = None


def _type_problem(event_type: str) -> str:
    if not event_type:
        return "it is empty"
    for index, segment in enumerate(event_type.split(".")):
        if segment in ("*", "**"):
            return f"segment {index + 1} is the wildcard {segment!r}; wildcards belong in patterns"
        if not _SEGMENT.fullmatch(segment):
            shown = repr(segment) if segment else "empty (two dots in a row, or a dot at an end)"
            return f"segment {index + 1} is {shown}"
    return "it is not a dotted name"  # pragma: no cover - every failing name has a bad segment


def check_pattern(pattern: str) -> None:
    """Validate ``pattern`` as :func:`compile_pattern` does, cheaply for an exact type (one
    regular expression match, nothing cached: subscribing to many types stays quick).

    :raises InvalidPatternError: as :func:`compile_pattern`
    """
    if "*" in pattern or not _VALID_TYPE.fullmatch(pattern):
        compile_pattern(pattern)


def is_wildcard(pattern: str) -> bool:
    """Tell whether ``pattern`` (already validated) contains a wildcard segment."""
    return "*" in pattern


@lru_cache(maxsize=4096)
def compile_pattern(pattern: str) -> Matcher:
    """Validate ``pattern`` and return a predicate telling which types it matches.

    :raises InvalidPatternError: for an empty segment, a partial wildcard such as ``trial_*``,
        or a character outside ASCII letters, digits, ``_`` and ``-``
    """
    if not isinstance(pattern, str):
        raise InvalidPatternError(repr(pattern), f"expected a string, got {type(pattern).__name__}")
    if not pattern:
        raise InvalidPatternError(pattern, "it is empty")
    segments = pattern.split(".")
    for index, segment in enumerate(segments):
        _check_segment(pattern, index, segment)
    if "*" not in pattern:
        return pattern.__eq__
    if "**" not in segments:
        return _OneEach(segments)
    return _Spans(segments)


def _check_segment(pattern: str, index: int, segment: str) -> None:
    if segment in ("*", "**") or _SEGMENT.fullmatch(segment):
        return
    if not segment:
        raise InvalidPatternError(pattern, f"segment {index + 1} is empty")
    if "*" in segment:
        raise InvalidPatternError(
            pattern,
            f"segment {index + 1} ({segment!r}) mixes '*' with other characters; "
            "wildcards are whole segments only",
        )
    raise InvalidPatternError(
        pattern, f"segment {index + 1} ({segment!r}) has an invalid character"
    )


def _fits(chunk: list[str], parts: list[str], start: int) -> bool:
    """Tell whether ``chunk`` (literals and ``*``) matches ``parts`` from ``start`` on."""
    for offset, segment in enumerate(chunk):
        if segment != "*" and segment != parts[start + offset]:
            return False
    return True


class _OneEach:
    """A pattern of literals and ``*``: the type has as many segments, each fitting."""

    __slots__ = ("segments",)

    def __init__(self, segments: list[str]) -> None:
        self.segments = segments

    def __call__(self, event_type: str) -> bool:
        parts = event_type.split(".")
        return len(parts) == len(self.segments) and _fits(self.segments, parts, 0)


class _Spans:
    """A pattern with ``**``: the chunks between them must appear in order, the first at
    the start and the last at the end. Taking each middle chunk at its earliest place is
    always right (a ``**`` absorbs whatever lies between), so nothing is retried: the cost is
    at most the type's length times the pattern's."""

    __slots__ = ("head", "middle", "tail")

    def __init__(self, segments: list[str]) -> None:
        chunks: list[list[str]] = [[]]
        for segment in segments:
            if segment == "**":
                chunks.append([])
            else:
                chunks[-1].append(segment)
        self.head, self.tail = chunks[0], chunks[-1]
        self.middle = [chunk for chunk in chunks[1:-1] if chunk]

    def __call__(self, event_type: str) -> bool:
        parts = event_type.split(".")
        end = len(parts) - len(self.tail)
        if end < len(self.head) or not _fits(self.head, parts, 0):
            return False
        if not _fits(self.tail, parts, end):
            return False
        position = len(self.head)
        for chunk in self.middle:
            while position + len(chunk) <= end and not _fits(chunk, parts, position):
                position += 1
            if position + len(chunk) > end:
                return False
            position += len(chunk)
        return True


def matches(pattern: str, event_type: str) -> bool:
    """Tell whether ``event_type`` is selected by ``pattern`` (``customer.*``, ``**``, ...).

    :raises InvalidPatternError: if ``pattern`` is not a valid pattern
    """
    return compile_pattern(pattern)(event_type)


def literal_segments(pattern: str) -> int:
    """Count the non-wildcard segments of ``pattern``: more literals means more specific."""
    return sum(1 for segment in pattern.split(".") if segment not in ("*", "**"))
