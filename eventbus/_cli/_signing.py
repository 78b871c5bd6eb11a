"""The ``--secret``, ``--scheme`` and ``--header`` options, shared by ``listen`` and ``trigger``."""

from __future__ import annotations

import argparse
import base64
import os
import secrets

from ..webhooks import HmacTimestampSignature, StandardWebhooks
from ._errors import UsageError

Scheme = StandardWebhooks | HmacTimestampSignature

SECRET_ENV = "EVENTBUS_SECRET"
SCHEMES = ("standard", "hmac-timestamp")


def add_scheme_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--secret``, ``--scheme`` and ``--header`` to ``parser``."""
    group = parser.add_argument_group("signature")
    group.add_argument(
        "--secret",
        default=os.environ.get(SECRET_ENV),
        help=f"the signing secret (default: ${SECRET_ENV}); for 'standard' base64, usually "
        "after whsec_ (optional), for 'hmac-timestamp' any string, used verbatim",
    )
    group.add_argument(
        "--scheme",
        choices=SCHEMES,
        default="standard",
        help="'standard': Standard Webhooks (webhook-id/-timestamp/-signature headers); "
        "'hmac-timestamp': t=<unix>,v1=<hex> as Stripe and Blocklet Server send "
        "(default: %(default)s)",
    )
    group.add_argument(
        "--header",
        metavar="NAME",
        default=None,
        help="the signature header of 'hmac-timestamp' (default: Stripe-Signature; Blocklet "
        "Server uses X-Webhook-Signature)",
    )


def make_scheme(args: argparse.Namespace) -> Scheme:
    """Build the scheme the options describe.

    :raises UsageError: no secret, one the scheme refuses, or ``--header`` without the
        scheme it belongs to
    """
    secret: str | None = args.secret
    if not secret:
        raise UsageError(f"--secret is required (or set ${SECRET_ENV})")
    if args.scheme == "hmac-timestamp":
        return HmacTimestampSignature(secret, header=args.header or "Stripe-Signature")
    if args.header is not None:
        raise UsageError("--header only applies to --scheme hmac-timestamp")
    try:
        return StandardWebhooks(secret)
    except ValueError as exc:
        example = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        raise UsageError(
            f"--secret: {exc} (a fresh one: {example}; or use --scheme hmac-timestamp, "
            "which takes any string)"
        ) from None


def sign(
    scheme: Scheme, body: bytes, *, msg_id: str, timestamp: int | None = None
) -> dict[str, str]:
    """The headers a sender adds to ``body``: its signature and, for JSON, the content type.

    :param timestamp: the signing time in unix seconds (default: now)
    """
    headers: dict[str, str]
    if isinstance(scheme, StandardWebhooks):
        headers = scheme.sign(body, msg_id=msg_id, timestamp=timestamp)
    else:
        headers = scheme.sign(body, timestamp=timestamp)
    return {"content-type": "application/json", **headers}
