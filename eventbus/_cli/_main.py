"""The ``eventbus`` command line: parsing, dispatch, and how errors end the process."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib import metadata
from typing import NoReturn

from ._errors import CliError
from ._output import note

DESCRIPTION = "Develop against webhooks locally: receive, send and list Payment Kit events."
EPILOG = """\
examples:
  eventbus types
  eventbus listen --port 8787 --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
  eventbus trigger invoice.paid --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw

Run 'eventbus COMMAND --help' for a command's options.
"""


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line (and exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``eventbus`` and its commands."""
    from . import _deliveries, _listen, _trigger, _types, _worker

    parser = _Parser(
        prog="eventbus",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"eventbus {metadata.version('eventbus')}"
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    _listen.add_parser(commands)
    _trigger.add_parser(commands)
    _types.add_parser(commands)
    _deliveries.add_parser(commands)
    _worker.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command in ``argv`` (default: ``sys.argv[1:]``); return the exit status.

    Expected failures print ``eventbus <command>: error: <message>`` and return 1 (runtime)
    or 2 (bad input); an interrupt before the listener is serving returns 130 quietly.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.run(args)
    except CliError as exc:
        note(f"{args.prog}: error: {exc}")
        return exc.status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``eventbus types | head``): stop quietly, as Unix tools do,
        # and keep Python's exit-time flush of stdout from failing again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return status
