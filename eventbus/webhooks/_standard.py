"""Standard Webhooks: ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` headers.

The signature is ``v1,`` + base64 HMAC-SHA256 over ``<id>.<timestamp>.<body>`` keyed by the
secret's bytes (shown as ``whsec_`` + base64). Several space-separated signatures may be sent
(one per secret during a rotation); any one matching passes.
See https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping, Sequence

from ._errors import SignatureError
from ._scheme import as_list, check_freshness, check_tolerance, parse_unix_time, require_header

_NAME = "StandardWebhooks"
_PREFIX = "whsec_"


def _secret_bytes(secret: str | bytes) -> bytes:
    if isinstance(secret, bytes):
        key = secret
    else:
        encoded = secret.removeprefix(_PREFIX).rstrip("=")
        try:
            # Padding is optional in the wild; validate=True still refuses stray characters.
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except ValueError:  # binascii.Error, or non-ASCII text
            raise ValueError(
                "a StandardWebhooks secret is not 'whsec_' + base64; pass the secret exactly "
                "as the sender shows it (from Python, its raw bytes also work)"
            ) from None
    if not key:
        raise ValueError("StandardWebhooks secret is empty")
    return key


class StandardWebhooks:
    """Verify deliveries signed as Standard Webhooks specifies; the default scheme.

    :param secret: the signing secret (``whsec_`` + base64, as the sender shows it; raw
        ``bytes`` also work), or a list of them: during a rotation give the new and the old
        one and both pass
    :param tolerance: seconds the ``webhook-timestamp`` may be before or after the
        receiver's clock (default 300, the spec's); ``None`` skips the time check
    :raises ValueError: a secret is empty or not base64
    """

    def __init__(
        self, secret: str | bytes | Sequence[str | bytes], *, tolerance: float | None = 300
    ) -> None:
        self._keys = [_secret_bytes(item) for item in as_list(secret, "secret")]
        self.tolerance = check_tolerance(tolerance)

    def verify(
        self,
        body: bytes,
        headers: Mapping[str, str],
        *,
        method: str = "POST",
        path: str = "/",
        query: str = "",
    ) -> str:
        """Check the delivery's signature and timestamp; return its ``webhook-id``.

        ``method``, ``path`` and ``query`` are not signed by this scheme and are ignored.

        :raises SignatureError: a header is missing or malformed, the timestamp is outside
            the tolerance (``too old``/``too new``), or no signature matches any secret
        """
        msg_id = require_header(headers, "webhook-id", _NAME)
        stamp = require_header(headers, "webhook-timestamp", _NAME)
        sent = parse_unix_time(stamp, "webhook-timestamp", _NAME)
        given = _signatures(require_header(headers, "webhook-signature", _NAME))
        check_freshness(sent, self.tolerance, "webhook-timestamp", _NAME)
        for key in self._keys:
            expected = self._digest(key, msg_id, str(sent), body)
            if any(hmac.compare_digest(expected, candidate) for candidate in given):
                return msg_id
        raise SignatureError(
            scheme=_NAME,
            reason=f"no matching signature: none of the {len(given)} v1 signature(s) in "
            f"'webhook-signature' matches the body under any of the {len(self._keys)} "
            "secret(s); check the secret, and that the body is passed on as the raw bytes "
            "received (not parsed and re-serialised)",
        )

    def sign(
        self, body: bytes, /, *, msg_id: str | None = None, timestamp: int | None = None
    ) -> dict[str, str]:
        """Return the headers a sender would send: one ``v1`` signature per secret.

        :param msg_id: the delivery id (default: a new random ``msg_`` id)
        :param timestamp: unix seconds (default: now)
        """
        msg_id = msg_id or "msg_" + secrets.token_urlsafe(16)
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signatures = " ".join(
            "v1," + base64.b64encode(self._digest(key, msg_id, stamp, body)).decode()
            for key in self._keys
        )
        return {"webhook-id": msg_id, "webhook-timestamp": stamp, "webhook-signature": signatures}

    @staticmethod
    def _digest(key: bytes, msg_id: str, stamp: str, body: bytes) -> bytes:
        signed = msg_id.encode("utf-8", "surrogatepass") + b"." + stamp.encode() + b"." + body
        return hmac.new(key, signed, hashlib.sha256).digest()

    def __repr__(self) -> str:
        return f"StandardWebhooks(<{len(self._keys)} secret(s)>, tolerance={self.tolerance})"


def _signatures(header: str) -> list[bytes]:
    """The decoded ``v1`` signatures of a ``webhook-signature`` header (others are skipped)."""
    found: list[bytes] = []
    for entry in header.split():
        version, comma, encoded = entry.partition(",")
        if not comma:
            raise SignatureError(
                scheme=_NAME,
                reason=f"malformed header 'webhook-signature': entry {entry[:20]!r} is not "
                "'<version>,<base64>'",
            )
        if version != "v1":
            continue
        try:
            found.append(base64.b64decode(encoded, validate=True))
        except ValueError:  # binascii.Error, or non-ASCII text
            raise SignatureError(
                scheme=_NAME,
                reason=f"malformed header 'webhook-signature': {encoded[:20]!r} is not base64",
            ) from None
    if not found:
        raise SignatureError(
            scheme=_NAME,
            reason="malformed header 'webhook-signature': it holds no 'v1,<base64>' signature",
        )
    return found
