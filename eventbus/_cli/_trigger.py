"""``eventbus trigger``: send a signed sample event to an endpoint."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from .._exceptions import InvalidEventTypeError
from .._topics import validate_event_type
from ..webhooks._scheme import LAST_TIME
from ._errors import CliError, UsageError, require_cli_extra
from ._output import note, say
from ._samples import has_sample, new_event_id, sample_event
from ._signing import add_scheme_options, make_scheme, sign

HELP = "send a signed sample event of a type to a webhook endpoint"
DEFAULT_URL = "http://127.0.0.1:8787/webhook"
TIMEOUT = 30.0
EPILOG = """\
examples:
  eventbus trigger customer.subscription.started --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
  eventbus trigger payment_intent.succeeded --data '{"amount": "5000"}' --repeat 2 \\
      --url http://127.0.0.1:8000/api/payment/callback --secret "$EVENTBUS_SECRET"
  eventbus trigger invoice.paid --timestamp 1600000000 --print --secret "$EVENTBUS_SECRET"

Every type 'eventbus types' lists has a realistic sample (a subscription for
customer.subscription.*, a payment intent for payment_intent.*, the notification shape
for manual.notification, ...). Another type is sent as a minimal event with an empty
data.object, and a note says so. --data is a JSON object merged deeply into data.object:
where the sample and --data both hold an object under a key, they are merged key by key
(so '{"metadata": {"order": "7"}}' keeps the sample's other metadata); any other value
replaces the sample's. --repeat N sends the same event (same id, fresh signature) N times,
to see de-duplication. --timestamp signs as of that unix time, to see a stale or future
delivery refused. --print shows each signed request (method, URL, headers, body) instead
of sending it. Each answer is printed as '<status> <reason> <body>'; the exit status is 0
only if every answer was 2xx.
"""


def add_parser(commands: Any) -> None:
    """Add the ``trigger`` command to the sub-parsers ``commands``."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "trigger",
        help=HELP,
        description=HELP[0].upper() + HELP[1:] + ".",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("type", metavar="TYPE", help="the event type, e.g. invoice.paid")
    parser.add_argument("--url", default=DEFAULT_URL, help="the endpoint (default: %(default)s)")
    add_scheme_options(parser)
    parser.add_argument(
        "--data", metavar="JSON", help="a JSON object merged deeply into the sample's data.object"
    )
    parser.add_argument("--id", help="the event id (default: a new evt_ id)")
    parser.add_argument(
        "--repeat",
        type=_count,
        default=1,
        metavar="N",
        help="send the same event N times (default: %(default)s)",
    )
    parser.add_argument(
        "--timestamp",
        type=_unix_time,
        metavar="UNIX",
        help="sign as of this unix time in seconds, e.g. an hour ago (default: now)",
    )
    parser.add_argument(
        "--print",
        action="store_true",
        dest="print_only",
        help="print each signed request instead of sending it",
    )
    parser.set_defaults(run=run, prog=parser.prog)


def _count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {count}")
    return count


def _unix_time(text: str) -> int:
    """A signing time every receiver can read: whole seconds from 0 to the end of 9999 (one
    outside that range is refused as a malformed header, never as stale or future)."""
    try:
        stamp = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a unix time in whole seconds: {text!r} (e.g. $(date -d '-1 hour' +%s))"
        ) from None
    if not 0 <= stamp <= LAST_TIME:
        raise argparse.ArgumentTypeError(
            f"must be between 0 and {LAST_TIME} (year 9999), got {stamp}: receivers refuse "
            "any other time as a malformed header"
        )
    return stamp


def _overrides(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--data is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError(f"--data must be a JSON object, got a JSON {type(value).__name__}")
    return value


def run(args: argparse.Namespace) -> int:
    """Send (or with ``--print`` show) the event ``--repeat`` times; return 0 when every
    answer was 2xx, else 1."""
    if not args.print_only:
        require_cli_extra("trigger", "httpx")
    try:
        validate_event_type(args.type)
    except InvalidEventTypeError as exc:
        raise UsageError(str(exc)) from None
    overrides = _overrides(args.data)
    scheme = make_scheme(args)
    if not args.url.startswith(("http://", "https://")):
        raise UsageError(f"--url must be an http:// or https:// URL, got {args.url!r}")
    if not has_sample(args.type):
        note(
            f"note: {args.type!r} is not in the Payment Kit catalogue ('eventbus types'); "
            "sending a minimal event"
        )
    event_id = args.id or new_event_id()
    body = json.dumps(
        sample_event(args.type, event_id=event_id, overrides=overrides), ensure_ascii=False
    ).encode()

    def headers() -> dict[str, str]:
        return sign(scheme, body, msg_id=event_id, timestamp=args.timestamp)

    if args.print_only:
        _print(args.url, body, args.repeat, headers)
        return 0
    return _send(args.url, body, args.repeat, headers)


def _print(url: str, body: bytes, times: int, headers: Callable[[], dict[str, str]]) -> None:
    """Show each request as HTTP shows it: request line, headers, a blank line, the body."""
    for number in range(times):
        if number:
            say("")
        say(f"POST {url}")
        for name, value in headers().items():
            say(f"{name}: {value}")
        say("")
        say(body.decode())


def _send(url: str, body: bytes, times: int, headers: Callable[[], dict[str, str]]) -> int:
    import httpx

    failed = False
    # Loading the CA bundle takes about half a second; plain http needs none.
    with httpx.Client(timeout=TIMEOUT, verify=url.startswith("https://")) as client:
        for _ in range(times):
            try:
                response = client.post(url, content=body, headers=headers())
            except httpx.ConnectError as exc:
                raise CliError(
                    f"cannot reach {url}: {exc} (is 'eventbus listen' running?)"
                ) from None
            except httpx.HTTPError as exc:
                raise CliError(f"no answer from {url}: {exc or type(exc).__name__}") from None
            say(f"{response.status_code} {response.reason_phrase} {response.text}".strip())
            failed = failed or not response.is_success
    return 1 if failed else 0
