"""blinker: ``Signal.send`` (sync) and ``Signal.send_async`` (awaits receivers one by one)."""

from __future__ import annotations

from typing import Any

from blinker import Signal

from .._core import Bench, Contender, Kit


def _sync(count: int) -> Any:
    def factory(kit: Kit) -> Bench:
        signal = Signal()
        handlers = [kit.handler(f"h{i}") for i in range(count)]
        for handler in handlers:
            signal.connect(handler)
        event = object()
        send = signal.send

        def run(n: int) -> None:
            for _ in range(n):
                send(event)

        return Bench(run, call="signal.send(event)", keep=handlers)

    return factory


def _async(backend: Any, count: int, *, sleep: bool) -> Any:
    def factory(kit: Kit) -> Bench:
        signal = Signal()
        handlers = [kit.async_handler(f"h{i}", sleep=sleep) for i in range(count)]
        for handler in handlers:
            signal.connect(handler)
        event = object()
        send_async = signal.send_async

        async def run(n: int) -> None:
            for _ in range(n):
                await send_async(event)

        call = "await signal.send_async(event)" + (" (one after another)" if count > 1 else "")
        return Bench(run, backend, call=call, keep=handlers)

    return factory


CONTENDERS = [
    Contender(
        "blinker",
        "blinker",
        {
            "S1": _sync(1),
            "S2": _sync(10),
            "S4 asyncio": _async("asyncio", 1, sleep=False),
            "S4 trio": _async("trio", 1, sleep=False),
            "S4c asyncio": _async("asyncio", 10, sleep=True),
            "S4c trio": _async("trio", 10, sleep=True),
        },
        {
            "S3": "no wildcards",
            "S3-1k": "no wildcards",
            "S3-10": "no wildcards",
            "S5": "no envelope",
            "S6": "no webhook ingest",
        },
    )
]
