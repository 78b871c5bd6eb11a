"""A short tour of the bus: exact, wildcard and catch-all handlers, sync and async, a failure."""

from __future__ import annotations

import logging

import anyio

import eventbus
from eventbus import Event, EventBus

logging.basicConfig(level=logging.CRITICAL)  # the failure below is shown from the result


def main() -> None:
    bus = EventBus()

    @bus.on("customer.subscription.started")
    def welcome(event: Event) -> None:
        print(f"  exact     welcome        {event.type} {event.data['object']['id']}")

    @bus.on("customer.subscription.*", priority=10)
    def audit(event: Event) -> None:
        print(f"  wildcard  audit (prio10) {event.type}")

    @bus.on("customer.**")
    async def sync_crm(event: Event) -> None:
        await anyio.sleep(0.01)
        print(f"  async     sync_crm       {event.type}")

    @bus.on("invoice.paid")
    def flaky(event: Event) -> None:
        raise RuntimeError("mail server unreachable")

    bus.subscribe(
        lambda event: print(f"  catch-all lambda         {event.type} parent={event.parent_id}")
    )

    print("publish('customer.subscription.started') from sync code:")
    result = bus.publish("customer.subscription.started", {"object": {"id": "sub_1"}})
    print(f"  -> handled={result.handled} ok={result.ok}\n")

    print("publish_async on asyncio, then on trio:")
    for backend in ("asyncio", "trio"):
        result = anyio.run(bus.publish_async, "customer.subscription.renewed", backend=backend)
        print(f"  -> {backend}: handled={result.handled} ok={result.ok}")

    print("\na failing handler does not stop the others:")
    result = bus.publish("invoice.paid", {"object": {"id": "in_1", "amount_paid": 2000}})
    for failure in result.errors:
        print(f"  -> {failure.name} failed: {failure.exception!r}")
    try:
        result.raise_for_errors()
    except eventbus.PublishError as error:
        print(f"  -> raise_for_errors(): {error}")


if __name__ == "__main__":
    main()
