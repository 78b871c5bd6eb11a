"""Event type names and the wildcard patterns that select them.

A type is dot-separated segments of letters, digits, ``_`` and ``-``
(``customer.subscription.trial_will_end``). A pattern is a type in which a whole segment may be
``*`` (exactly one segment) or ``**`` (zero or more segments): ``customer.**`` matches
``customer`` and ``customer.subscription.renewed``; ``**`` alone matches every type.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from ._exceptions import InvalidEventTypeError, InvalidPatternError

_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_VALID_TYPE = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")

Matcher = Callable[[str], bool]


#: Types already found valid: every event built checks its type, and most use a few types.
_valid_types: set[str] = set()
_MAX_VALID_TYPES = 4096


def validate_event_type(event_type: object) -> str:
    """Return ``event_type`` as a plain ``str`` if it is a valid type, else raise naming the
    bad part. ``str`` subclasses such as ``StrEnum`` members become their plain value.

    :raises InvalidEventTypeError: a ``ValueError`` naming the offending segment
    """
    if type(event_type) is not str and isinstance(event_type, str):
        event_type = str.__str__(event_type)
    if type(event_type) is str and (
        event_type in _valid_types or _VALID_TYPE.fullmatch(event_type)
    ):
        if len(_valid_types) >= _MAX_VALID_TYPES:
            _valid_types.clear()
        _valid_types.add(event_type)
        return event_type
    if not isinstance(event_type, str):
        raise InvalidEventTypeError(
            event_type, f"expected a string, got {type(event_type).__name__}"
        )
    raise InvalidEventTypeError(event_type, _type_problem(event_type))


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


def is_wildcard(pattern: str) -> bool:
    """Tell whether ``pattern`` (already validated) contains a wildcard segment."""
    return "*" in pattern


@lru_cache(maxsize=4096)
def compile_pattern(pattern: str) -> Matcher:
    """Validate ``pattern`` and return a predicate telling which types it matches.

    :raises InvalidPatternError: for an empty segment, a partial wildcard such as ``trial_*``,
        or a character outside letters, digits, ``_`` and ``-``
    """
    if not isinstance(pattern, str):
        raise InvalidPatternError(repr(pattern), f"expected a string, got {type(pattern).__name__}")
    if not pattern:
        raise InvalidPatternError(pattern, "it is empty")
    parts: list[str] = []
    for index, segment in enumerate(pattern.split(".")):
        parts.append(_segment_regex(pattern, index, segment))
    # Matching runs against "." + type, so every segment, the first included, has a leading dot.
    regex = re.compile("".join(parts))
    return lambda event_type: regex.fullmatch("." + event_type) is not None


def _segment_regex(pattern: str, index: int, segment: str) -> str:
    if segment == "**":
        return r"(?:\.[^.]+)*"
    if segment == "*":
        return r"\.[^.]+"
    if _SEGMENT.fullmatch(segment):
        return r"\." + re.escape(segment)
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


def matches(pattern: str, event_type: str) -> bool:
    """Tell whether ``event_type`` is selected by ``pattern`` (``customer.*``, ``**``, ...).

    :raises InvalidPatternError: if ``pattern`` is not a valid pattern
    """
    return compile_pattern(pattern)(event_type)


def literal_segments(pattern: str) -> int:
    """Count the non-wildcard segments of ``pattern``: more literals means more specific."""
    return sum(1 for segment in pattern.split(".") if segment not in ("*", "**"))
