"""pymitter: ``EventEmitter.emit`` / ``emit_async``; wildcards with ``wildcard=True``.

pymitter's ``*`` matches one segment (fnmatch per segment) and it has no multi-segment
wildcard, so S3's ``ns1.**`` is spelled ``ns1.*.*``, which matches the published type too.
Its ``emit_async`` gathers coroutines with ``asyncio.gather``: asyncio only.
"""

from __future__ import annotations

from typing import Any

from pymitter import EventEmitter

from .._core import S3_PUBLISHED, S3_SIZES, Bench, Contender, Kit, s3_types


def _sync(count: int) -> Any:
    def factory(kit: Kit) -> Bench:
        emitter = EventEmitter()
        for i in range(count):
            emitter.on("bench.evt", kit.handler(f"h{i}"))
        event = object()
        emit = emitter.emit

        def run(n: int) -> None:
            for _ in range(n):
                emit("bench.evt", event)

        return Bench(run, call='emitter.emit("bench.evt", event)')

    return factory


def _s3(size: int) -> Any:
    def factory(kit: Kit) -> Bench:
        emitter = EventEmitter(wildcard=True, delimiter=".")
        for i, event_type in enumerate(s3_types(size)):
            emitter.on(event_type, kit.handler(f"h{i}"))
        emitter.on("ns1.*.evt", kit.handler("star"))
        emitter.on("ns1.*.*", kit.handler("double_star"))
        event = object()
        emit = emitter.emit

        def run(n: int) -> None:
            for _ in range(n):
                emit(S3_PUBLISHED, event)

        return Bench(run, call="emitter.emit(type, event) (wildcard=True; ns1.** as ns1.*.*)")

    return factory


def _async(count: int, *, sleep: bool) -> Any:
    def factory(kit: Kit) -> Bench:
        emitter = EventEmitter()
        for i in range(count):
            emitter.on("bench.evt", kit.async_handler(f"h{i}", sleep=sleep))
        event = object()
        emit_async = emitter.emit_async

        async def run(n: int) -> None:
            for _ in range(n):
                await emit_async("bench.evt", event)

        return Bench(run, "asyncio", call='await emitter.emit_async("bench.evt", event)')

    return factory


_ASYNCIO_ONLY = "emit_async is asyncio-only"
CONTENDERS = [
    Contender(
        "pymitter",
        "pymitter",
        {
            "S1": _sync(1),
            "S2": _sync(10),
            **{scenario: _s3(size) for scenario, size in S3_SIZES.items()},
            "S4 asyncio": _async(1, sleep=False),
            "S4c asyncio": _async(10, sleep=True),
        },
        {
            "S4 trio": _ASYNCIO_ONLY,
            "S4c trio": _ASYNCIO_ONLY,
            "S5": "no envelope",
            "S6": "no webhook ingest",
        },
    )
]
