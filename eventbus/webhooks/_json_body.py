"""Parsing a webhook body as JSON the way JavaScript's ``JSON.parse`` does.

Python's :mod:`json` and ``JSON.parse`` agree on what matters to senders: a lone surrogate
escape such as ``"\\ud83c"`` (which ``JSON.stringify`` emits for a string cut mid-emoji) is
valid, and a number too large for a float becomes infinity. pydantic's parser (the fast
path) refuses the first, so what it refuses is parsed again with :mod:`json`. ``NaN`` and
``Infinity`` literals, which Python accepts by default, are not JSON and are refused.
"""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import pydantic_core


class JsonBodyError(ValueError):
    """The body is not JSON; the message says why and is safe to show the sender."""


def _refuse_constant(name: str) -> NoReturn:
    raise JsonBodyError(f"{name} is not a JSON value (JSON has no NaN or infinities)")


def parse_json(body: bytes) -> Any:
    """Parse ``body`` as JSON.

    :raises JsonBodyError: not UTF-8 JSON, a ``NaN``/``Infinity`` literal, a number too long
        to convert, or nesting deeper than Python's parser allows (about 1000 levels)
    """
    try:
        # pydantic's parser is the fast path; what it refuses, json decides (and explains).
        return pydantic_core.from_json(body, allow_inf_nan=False)
    except ValueError:
        pass
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except JsonBodyError:
        raise
    except RecursionError:
        raise JsonBodyError("it is nested too deeply to parse") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise JsonBodyError(str(exc)) from None
    except ValueError:  # Python's integer string conversion limit; its advice is the server's
        limit = sys.get_int_max_str_digits()
        raise JsonBodyError(f"a number in the body has more than {limit} digits") from None
