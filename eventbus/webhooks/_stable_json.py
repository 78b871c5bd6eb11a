"""``json-stable-stringify`` as Node runs it: sorted keys, no spaces, JavaScript numbers.

Blocklet's component signature covers this rendering of the *parsed* body, so the text must
match what the sender's JavaScript produced: keys sorted by UTF-16 code units (JavaScript's
default sort puts U+1F600, the code units D83D DE00, before U+FF5E; code-point order does
the opposite); a lone surrogate written as its escape (``\\ud83c``), as ``JSON.stringify``
writes it; ``1.0`` is ``1``, ``1e-7`` stays ``1e-7``, ``0.00001`` is written out, integers
beyond 2**53 rounded as ``JSON.parse`` rounded them, and numbers beyond a float
(``JSON.parse`` makes them ``Infinity``) written as ``null``. Any depth is rendered: the
walk keeps its own stack.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

from .._envelope import _LONE_SURROGATE, _escape_surrogate

_SAFE_INTEGER = 2**53


class _Raw(str):
    """Text to emit as it is (punctuation and keys), as opposed to a value still to render."""

    __slots__ = ()


def stable_stringify(value: Any) -> str:
    """Render ``value`` (parsed JSON) exactly as Node's ``json-stable-stringify`` does."""
    out: list[str] = []
    todo: list[Any] = [value]
    while todo:
        item = todo.pop()
        if type(item) is _Raw:
            out.append(item)
        elif isinstance(item, dict):
            todo.append(_Raw("}"))
            pairs = sorted(item.items(), key=_utf16)
            for index in range(len(pairs) - 1, -1, -1):
                key, child = pairs[index]
                todo.append(child)
                todo.append(_Raw(("," if index else "") + _string(key) + ":"))
            todo.append(_Raw("{"))
        elif isinstance(item, list | tuple):
            todo.append(_Raw("]"))
            for index in range(len(item) - 1, -1, -1):
                todo.append(item[index])
                if index:
                    todo.append(_Raw(","))
            todo.append(_Raw("["))
        else:
            out.append(_scalar(item))
    return "".join(out)


def _utf16(pair: tuple[str, Any]) -> bytes:
    # Big-endian UTF-16 bytes compare as the code units do.
    return pair[0].encode("utf-16-be", "surrogatepass")


def _string(text: str) -> str:
    return _LONE_SURROGATE.sub(_escape_surrogate, json.dumps(text, ensure_ascii=False))


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, int):
        if abs(value) <= _SAFE_INTEGER:
            return str(value)
        try:
            return js_number(float(value))
        except OverflowError:
            return "null"  # JSON.parse made it Infinity, which JSON.stringify writes as null
    if isinstance(value, float):
        return js_number(value)
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def js_number(value: float) -> str:
    """Format a float as JavaScript's ``Number.prototype.toString`` (ECMA-262 6.1.6.1.20)."""
    if not math.isfinite(value):
        return "null"  # JSON.stringify renders NaN and the infinities as null
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    # repr gives the shortest digits that round-trip, the same digits JavaScript picks.
    parsed = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(str(d) for d in parsed.digits)
    k = len(digits)
    n = k + int(parsed.exponent)
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        exponent = f"e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"
        text = digits[0] + ("." + digits[1:] if k > 1 else "") + exponent
    return sign + text
