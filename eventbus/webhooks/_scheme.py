"""What every signature scheme provides, and the checks the schemes share.

A scheme is any object with :meth:`SignatureScheme.verify` and :meth:`SignatureScheme.sign`;
the built-in ones are :class:`StandardWebhooks`, :class:`HmacTimestampSignature`,
:class:`BlockletComponentSignature` and :class:`Unverified`.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from ._errors import SignatureError
from ._response import shown


@runtime_checkable
class SignatureScheme(Protocol):
    """The interface :class:`WebhookReceiver` verifies deliveries through.

    Implement it to support another sender. The built-in schemes also have a ``sign``
    method producing a sender's headers; it is not part of this protocol because each
    scheme signs different things.

    A scheme may also have a ``signature_headers`` attribute, the names of the headers it
    reads: the receiver refuses a delivery giving any of them more than once before
    ``verify`` is called, since ``headers`` holds one value per name.
    """

    def verify(
        self,
        body: bytes,
        headers: Mapping[str, str],
        *,
        method: str = "POST",
        path: str = "/",
        query: str = "",
    ) -> str | None:
        """Check that ``body`` and ``headers`` were signed by the sender.

        :param body: the raw request body, exactly as received
        :param headers: the request headers; names are looked up case-insensitively
        :param method: the request method (used only by schemes that sign it)
        :param path: the full path the sender requested, mount prefix included,
            percent-encoded as sent
        :param query: the raw query string, without ``?``
        :returns: the delivery id the signature covers (Standard Webhooks' ``webhook-id``),
            or ``None`` when the scheme has none
        :raises SignatureError: the delivery is not authentic or not fresh
        """
        ...


def get_header(headers: Mapping[str, str], name: str) -> str | None:
    """Look ``name`` up in ``headers`` case-insensitively, even in a plain ``dict``."""
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    for key, candidate in headers.items():
        if key.lower() == wanted:
            return candidate
    return None


def require_header(headers: Mapping[str, str], name: str, scheme: str) -> str:
    """The value of header ``name``; a missing or empty one raises :class:`SignatureError`."""
    value = get_header(headers, name)
    if not value:
        raise SignatureError(
            scheme=scheme, reason=f"missing header {name!r}; is the sender using {scheme}?"
        )
    return value


#: The latest time a header may carry: the end of year 9999, as far as datetimes go.
LAST_TIME = 253_402_300_799


def parse_unix_time(value: str, header: str, scheme: str) -> int:
    """Parse an integer unix-seconds header value from 1970 to year 9999.

    :raises SignatureError: ``malformed header``, for anything else (a time before 1970 or
        after 9999 is garbage, not a signing time)
    """
    text = value.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 12 and int(text) <= LAST_TIME):
        raise SignatureError(
            scheme=scheme,
            reason=f"malformed header {header!r}: expected integer unix seconds between 0 and "
            f"{LAST_TIME} (year 9999), got {shown(value)}",
        )
    return int(text)


def matches_any(expected: bytes, given: Iterable[bytes]) -> bool:
    """Compare ``expected`` with every candidate in constant time; true if one is equal."""
    found = False
    for candidate in given:
        found |= hmac.compare_digest(expected, candidate)
    return found


def no_match(count: int, header: str, secret: str) -> str:
    """The reason a request carrying ``count`` v1 signatures in ``header`` matched none.

    It says how many signatures were sent (the sender knows that) but never how many
    secrets are configured: an unauthenticated sender reads this answer.

    :param secret: what to check, such as ``"secret"``
    """
    return (
        f"no matching signature: none of the {count} v1 signature(s) in {header!r} matches "
        f"the body under the configured secret(s); check the {secret}, and that the body is "
        "passed on as the raw bytes received (not parsed and re-serialised)"
    )


def _show(moment: float) -> str:
    return f"{moment:.0f} ({datetime.fromtimestamp(moment, UTC).isoformat(timespec='seconds')})"


def check_freshness(sent: int, tolerance: float | None, header: str, scheme: str) -> None:
    """Refuse a signing time more than ``tolerance`` seconds before or after the clock.

    :param tolerance: seconds allowed either way; ``None`` skips the check
    :raises SignatureError: ``too old`` or ``too new``, showing both times
    """
    if tolerance is None:
        return
    now = time.time()
    if now - sent > tolerance:
        age = "too old"
    elif sent - now > tolerance:
        age = "too new"
    else:
        return
    raise SignatureError(
        scheme=scheme,
        reason=f"{header} {_show(sent)} is {age}: the receiver's clock says {_show(now)}, "
        f"more than the tolerance of {tolerance:g} s apart; check both clocks (NTP), or for "
        "replays raise the scheme's tolerance (None disables the check)",
    )


def check_tolerance(tolerance: float | None) -> float | None:
    """Validate a scheme's ``tolerance`` argument."""
    if tolerance is not None and not isinstance(tolerance, int | float):
        raise TypeError(f"tolerance must be a number of seconds or None, not {tolerance!r}")
    if tolerance is not None and not tolerance >= 0:
        raise ValueError(f"tolerance must be >= 0 seconds or None, not {tolerance!r}")
    return tolerance


def as_list(value: str | bytes | Sequence[str | bytes], what: str) -> list[str | bytes]:
    """Accept one secret/key or a list of them (old and new during a rotation)."""
    items = [value] if isinstance(value, str | bytes) else list(value)
    if not items:
        raise ValueError(f"give at least one {what}")
    for item in items:
        if not isinstance(item, str | bytes):
            raise TypeError(f"each {what} must be str or bytes, not {type(item).__name__}")
    return items
