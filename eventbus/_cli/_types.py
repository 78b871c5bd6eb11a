"""``eventbus types``: the Payment Kit event catalogue."""

from __future__ import annotations

import argparse
from typing import Any

from ._catalogue import catalogue
from ._output import say

HELP = "list the Payment Kit event types eventbus knows, with their descriptions"
EPILOG = """\
examples:
  eventbus types
  eventbus types | grep subscription

Each type can be sent with 'eventbus trigger TYPE' and carries a realistic sample.
"""


def add_parser(commands: Any) -> None:
    """Add the ``types`` command to the sub-parsers ``commands``."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "types",
        help=HELP,
        description=HELP[0].upper() + HELP[1:] + ".",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=run, prog=parser.prog)


def run(args: argparse.Namespace) -> int:
    """Print one line per type: the type, padded, then its description."""
    entries = catalogue()
    width = max(map(len, entries))
    for event_type, description in entries.items():
        say(f"{event_type:<{width}}  {description}")
    return 0
