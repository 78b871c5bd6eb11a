"""psygnal (mypyc-compiled): ``SignalInstance.emit`` and the unchecked ``emit_fast``.

Its async callbacks are fire-and-forget through a background queue task, with no awaitable
emit, so it has no async scenario.
"""

from __future__ import annotations

from typing import Any

from psygnal import Signal

from .._core import Bench, Contender, Kit


class _Emitter:
    fired = Signal(object)


def _sync(count: int, method: str) -> Any:
    def factory(kit: Kit) -> Bench:
        signal = _Emitter().fired
        handlers = [kit.handler(f"h{i}") for i in range(count)]
        for handler in handlers:
            signal.connect(handler)
        event = object()
        emit = getattr(signal, method)

        def run(n: int) -> None:
            for _ in range(n):
                emit(event)

        return Bench(run, call=f"signal.{method}(event)", keep=handlers)

    return factory


_MISSING = {
    "S3": "no wildcards",
    "S3-1k": "no wildcards",
    "S3-10": "no wildcards",
    "S4 asyncio": "no awaitable emit",
    "S4 trio": "no awaitable emit",
    "S4c asyncio": "no awaitable emit",
    "S4c trio": "no awaitable emit",
    "S5": "no envelope",
    "S6": "no webhook ingest",
}

CONTENDERS = [
    Contender(
        "psygnal emit", "psygnal", {"S1": _sync(1, "emit"), "S2": _sync(10, "emit")}, _MISSING
    ),
    Contender(
        "psygnal emit_fast",
        "psygnal",
        {"S1": _sync(1, "emit_fast"), "S2": _sync(10, "emit_fast")},
        _MISSING,
        normal=False,
    ),
]
