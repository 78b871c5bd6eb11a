"""Errors the commands report as one line on stderr, and the check for the ``cli`` extra.

They never leave the CLI, so they live here rather than in :mod:`eventbus._exceptions`.
"""

from __future__ import annotations

import importlib.util

USAGE = 2
RUNTIME = 1


class CliError(Exception):
    """A problem reported as ``eventbus <command>: error: <message>``, without a traceback.

    :ivar status: the exit status: 2 for bad input, 1 for a failure at run time
    """

    def __init__(self, message: str, *, status: int = RUNTIME) -> None:
        self.status = status
        super().__init__(message)


class UsageError(CliError):
    """Bad input on the command line (exit status 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=USAGE)


def require_cli_extra(command: str, *modules: str) -> None:
    """Check that the modules of the ``cli`` extra can be imported, before using them.

    :raises CliError: one is missing; the message says which extra to install
    """
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a module set to None in sys.modules
            found = False
        if not found:
            raise CliError(
                f"'eventbus {command}' needs {name}, which is not installed; "
                "install the command's extra: pip install 'eventbus[cli]'"
            )
