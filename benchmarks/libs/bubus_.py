"""bubus: ``await bus.dispatch(event)`` on its asyncio queue (asyncio only).

bubus runs an event's handlers at most once per event (a second dispatch of the same event
raises), so every operation dispatches a newly built event: its S1 and S2 include building a
pydantic event with a uuid7 id. Defaults are kept (serial handlers, history of 50 events).
"""

from __future__ import annotations

from typing import Any

from bubus import BaseEvent, EventBus

from .._core import Bench, Contender, Kit


class BenchEvent(BaseEvent[None]):
    n: int = 1


class OrderCreated(BaseEvent[None]):
    order_id: str
    amount: int
    currency: str


def _bench(handlers: list[Any], event_class: type[BaseEvent[None]], build: Any, call: str) -> Bench:
    bus = EventBus()
    for handler in handlers:
        bus.on(event_class, handler)
    dispatch = bus.dispatch

    async def run(n: int) -> None:
        for _ in range(n):
            await dispatch(build())

    async def close() -> None:
        await bus.stop(clear=True)

    return Bench(run, "asyncio", call=call, close=close)


def _sync(count: int) -> Any:
    def factory(kit: Kit) -> Bench:
        handlers = [kit.handler(f"h{i}") for i in range(count)]
        return _bench(handlers, BenchEvent, BenchEvent, "await bus.dispatch(BenchEvent())")

    return factory


def _async(count: int, *, sleep: bool) -> Any:
    def factory(kit: Kit) -> Bench:
        handlers = [kit.async_handler(f"h{i}", sleep=sleep) for i in range(count)]
        return _bench(handlers, BenchEvent, BenchEvent, "await bus.dispatch(BenchEvent())")

    return factory


def _order() -> OrderCreated:
    return OrderCreated(order_id="ord_1", amount=2000, currency="usd")


def _s5(kit: Kit) -> Bench:
    return _bench([kit.handler()], OrderCreated, _order, "await bus.dispatch(OrderCreated(**data))")


_ASYNCIO_ONLY = "asyncio only"
_NO_PATTERNS = "no patterns ('*' is every event)"
CONTENDERS = [
    Contender(
        "bubus",
        "bubus",
        {
            "S1": _sync(1),
            "S2": _sync(10),
            "S4 asyncio": _async(1, sleep=False),
            "S4c asyncio": _async(10, sleep=True),
            "S5": _s5,
        },
        {
            "S3": _NO_PATTERNS,
            "S3-1k": _NO_PATTERNS,
            "S3-10": _NO_PATTERNS,
            "S4 trio": _ASYNCIO_ONLY,
            "S4c trio": _ASYNCIO_ONLY,
            "S6": "no webhook ingest",
        },
    )
]
