"""pyee: ``EventEmitter.emit`` (sync); ``AsyncIOEventEmitter`` and ``TrioEventEmitter``.

pyee's async emit is fire-and-forget (each coroutine handler becomes a task), so an async
sample emits ``n`` times and then waits until every handler has finished.
"""

from __future__ import annotations

from typing import Any

import trio
from pyee import EventEmitter
from pyee.asyncio import AsyncIOEventEmitter
from pyee.trio import TrioEventEmitter

from .._core import MANY_TYPES, Bench, Contender, Kit


def _sync(count: int) -> Any:
    def factory(kit: Kit) -> Bench:
        emitter = EventEmitter()
        for i in range(count):
            emitter.on("evt", kit.handler(f"h{i}"))
        event = object()
        emit = emitter.emit

        def run(n: int) -> None:
            for _ in range(n):
                emit("evt", event)

        return Bench(run, call='emitter.emit("evt", event)')

    return factory


def _asyncio(count: int, *, sleep: bool) -> Any:
    def factory(kit: Kit) -> Bench:
        emitter = AsyncIOEventEmitter()
        for i in range(count):
            emitter.on("evt", kit.async_handler(f"h{i}", sleep=sleep))
        event = object()
        emit = emitter.emit

        async def run(n: int) -> None:
            for _ in range(n):
                emit("evt", event)
            await emitter.wait_for_complete()

        return Bench(run, "asyncio", call="emit() x n, then await wait_for_complete()")

    return factory


def _trio(count: int, *, sleep: bool) -> Any:
    def factory(kit: Kit) -> Bench:
        handlers = [kit.async_handler(f"h{i}", sleep=sleep) for i in range(count)]
        event = object()

        async def run(n: int) -> None:
            async with trio.open_nursery() as nursery:
                emitter = TrioEventEmitter(nursery=nursery)
                for handler in handlers:
                    emitter.on("evt", handler)
                emit = emitter.emit
                for _ in range(n):
                    emit("evt", event)

        return Bench(run, "trio", call="emit() x n in a nursery, then its exit")

    return factory


def _subscribe_many(kit: Kit) -> Bench:
    handler = kit.handler()
    state: dict[str, Any] = {}

    def prepare(n: int) -> None:
        state["emitter"] = EventEmitter()
        state["types"] = [f"sub.t{i}" for i in range(n)]

    def run(n: int) -> None:
        on = state["emitter"].on
        for event_type in state["types"][:n]:
            on(event_type, handler)

    def close() -> None:
        made = len(state["emitter"].event_names())
        if made != len(state["types"]):
            raise RuntimeError(f"{made} event names, expected {len(state['types'])}")

    return Bench(
        run, call="emitter.on(type, handler)", prepare=prepare, close=close, batch=MANY_TYPES
    )


CONTENDERS = [
    Contender(
        "pyee",
        "pyee",
        {
            "S1": _sync(1),
            "S2": _sync(10),
            "S4 asyncio": _asyncio(1, sleep=False),
            "S4 trio": _trio(1, sleep=False),
            "S4c asyncio": _asyncio(10, sleep=True),
            "S4c trio": _trio(10, sleep=True),
            "SUB": _subscribe_many,
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
