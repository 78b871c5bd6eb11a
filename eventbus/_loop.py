"""Which event loop, if any, is running in this thread: the one fact sync entry points need to
decide whether they may block or must hand work to a loop."""

from __future__ import annotations

import asyncio
import sys


def on_asyncio() -> bool:
    """Tell whether an asyncio event loop is running in this thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def in_event_loop() -> bool:
    """Tell whether an asyncio or trio event loop is running in this thread."""
    if on_asyncio():
        return True
    trio = sys.modules.get("trio")
    return trio is not None and bool(trio.lowlevel.in_trio_run())
