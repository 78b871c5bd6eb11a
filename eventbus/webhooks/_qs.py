"""A query string parsed as Express 4's default query parser does: npm ``qs`` 6.14+.

``@blocklet/sdk``'s ``verifySig`` signs ``req.query``, which Express 4 builds with
``qs.parse(query, {allowPrototypes: true})`` (the ``qs`` defaults otherwise): ``a=1&a=2`` is
``{"a": ["1", "2"]}``, ``ids[0]=1&ids[1]=2`` and ``ids[]=1&ids[]=2`` are
``{"ids": ["1", "2"]}``, ``a[b][c]=1`` is ``{"a": {"b": {"c": "1"}}}``. The rules kept:
at most 1000 parameters; ``+`` is a space and a part that does not percent-decode as UTF-8
stays as sent; brackets nest 5 deep and the rest of a deeper key is one literal key; an
index of 20 or more is an object key, and so are the indexes of a list combined past 20
values; arrays are compacted; ``__proto__`` is dropped; a value given both as a string and
as an object (``a=1&a[b]=2``) becomes the list of both. Not reproduced: how ``qs`` keeps
counting into such lists and objects on a third merge.
"""

from __future__ import annotations

import re
from typing import Any

_PARAMETER_LIMIT = 1000
_DEPTH = 5
_ARRAY_LIMIT = 20
_ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class _Hole:
    """A missing element of a sparse JavaScript array (``compact`` removes them)."""

    __slots__ = ()


_HOLE = _Hole()


def parse_query(query: str) -> dict[str, Any]:
    """Parse ``query`` (without ``?``) as Express 4's ``req.query``."""
    values: dict[str, Any] = {}
    text = re.sub("%5[Dd]", "]", re.sub("%5[Bb]", "[", query))
    for part in text.split("&")[:_PARAMETER_LIMIT]:
        bracket = part.find("]=")
        pos = part.find("=") if bracket == -1 else bracket + 1
        key, value = (part, "") if pos == -1 else (part[:pos], part[pos + 1 :])
        key, value = _decode(key), _decode(value)
        values[key] = _combine(values[key], value) if key in values else value
    result: Any = {}
    for key, value in values.items():
        if key:
            result = _merge(result, _nest(key, value))
    return _compact(result)  # type: ignore[no-any-return]


def _decode(text: str) -> str:
    """``qs``'s decoder: ``+`` is a space, then ``decodeURIComponent`` or the text as is."""
    text = text.replace("+", " ")
    if "%" not in text or _BAD_ESCAPE.search(text):
        return text
    try:
        return _ESCAPES.sub(lambda run: bytes.fromhex(run.group().replace("%", "")).decode(), text)
    except UnicodeDecodeError:
        return text


def _combine(first: Any, second: Any) -> Any:
    """``[].concat(first, second)``; past the array limit, an object of its indexes."""
    combined = [*_spread(first), *_spread(second)]
    return _as_object(combined) if len(combined) > _ARRAY_LIMIT else combined


def _spread(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _segments(key: str) -> list[str]:
    """``a[b][c]`` -> ``["a", "[b]", "[c]"]``: balanced bracket groups, the rest of a key
    deeper than the limit (or an unclosed group) as one more segment."""
    start = key.find("[")
    segments = [key[:start] if start >= 0 else key] if start != 0 else []
    while start >= 0:
        close = _closing(key, start)
        if close < 0 or len(segments) - (key[0] != "[") == _DEPTH:
            segments.append("[" + key[start:] + "]")
            break
        segments.append(key[start : close + 1])
        start = key.find("[", close + 1)
    return segments


def _closing(key: str, start: int) -> int:
    """The index of the ``]`` closing the ``[`` at ``start``, or -1."""
    level = 0
    for index in range(start, len(key)):
        level += {"[": 1, "]": -1}.get(key[index], 0)
        if level == 0:
            return index
    return -1


def _nest(key: str, leaf: Any) -> Any:
    """The object ``qs`` builds for one key: each segment wraps the leaf, innermost first."""
    for segment in reversed(_segments(key)):
        if segment == "[]":
            leaf = _spread(leaf)[:]
            continue
        root = segment[1:-1] if segment.startswith("[") and segment.endswith("]") else segment
        if segment != root and root.isascii() and root.isdigit() and str(int(root)) == root:
            index = int(root)
            if index < _ARRAY_LIMIT:
                leaf = [_HOLE] * index + [leaf]
                continue
        leaf = {} if root == "__proto__" else {root: leaf}
    return leaf


def _merge(target: Any, source: Any) -> Any:
    """``qs``'s ``utils.merge``, which folds each key's object into the result."""
    if source == "":
        return target  # falsy in JavaScript: qs merges nothing
    if not isinstance(source, dict | list):
        if isinstance(target, list):
            appended = [*target, source]
            return appended if len(target) < _ARRAY_LIMIT else _as_object(appended)
        return [target, source]
    if not isinstance(target, dict | list):
        combined = [target, *_spread(source)]
        return _as_object(combined) if len(combined) > _ARRAY_LIMIT else combined
    if isinstance(target, list) and isinstance(source, list):
        merged = list(target)
        for index, item in enumerate(source):
            if item is _HOLE:
                continue
            if index >= len(merged) or merged[index] is _HOLE:
                merged.extend([_HOLE] * (index + 1 - len(merged)))
                merged[index] = item
            elif isinstance(merged[index], dict | list) and isinstance(item, dict | list):
                merged[index] = _merge(merged[index], item)
            else:
                merged.append(item)
        return _as_object(merged) if len(merged) > _ARRAY_LIMIT else merged
    result = _as_object(target)
    for key, value in _as_object(source).items():
        result[key] = _merge(result[key], value) if key in result else value
    return result


def _as_object(value: dict[str, Any] | list[Any]) -> dict[str, Any]:
    if isinstance(value, dict):
        return dict(value)
    return {str(index): item for index, item in enumerate(value) if item is not _HOLE}


def _compact(value: Any) -> Any:
    if isinstance(value, list):
        return [_compact(item) for item in value if item is not _HOLE]
    if isinstance(value, dict):
        return {key: _compact(item) for key, item in value.items()}
    return value
