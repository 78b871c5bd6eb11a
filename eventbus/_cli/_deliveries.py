"""``eventbus deliveries``: what a webhook sender's outbox holds, as a table."""

from __future__ import annotations

import argparse
import os
import sqlite3
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from ._errors import CliError
from ._output import note, say

if TYPE_CHECKING:
    from ..webhooks import Attempt, SqliteOutbox

HELP = "list the webhook deliveries in a sender's outbox, with their attempts"
EPILOG = """\
examples:
  eventbus deliveries outbox.db
  eventbus deliveries outbox.db --failed
  eventbus deliveries outbox.db --endpoint we_0123456789abcdef01234567 --limit 20

One row per (event, endpoint), most recently queued first: when it was queued, the event,
the endpoint, its status (pending, succeeded, failed), how many attempts were made, what
the last one got, and when the next one is due. Times are UTC.
"""
COLUMNS = ("QUEUED", "EVENT", "TYPE", "ENDPOINT", "STATUS", "ATTEMPTS", "LAST", "NEXT ATTEMPT")


def add_parser(commands: Any) -> None:
    """Add the ``deliveries`` command to the sub-parsers ``commands``."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "deliveries",
        help=HELP,
        description=HELP[0].upper() + HELP[1:] + ".",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("outbox", metavar="OUTBOX_PATH", help="the SqliteOutbox file")
    parser.add_argument("--endpoint", metavar="ID", help="only this endpoint's deliveries")
    parser.add_argument("--failed", action="store_true", help="only failed deliveries")
    parser.add_argument(
        "--limit", type=int, default=100, metavar="N", help="at most N rows (default: %(default)s)"
    )
    parser.set_defaults(run=run, prog=parser.prog)


def run(args: argparse.Namespace) -> int:
    """Print the table; an empty outbox prints a note instead."""
    from ..webhooks import SqliteOutbox

    if not os.path.isfile(args.outbox):
        raise CliError(f"no outbox at {args.outbox!r}; pass the path given to SqliteOutbox")
    try:
        outbox = SqliteOutbox(args.outbox)
        rows = _rows(outbox, args)
    except sqlite3.DatabaseError as exc:
        raise CliError(f"{args.outbox!r} is not a readable outbox: {exc}") from None
    if not rows:
        note("no deliveries" + (" match" if args.endpoint or args.failed else ""))
        return 0
    widths = [max(len(row[i]) for row in (COLUMNS, *rows)) for i in range(len(COLUMNS))]
    for row in (COLUMNS, *rows):
        say("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def _rows(outbox: SqliteOutbox, args: argparse.Namespace) -> list[tuple[str, ...]]:
    status: Literal["failed"] | None = "failed" if args.failed else None
    rows: list[tuple[str, ...]] = []
    for delivery in outbox.deliveries(endpoint_id=args.endpoint, status=status, limit=args.limit):
        attempts = outbox.attempts(event_id=delivery.event_id, endpoint_id=delivery.endpoint_id)
        rows.append(
            (
                _when(delivery.created_at),
                delivery.event_id,
                delivery.event_type,
                delivery.endpoint_id,
                delivery.status,
                str(delivery.attempts),
                _last(attempts[-1]) if attempts else "-",
                _when(delivery.next_attempt_at),
            )
        )
    return rows


def _last(attempt: Attempt) -> str:
    if attempt.status == "succeeded":
        return str(attempt.response_status)
    return str(attempt.error or attempt.response_status)


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")
