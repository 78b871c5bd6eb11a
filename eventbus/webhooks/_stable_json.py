"""``json-stable-stringify`` as Node runs it: sorted keys, no spaces, JavaScript numbers.

Blocklet's component signature covers this rendering of the *parsed* body, so the text must
match what the sender's JavaScript produced, numbers included: ``1.0`` is ``1``, ``1e-7``
stays ``1e-7``, ``0.00001`` is written out, and integers beyond 2**53 are rounded as
``JSON.parse`` rounded them.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

_SAFE_INTEGER = 2**53


def stable_stringify(value: Any) -> str:
    """Render ``value`` (parsed JSON) exactly as Node's ``json-stable-stringify`` does."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return str(value) if abs(value) <= _SAFE_INTEGER else js_number(float(value))
    if isinstance(value, float):
        return js_number(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(stable_stringify(item) for item in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items())
        return (
            "{" + ",".join(f"{stable_stringify(k)}:{stable_stringify(v)}" for k, v in items) + "}"
        )
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
