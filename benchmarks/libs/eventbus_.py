"""eventbus itself: ``EventBus.publish`` / ``publish_async``, and the webhook adapter (S6)."""

from __future__ import annotations

import importlib
import itertools
from contextlib import nullcontext
from typing import Any

from eventbus import EventBus

from .. import _payload as payload
from .._core import MANY_TYPES, S3_PUBLISHED, S3_SIZES, Bench, Contender, Kit, s3_types

#: Numbers for type names never used before in this process, across samples and benches.
_fresh = itertools.count()


def _sync(count: int, event_type: str = "bench.s1") -> Any:
    def factory(kit: Kit) -> Bench:
        bus = EventBus()
        for i in range(count):
            bus.subscribe(event_type, kit.handler(f"h{i}"))
        event = bus.build(event_type, {"n": 1})
        publish = bus.publish

        def run(n: int) -> None:
            for _ in range(n):
                publish(event)

        return Bench(run, call="bus.publish(event)")

    return factory


def _s1_middleware(kit: Kit) -> Bench:
    bus = EventBus()
    bus.subscribe("bench.s1", kit.handler())
    entered = nullcontext()
    bus.use(lambda call: entered)
    event = bus.build("bench.s1", {"n": 1})
    publish = bus.publish

    def run(n: int) -> None:
        for _ in range(n):
            publish(event)

    return Bench(run, call="bus.publish(event), bus.use(lambda call: nullcontext())")


def _s7_bus(kit: Kit) -> EventBus:
    bus = EventBus()
    for i in range(10):
        bus.subscribe(f"ns.e{i}.evt", kit.handler(f"h{i}"))
    bus.subscribe("ns.*.evt", kit.handler("star"))
    bus.subscribe("**", kit.handler("everything"))
    return bus


def _s7(kit: Kit) -> Bench:
    bus = _s7_bus(kit)
    events: list[Any] = []
    publish = bus.publish

    def prepare(n: int) -> None:
        events[:] = [bus.build(f"ns.t{next(_fresh)}.evt", {"n": 1}) for _ in range(n)]

    def run(n: int) -> None:
        for event in events[:n]:
            publish(event)

    return Bench(run, call="bus.publish(event), a new type each", prepare=prepare, batch=MANY_TYPES)


def _s7_cached(kit: Kit) -> Bench:
    bus = _s7_bus(kit)
    event = bus.build("ns.e0.evt", {"n": 1})
    publish = bus.publish

    def run(n: int) -> None:
        for _ in range(n):
            publish(event)

    return Bench(run, call="bus.publish(event)")


def _subscribe_many(kit: Kit) -> Bench:
    handler = kit.handler()
    state: dict[str, Any] = {}

    def prepare(n: int) -> None:
        state["bus"] = EventBus()
        state["types"] = [f"sub.t{next(_fresh)}" for _ in range(n)]

    def run(n: int) -> None:
        subscribe = state["bus"].subscribe
        for event_type in state["types"][:n]:
            subscribe(event_type, handler)

    def close() -> None:  # the check that every subscription was made
        made = len(state["bus"].subscriptions)
        if made != len(state["types"]):
            raise RuntimeError(f"{made} subscriptions, expected {len(state['types'])}")

    return Bench(
        run, call="bus.subscribe(type, handler)", prepare=prepare, close=close, batch=MANY_TYPES
    )


def _s3(size: int) -> Any:
    def factory(kit: Kit) -> Bench:
        bus = EventBus()
        for i, event_type in enumerate(s3_types(size)):
            bus.subscribe(event_type, kit.handler(f"h{i}"))
        bus.subscribe("ns1.*.evt", kit.handler("star"))
        bus.subscribe("ns1.**", kit.handler("double_star"))
        event = bus.build(S3_PUBLISHED, {"n": 1})
        publish = bus.publish

        def run(n: int) -> None:
            for _ in range(n):
                publish(event)

        return Bench(run, call="bus.publish(event)")

    return factory


def _async(backend: Any, count: int, *, sleep: bool) -> Any:
    def factory(kit: Kit) -> Bench:
        bus = EventBus()
        for i in range(count):
            bus.subscribe("bench.s4", kit.async_handler(f"h{i}", sleep=sleep))
        event = bus.build("bench.s4", {"n": 1})
        publish_async = bus.publish_async

        async def run(n: int) -> None:
            for _ in range(n):
                await publish_async(event)

        return Bench(run, backend, call="await bus.publish_async(event)")

    return factory


def _s5(kit: Kit) -> Bench:
    bus = EventBus()
    bus.subscribe("order.created", kit.handler())
    publish = bus.publish
    data = {"order_id": "ord_1", "amount": 2000, "currency": "usd"}

    def run(n: int) -> None:
        for _ in range(n):
            publish("order.created", data)

    return Bench(run, call='bus.publish("order.created", data)')


def _s6(kit: Kit) -> Bench:
    webhooks: Any = importlib.import_module("eventbus.webhooks")
    bus = EventBus()
    bus.subscribe(payload.EVENT_TYPE, kit.handler())
    receiver = webhooks.WebhookReceiver(bus, webhooks.StandardWebhooks(payload.SECRET))
    deliveries = payload.Deliveries()
    handle = receiver.handle

    def run(n: int) -> None:
        for body, headers in deliveries.items[:n]:
            handle(body, headers)

    def check_first() -> None:
        deliveries.prepare(1)
        body, headers = deliveries.items[0]
        response = handle(body, headers)
        if response.status != 200:
            raise RuntimeError(f"WebhookReceiver answered {response.status}: {response.body}")

    check_first()
    return Bench(run, call="receiver.handle(body, headers)", prepare=deliveries.prepare)


def _webhooks_missing() -> dict[str, str]:
    try:
        importlib.import_module("eventbus.webhooks").WebhookReceiver  # noqa: B018
    except (ImportError, AttributeError):
        return {"S6": "not available yet"}
    return {}


_MISSING = _webhooks_missing()
_BENCHES: dict[str, Any] = {
    "S1": _sync(1),
    "S2": _sync(10),
    **{scenario: _s3(size) for scenario, size in S3_SIZES.items()},
    "S4 asyncio": _async("asyncio", 1, sleep=False),
    "S4 trio": _async("trio", 1, sleep=False),
    "S4c asyncio": _async("asyncio", 10, sleep=True),
    "S4c trio": _async("trio", 10, sleep=True),
    "S1-mw": _s1_middleware,
    "S7": _s7,
    "S7-cached": _s7_cached,
    "SUB": _subscribe_many,
    "S5": _s5,
}
if not _MISSING:
    _BENCHES["S6"] = _s6

CONTENDERS = [Contender("eventbus", "eventbus", _BENCHES, _MISSING)]
