"""eventbus itself: ``EventBus.publish`` / ``publish_async``, and the webhook adapter (S6)."""

from __future__ import annotations

import importlib
from typing import Any

from eventbus import EventBus

from .. import _payload as payload
from .._core import S3_PUBLISHED, S3_SIZES, Bench, Contender, Kit, s3_types


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
    "S5": _s5,
}
if not _MISSING:
    _BENCHES["S6"] = _s6

CONTENDERS = [Contender("eventbus", "eventbus", _BENCHES, _MISSING)]
