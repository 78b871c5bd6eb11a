"""Blocklet's component-call signature, the one Payment Kit's ``verifySig`` checks.

Headers ``x-component-sig`` (``0x`` + hex ed25519 signature), ``x-component-sig-iat``,
``x-component-sig-exp`` and ``x-component-sig-version`` (``1``). The signature covers the
SHA3-256 digest of ``json-stable-stringify({iat, exp, body, query, method, url})`` where
``body`` is the *parsed* JSON body, ``query`` the query string parsed as Express 4 parses it
(npm ``qs``), ``method`` lower-case and ``url`` the path, percent-encoded as sent.
Needs ``cryptography`` (the ``eventbus[blocklet]`` extra).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._errors import SignatureError
from ._json_body import JsonBodyError, parse_json
from ._qs import parse_query
from ._response import shown
from ._scheme import (
    as_list,
    check_freshness,
    check_tolerance,
    get_header,
    parse_unix_time,
    require_header,
)
from ._stable_json import stable_stringify

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

_NAME = "BlockletComponentSignature"
#: The sender signs ``exp = iat + 300``.
_LIFETIME = 300


def _load_ed25519() -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError as exc:
        raise ImportError(
            "BlockletComponentSignature needs the 'cryptography' package; install it with "
            "pip install 'eventbus[blocklet]'"
        ) from exc
    return ed25519


def _key_bytes(key: str | bytes, what: str) -> bytes:
    if isinstance(key, bytes):
        return key
    try:
        return bytes.fromhex(key.removeprefix("0x").removeprefix("0X"))
    except ValueError:
        raise ValueError(
            f"{what} {key[:12]!r}... is not hex ('0x' + hex, as Blocklet shows it)"
        ) from None


def signed_text(body: Any, *, iat: int, exp: int, method: str, url: str, query: str) -> bytes:
    """The UTF-8 bytes whose SHA3-256 digest the sender signs."""
    payload = {
        "iat": iat,
        "exp": exp,
        "body": body,
        "query": parse_query(query),
        "method": method.lower(),
        "url": url,
    }
    return stable_stringify(payload).encode()


class BlockletComponentSignature:
    """Verify Blocklet component-call signatures (Payment Kit's ``verifySig``).

    Only receivers inside the same Blocklet app can use it: the key is the app's.

    :param app_public_key: the app's ed25519 public key as Blocklet shows it (``0x`` + hex,
        as in ``BLOCKLET_APP_PK``) or its 32 raw bytes, or a list of them
    :param tolerance: seconds ``x-component-sig-iat`` may be before or after the receiver's
        clock (default 300, matching the signed ``exp = iat + 300``); ``None`` skips it
    :raises ImportError: ``cryptography`` is missing (install ``eventbus[blocklet]``)
    :raises ValueError: a key is not 32 bytes of hex
    """

    signature_headers = (
        "x-component-sig",
        "x-component-sig-iat",
        "x-component-sig-exp",
        "x-component-sig-version",
    )

    def __init__(
        self,
        app_public_key: str | bytes | Sequence[str | bytes],
        *,
        tolerance: float | None = 300,
    ) -> None:
        ed25519 = _load_ed25519()
        self._keys: list[Ed25519PublicKey] = []
        for key in as_list(app_public_key, "public key"):
            raw = _key_bytes(key, "public key")
            if len(raw) != 32:
                raise ValueError(f"an ed25519 public key is 32 bytes, this one is {len(raw)}")
            self._keys.append(ed25519.Ed25519PublicKey.from_public_bytes(raw))
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
        """Check the component signature over the parsed body, method, path and query.

        ``path`` is the path percent-encoded as sent (what Express's ``req.originalUrl``
        holds), the receiver passes the request's raw path.

        :raises SignatureError: a header is missing or malformed, the body is not JSON, the
            ``iat`` is outside the tolerance (``too old``/``too new``), or no key verifies
        """
        signature = _signature(require_header(headers, "x-component-sig", _NAME))
        iat = parse_unix_time(
            require_header(headers, "x-component-sig-iat", _NAME), "x-component-sig-iat", _NAME
        )
        exp = parse_unix_time(
            require_header(headers, "x-component-sig-exp", _NAME), "x-component-sig-exp", _NAME
        )
        version = get_header(headers, "x-component-sig-version")
        if version not in (None, "1"):
            raise SignatureError(
                scheme=_NAME,
                reason=f"malformed header 'x-component-sig-version': {shown(version)}, expected "
                "'1'",
            )
        parsed = _parse_body(body)
        check_freshness(iat, self.tolerance, "x-component-sig-iat", _NAME)
        for url in _candidate_urls(path, get_header(headers, "x-path-prefix")):
            text = signed_text(parsed, iat=iat, exp=exp, method=method, url=url, query=query)
            if self._matches(signature, hashlib.sha3_256(text).digest()):
                return
        raise SignatureError(
            scheme=_NAME,
            reason=f"no matching signature for {method.upper()} {shown(path)} under the "
            "configured key(s); check the app public key, and that the path given "
            "is the full path the sender requested (mount prefix included, percent-encoded as "
            "sent)",
        )

    def _matches(self, signature: bytes, digest: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature

        for key in self._keys:
            try:
                key.verify(signature, digest)
            except InvalidSignature:
                continue
            return True
        return False

    @staticmethod
    def sign(
        body: bytes,
        /,
        *,
        private_key: str | bytes,
        method: str = "POST",
        path: str = "/",
        query: str = "",
        iat: int | None = None,
    ) -> dict[str, str]:
        """Return the headers a Blocklet component would send with ``body``.

        :param private_key: the app's secret key, ``0x`` hex or raw bytes: the 32-byte seed,
            or the 64 bytes (seed + public key) Blocklet shows as ``BLOCKLET_APP_SK``
        :param iat: signing time in unix seconds (default: now); ``exp`` is ``iat + 300``
        """
        ed25519 = _load_ed25519()
        seed = _key_bytes(private_key, "private key")[:32]
        iat = int(time.time()) if iat is None else iat
        exp = iat + _LIFETIME
        parsed = parse_json(body) if body.strip() else {}
        text = signed_text(parsed, iat=iat, exp=exp, method=method, url=path, query=query)
        key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
        signature: bytes = key.sign(hashlib.sha3_256(text).digest())
        return {
            "x-component-sig": "0x" + signature.hex(),
            "x-component-sig-iat": str(iat),
            "x-component-sig-exp": str(exp),
            "x-component-sig-version": "1",
        }

    def __repr__(self) -> str:
        return f"BlockletComponentSignature(<{len(self._keys)} key(s)>, tolerance={self.tolerance})"


def _signature(value: str) -> bytes:
    try:
        raw = bytes.fromhex(value.strip().removeprefix("0x"))
    except ValueError:
        raw = b""
    if len(raw) != 64:
        raise SignatureError(
            scheme=_NAME,
            reason="malformed header 'x-component-sig': expected '0x' + 128 hex digits",
        )
    return raw


def _parse_body(body: bytes) -> Any:
    if not body.strip():
        return {}  # Express's body parser gives {} for an empty body
    try:
        return parse_json(body)
    except JsonBodyError as exc:
        raise SignatureError(
            scheme=_NAME,
            reason=f"the body is not JSON ({exc}), and this scheme signs the parsed JSON body; "
            "send Content-Type: application/json with a JSON body",
        ) from None


def _candidate_urls(path: str, prefix: str | None) -> list[str]:
    """The path, then (as ``verifySig`` retries) the path under ``x-path-prefix``."""
    urls = [path]
    if prefix and prefix != "/" and not path.startswith(prefix.rstrip("/") + "/"):
        urls.append(prefix.rstrip("/") + path)
    return urls
