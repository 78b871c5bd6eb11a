"""The ``eventbus`` command: ``listen``, ``trigger`` and ``types``.

Private: the command line is the interface, not these modules. uvicorn and httpx (the
``cli`` extra) are imported only inside the commands that need them.
"""

from ._main import main

__all__ = ["main"]
