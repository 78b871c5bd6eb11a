"""The ``t=<unix>,v1=<hex>`` scheme of Stripe and of Blocklet Server's webhook forwarder.

The signature is lower-case hex HMAC-SHA256 over ``<t>.<body>``, keyed by the secret's UTF-8
bytes exactly as given (``whsec_`` included: Stripe and Blocklet Server both do this).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence

from ._errors import SignatureError
from ._scheme import (
    as_list,
    check_freshness,
    check_tolerance,
    matches_any,
    no_match,
    parse_unix_time,
    require_header,
)

_NAME = "HmacTimestampSignature"


def _key(secret: str | bytes) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    if not key:
        raise ValueError("HmacTimestampSignature secret is empty")
    return key


class HmacTimestampSignature:
    """Verify ``t=<unix>,v1=<hex>`` signatures (Stripe, Blocklet Server).

    For Stripe keep the default header; for Blocklet Server pass
    ``header="X-Webhook-Signature"`` and the endpoint's secret.

    :param secret: the signing secret, used verbatim as the HMAC key, or a list of them so
        the old and the new one both pass during a rotation
    :param header: the header carrying the signature
    :param tolerance: seconds ``t`` may be before or after the receiver's clock (default
        300); ``None`` skips the time check
    :raises ValueError: a secret is empty
    """

    def __init__(
        self,
        secret: str | bytes | Sequence[str | bytes],
        *,
        header: str = "Stripe-Signature",
        tolerance: float | None = 300,
    ) -> None:
        self._keys = [_key(item) for item in as_list(secret, "secret")]
        self.header = header
        self.signature_headers = (header,)
        self.tolerance = check_tolerance(tolerance)

    def verify(
        self,
        body: bytes,
        headers: Mapping[str, str],
        *,
        method: str = "POST",
        path: str = "/",
        query: str = "",
    ) -> None:
        """Check the delivery's signature and its ``t``; there is no delivery id to return.

        ``method``, ``path`` and ``query`` are not signed by this scheme and are ignored.

        :raises SignatureError: the header is missing or malformed, no ``v1`` signature
            matches any secret, or ``t`` is outside the tolerance (``too old``/``too new``)
        """
        stamp, given = self._parse(require_header(headers, self.header, _NAME))
        for key in self._keys:
            expected = self._digest(key, stamp, body)
            if matches_any(expected, given):
                check_freshness(int(stamp), self.tolerance, f"{self.header} t=", _NAME)
                return
        raise SignatureError(
            scheme=_NAME,
            reason=no_match(len(given), self.header, "secret (used verbatim, 'whsec_' included)"),
        )

    def _parse(self, value: str) -> tuple[str, list[bytes]]:
        stamp: str | None = None
        given: list[bytes] = []
        for item in value.split(","):
            name, equals, content = item.strip().partition("=")
            if not equals:
                raise SignatureError(
                    scheme=_NAME,
                    reason=f"malformed header {self.header!r}: a part is not 'key=value'",
                )
            if name == "t" and stamp is not None:
                raise SignatureError(
                    scheme=_NAME,
                    reason=f"malformed header {self.header!r}: it has more than one 't=' part "
                    "(was the header sent twice?)",
                )
            if name == "t":
                stamp = str(parse_unix_time(content, f"{self.header} (its t= part)", _NAME))
            elif name == "v1":
                given.append(content.strip().lower().encode("utf-8", "surrogatepass"))
        if stamp is None or not given:
            missing = "no 't=<unix seconds>' part" if stamp is None else "no 'v1=<hex>' signature"
            raise SignatureError(
                scheme=_NAME, reason=f"malformed header {self.header!r}: {missing}"
            )
        return stamp, given

    def sign(self, body: bytes, /, *, timestamp: int | None = None) -> dict[str, str]:
        """Return the signature header a sender would send: one ``v1`` per secret.

        :param timestamp: unix seconds (default: now)
        """
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        parts = [f"t={stamp}"] + [
            f"v1={self._digest(key, stamp, body).decode()}" for key in self._keys
        ]
        return {self.header: ",".join(parts)}

    @staticmethod
    def _digest(key: bytes, stamp: str, body: bytes) -> bytes:
        return hmac.new(key, stamp.encode() + b"." + body, hashlib.sha256).hexdigest().encode()

    def __repr__(self) -> str:
        return (
            f"HmacTimestampSignature(<{len(self._keys)} secret(s)>, header={self.header!r}, "
            f"tolerance={self.tolerance})"
        )
