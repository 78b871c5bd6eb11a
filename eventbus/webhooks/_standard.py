"""Standard Webhooks: ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` headers.

Svix, the scheme's origin, sends the same three as ``svix-id``, ``svix-timestamp`` and
``svix-signature`` by default; either complete set is accepted, never a mix of the two.

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
from ._scheme import (
    as_list,
    check_freshness,
    check_tolerance,
    get_header,
    matches_any,
    no_match,
    parse_unix_time,
    require_header,
)

_NAME = "StandardWebhooks"
_PREFIX = "whsec_"
#: The header sets, checked in this order: the spec's, then Svix's default names.
_SETS = ("webhook", "svix")
_PARTS = ("id", "timestamp", "signature")


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
                "a StandardWebhooks secret is base64, usually after 'whsec_' (optional, as in "
                "the reference libraries); pass the secret exactly as the sender shows it "
                "(from Python, its raw bytes also work)"
            ) from None
    if not key:
        raise ValueError("StandardWebhooks secret is empty")
    return key


class StandardWebhooks:
    """Verify deliveries signed as Standard Webhooks specifies; the default scheme.

    :param secret: the signing secret (``whsec_`` + base64, as the sender shows it; the
        prefix is optional, as in the reference libraries; raw ``bytes`` also work), or a
        list of them: during a rotation give the new and the old one and both pass
    :param tolerance: seconds the ``webhook-timestamp`` may be before or after the
        receiver's clock (default 300, the spec's); ``None`` skips the time check
    :raises ValueError: a secret is empty or not base64
    """

    signature_headers = tuple(f"{prefix}-{part}" for prefix in _SETS for part in _PARTS)

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

        The ``webhook-*`` headers are read when all three are present, else the ``svix-*``
        ones. ``method``, ``path`` and ``query`` are not signed by this scheme and are ignored.

        :raises SignatureError: a header is missing (or the two sets are mixed) or
            malformed, the timestamp is outside the tolerance (``too old``/``too new``), or
            no signature matches any secret
        """
        prefix = _header_set(headers)
        msg_id = require_header(headers, f"{prefix}-id", _NAME)
        stamp = require_header(headers, f"{prefix}-timestamp", _NAME)
        sent = parse_unix_time(stamp, f"{prefix}-timestamp", _NAME)
        given = _signatures(require_header(headers, f"{prefix}-signature", _NAME), prefix)
        check_freshness(sent, self.tolerance, f"{prefix}-timestamp", _NAME)
        for key in self._keys:
            if matches_any(self._digest(key, msg_id, str(sent), body), given):
                return msg_id
        raise SignatureError(
            scheme=_NAME,
            reason=no_match(len(given), f"{prefix}-signature", "secret"),
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


def _header_set(headers: Mapping[str, str]) -> str:
    """``webhook`` or ``svix``: the first set given completely (else the one begun)."""
    if all(get_header(headers, f"webhook-{part}") for part in _PARTS):
        return "webhook"
    given = {
        prefix: [part for part in _PARTS if get_header(headers, f"{prefix}-{part}")]
        for prefix in _SETS
    }
    for prefix in _SETS:
        if len(given[prefix]) == len(_PARTS):
            return prefix
    if given["webhook"] and given["svix"]:
        raise SignatureError(
            scheme=_NAME,
            reason="missing header: neither the webhook-* nor the svix-* headers are complete "
            f"(webhook-* has {given['webhook']}, svix-* has {given['svix']}); a delivery "
            "carries one complete set, its id, timestamp and signature never mixed",
        )
    return "svix" if given["svix"] else "webhook"


def _signatures(header: str, prefix: str) -> list[bytes]:
    """The decoded ``v1`` signatures of a ``webhook-signature`` header (others are skipped).

    Errors never quote the header: a signature does not belong in a log line.
    """
    name = f"'{prefix}-signature'"
    found: list[bytes] = []
    for entry in header.split():
        version, comma, encoded = entry.partition(",")
        if not comma:
            raise SignatureError(
                scheme=_NAME,
                reason=f"malformed header {name}: an entry is not '<version>,<base64>'",
            )
        if version != "v1":
            continue
        try:
            found.append(base64.b64decode(encoded, validate=True))
        except ValueError:  # binascii.Error, or non-ASCII text
            raise SignatureError(
                scheme=_NAME,
                reason=f"malformed header {name}: a v1 signature is not base64 (was the header "
                "sent twice?)",
            ) from None
    if not found:
        raise SignatureError(
            scheme=_NAME, reason=f"malformed header {name}: it holds no 'v1,<base64>' signature"
        )
    return found
