"""``eventbus listen``: receive signed deliveries, print each, optionally forward them."""

from __future__ import annotations

import argparse
import socket
from datetime import datetime
from typing import Any

from .._bus import EventBus
from .._exceptions import InvalidPatternError
from .._topics import compile_pattern
from ..webhooks import IdempotencyStore, MemoryIdempotencyStore, WebhookReceiver
from ._catalogue import register_models
from ._errors import UsageError, require_cli_extra
from ._output import delivery_line, say
from ._signing import Scheme, add_scheme_options, make_scheme
from ._tap import Delivery, Tap

HELP = "receive signed webhook deliveries and print each one"
EPILOG = """\
examples:
  eventbus listen --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
  eventbus listen --port 0 --events 'customer.subscription.*' invoice.paid \\
      --secret "$EVENTBUS_SECRET" --forward-to http://127.0.0.1:8000/api/payment/callback

The first line says where it listens (with the real port for --port 0). Then one line per
delivery: time, status answered, outcome, event type, event id, {id amount status} of
data.object, and the reason of a refused delivery. Repeats of a handled event id are
answered 200 duplicate; payloads that do not fit their Payment Kit model 422.

With --forward-to URL the listener only verifies (and filters by --events): each verified
delivery is re-signed with the same scheme and secret and POSTed to the URL, and the
application's own answer (status and body) goes back to the sender and on the line. The
application de-duplicates and validates, so a --repeat reaches its de-duplication. When
the URL cannot be reached the listener answers 500, so the sender retries. Ctrl-C or
SIGTERM stops it.
"""


def add_parser(commands: Any) -> None:
    """Add the ``listen`` command to the sub-parsers ``commands``."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "listen",
        help=HELP,
        description=HELP[0].upper() + HELP[1:] + ".",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=8787,
        help="port to bind, 0 for any free one (default: %(default)s)",
    )
    parser.add_argument(
        "--path", default="/webhook", help="path of the endpoint (default: %(default)s)"
    )
    add_scheme_options(parser)
    parser.add_argument(
        "--events",
        nargs="+",
        metavar="PATTERN",
        help="accept only these event types or patterns ('*' one segment, '**' any); others "
        "are answered 200 ignored (default: every type)",
    )
    parser.add_argument(
        "--forward-to", metavar="URL", help="re-sign each verified event and POST it to URL"
    )
    parser.set_defaults(run=run, prog=parser.prog)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is not between 0 and 65535")
    return port


def _check(args: argparse.Namespace) -> Scheme:
    if not args.path.startswith("/"):
        raise UsageError(f"--path must start with '/', got {args.path!r}")
    for pattern in args.events or ():
        try:
            compile_pattern(pattern)
        except InvalidPatternError as exc:
            raise UsageError(f"--events: {exc}") from None
    url: str | None = args.forward_to
    if url is not None and not url.startswith(("http://", "https://")):
        raise UsageError(f"--forward-to must be an http:// or https:// URL, got {url!r}")
    return make_scheme(args)


def run(args: argparse.Namespace) -> int:
    """Serve the receiver until SIGINT or SIGTERM; return the exit status."""
    require_cli_extra("listen", "uvicorn", "httpx")
    scheme = _check(args)
    from . import _server  # imports uvicorn and httpx

    bus = EventBus()
    if args.forward_to:
        bus.subscribe(_server.Forwarder(args.forward_to, scheme), name="forward")
        store: IdempotencyStore = _server.PassThroughStore()
    else:
        register_models(bus)
        store = MemoryIdempotencyStore()
    receiver = WebhookReceiver(bus, scheme, idempotency=store, enabled_events=args.events)
    counter = _Counter()
    app = Tap(receiver.asgi_app(), args.path, counter.report)
    sock = _server.bind(args.host, args.port)
    url = _url(sock, args.path)

    def started() -> None:
        say(f"Listening on {url} ({type(scheme).__name__}); Ctrl-C to stop")
        if args.forward_to:
            say(f"Forwarding verified events to {args.forward_to}")

    _server.serve(app, sock, on_started=started)
    say(f"Stopped after {counter.count} deliver{'y' if counter.count == 1 else 'ies'}")
    return 0


class _Counter:
    """Prints each delivery's line and counts them."""

    def __init__(self) -> None:
        self.count = 0

    def report(self, delivery: Delivery) -> None:
        self.count += 1
        say(
            delivery_line(
                datetime.now(),
                delivery.status or 500,
                bytes(delivery.body),
                bytes(delivery.response),
                forwarded=delivery.forwarded,
            )
        )


def _url(sock: socket.socket, path: str) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{path}"
