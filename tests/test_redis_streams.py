"""RedisStreams against a real redis-server: groups, broadcast, reclaims after a crash, dead
letters, forwarding without loops, and the envelope's fields across the hop."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis
import redis.asyncio
import streams_support
from opentelemetry.sdk.trace import TracerProvider
from streams_support import Worker, counts, runs, wait_for_runs, wait_until_acknowledged

from eventbus import DuplicateHandlerNameError, Event, EventBus
from eventbus.inbox import Inbox, MemoryIdempotencyStore
from eventbus.redis import (
    AsyncioRequiredError,
    RedisIdempotencyStore,
    RedisStreams,
    StreamDelivery,
)

pytestmark = pytest.mark.anyio
WAIT = 30.0
client = streams_support.client
workers = streams_support.workers


@pytest.fixture
def anyio_backend() -> str:
    """RedisStreams runs on asyncio only (the trio refusal has its own test)."""
    return "asyncio"


class Reports:
    """Collects what a consumer reports, and waits for what a test expects."""

    def __init__(self) -> None:
        self.items: list[StreamDelivery] = []
        self._changed = anyio.Event()

    def __call__(self, delivery: StreamDelivery) -> None:
        self.items.append(delivery)
        self._changed.set()

    async def wait(self, done: Callable[[list[StreamDelivery]], bool]) -> list[StreamDelivery]:
        with anyio.fail_after(WAIT):
            while not done(self.items):
                self._changed = anyio.Event()
                await self._changed.wait()
        return self.items

    async def outcomes(self, count: int) -> list[str]:
        await self.wait(lambda items: len(items) >= count)
        return [item.outcome for item in self.items]


@pytest.fixture
async def streams_factory(redis_url: str) -> AsyncIterator[Callable[..., RedisStreams]]:
    """Make RedisStreams on the test Redis (stream ``orders`` unless told otherwise), closed
    after the test."""
    made: list[RedisStreams] = []

    def make(bus: EventBus, **options: Any) -> RedisStreams:
        options.setdefault("stream", "orders")
        made.append(RedisStreams(bus, redis_url, **options))
        return made[-1]

    yield make
    for streams in made:
        await streams.aclose()


# -- one process ------------------------------------------------------------------------


async def test_events_published_before_the_group_existed_are_handled(
    streams_factory: Callable[..., RedisStreams], client: redis.Redis
) -> None:
    """The group starts at the oldest entry: nothing published before a consumer is lost."""
    bus, seen, reports = EventBus(), [], Reports()
    bus.subscribe("order.*", lambda event: seen.append(event.data["n"]), name="seen")
    streams = streams_factory(bus)
    entry_ids = [await streams.publish("order.placed", {"n": n}) for n in range(3)]
    async with streams.consuming(on_delivery=reports):
        assert await reports.outcomes(3) == ["handled"] * 3
    assert sorted(seen) == [0, 1, 2]
    assert sorted(r.entry_id for r in reports.items) == entry_ids
    assert client.xpending("orders", "default")["pending"] == 0


async def test_one_consumer_keeps_publish_order_with_concurrency_one(
    streams_factory: Callable[..., RedisStreams],
) -> None:
    """One stream keeps publish order; a consumer handling one entry at a time sees it."""
    bus, seen, reports = EventBus(), [], Reports()
    bus.subscribe("order.*", lambda event: seen.append(event.data["n"]), name="seen")
    streams = streams_factory(bus, concurrency=1)
    for n in range(20):
        streams.publish_sync("order.placed", {"n": n})
    async with streams.consuming(on_delivery=reports):
        await reports.outcomes(20)
    assert seen == list(range(20))


async def test_two_groups_each_get_every_event(
    streams_factory: Callable[..., RedisStreams],
) -> None:
    """Two services (groups) on one stream: each handles every event once."""
    billing, shipping = EventBus(), EventBus()
    billed: list[str] = []
    shipped: list[str] = []
    billing.subscribe("order.*", lambda event: billed.append(event.id), name="bill")
    shipping.subscribe("order.*", lambda event: shipped.append(event.id), name="ship")
    billing_streams = streams_factory(billing, group="billing")
    shipping_streams = streams_factory(shipping, group="shipping")
    producer = streams_factory(EventBus())
    ids = [producer.publish_sync(Event(type="order.placed")) for _ in range(10)]
    b, s = Reports(), Reports()
    async with billing_streams.consuming(on_delivery=b), shipping_streams.consuming(on_delivery=s):
        assert await b.outcomes(10) == ["handled"] * 10
        assert await s.outcomes(10) == ["handled"] * 10
    assert len(set(billed)) == len(billed) == 10
    assert sorted(billed) == sorted(shipped)
    assert len(ids) == 10


async def test_an_event_already_handled_by_the_group_is_a_duplicate(
    streams_factory: Callable[..., RedisStreams], client: redis.Redis
) -> None:
    """The same event appended twice runs its handlers once per group; both are acked."""
    bus, seen, reports = EventBus(), [], Reports()
    bus.subscribe("order.*", lambda event: seen.append(event.id), name="seen")
    streams = streams_factory(bus, concurrency=1)
    event = Event(type="order.placed")
    streams.publish_sync(event)
    streams.publish_sync(event)
    async with streams.consuming(on_delivery=reports):
        assert await reports.outcomes(2) == ["handled", "duplicate"]
    assert seen == [event.id]
    assert client.xpending("orders", "default")["pending"] == 0


async def test_a_failing_handler_ends_in_the_dead_letter_stream_without_blocking_others(
    streams_factory: Callable[..., RedisStreams], client: redis.Redis
) -> None:
    """After max_deliveries failed attempts the entry is in ``<stream>:dead`` with the
    handler's name and error, acknowledged, listed by the inbox; other events went on."""
    bus, reports = EventBus(), Reports()
    fixed = False
    handled: list[str] = []

    @bus.on("order.refund", name="refunder")
    def refunder(event: Event[Any]) -> None:
        if not fixed:
            raise ConnectionError("payment provider down")
        handled.append("refund")

    bus.subscribe("order.placed", lambda event: handled.append("placed"), name="placer")
    streams = streams_factory(bus, claim_idle=0.3, max_deliveries=3, concurrency=1)
    bad = streams.publish_sync(Event(id="evt_refund", type="order.refund"))
    for _ in range(3):
        streams.publish_sync("order.placed")
    async with streams.consuming(on_delivery=reports):
        await reports.wait(lambda items: len(items) == 6)
    outcomes = [(r.entry_id == bad, r.outcome) for r in reports.items]
    assert [o for o in outcomes if o[0]] == [(True, "failed")] * 2 + [(True, "dead_letter")]
    assert outcomes[1] == (False, "handled")  # not stuck behind the failing entry
    assert handled == ["placed"] * 3
    [(_, fields)] = client.xrange("orders:dead")
    assert fields[b"handlers"] == b"refunder"
    assert json.loads(fields[b"errors"]) == {"refunder": "ConnectionError: payment provider down"}
    assert fields[b"entry_id"].decode() == bad
    assert fields[b"attempts"] == b"3"
    assert json.loads(fields[b"event"])["id"] == "evt_refund"
    assert client.xpending("orders", "default")["pending"] == 0
    [letter] = streams.inbox.dead_letters()
    assert letter.event_id == "evt_refund"
    assert letter.failed == {"refunder": "ConnectionError: payment provider down"}
    fixed = True
    assert (await streams.inbox.retry_dead_letter("evt_refund")).status == "handled"
    assert handled[-1] == "refund"


async def test_an_entry_that_is_no_event_is_dead_lettered_and_acknowledged(
    streams_factory: Callable[..., RedisStreams], client: redis.Redis
) -> None:
    """Bad JSON in the stream goes to the dead letters under eventbus.redis.parse."""
    bus, reports = EventBus(), Reports()
    streams = streams_factory(bus)
    client.xadd("orders", {"event": b"{not json"})
    client.xadd("orders", {"other": b"field"})
    async with streams.consuming(on_delivery=reports):
        assert await reports.outcomes(2) == ["malformed", "malformed"]
    assert reports.items[0].event is None
    assert "not valid JSON" in (reports.items[0].error or "")
    dead = client.xrange("orders:dead")
    assert [fields[b"handlers"] for _, fields in dead] == [b"eventbus.redis.parse"] * 2
    assert {fields[b"event"] for _, fields in dead} == {b"{not json", b""}
    assert client.xpending("orders", "default")["pending"] == 0


async def test_up_to_concurrency_entries_are_handled_at_once(
    streams_factory: Callable[..., RedisStreams],
) -> None:
    """With concurrency=2, a third entry waits until one of the first two is done."""
    bus, reports = EventBus(), Reports()
    active: list[str] = []
    release = anyio.Event()

    @bus.on("order.*", name="slow")
    async def slow(event: Event[Any]) -> None:
        active.append(event.id)
        await release.wait()

    streams = streams_factory(bus, concurrency=2)
    for _ in range(5):
        await streams.publish("order.placed")
    async with streams.consuming(on_delivery=reports):
        with anyio.fail_after(WAIT):
            while len(active) < 2:
                await anyio.sleep(0.01)
        await anyio.sleep(0.3)  # room for a wrong third start
        assert len(active) == 2
        release.set()
        assert await reports.outcomes(5) == ["handled"] * 5


async def test_a_consumer_keeps_its_entry_while_a_handler_runs_long(
    streams_factory: Callable[..., RedisStreams], client: redis.Redis
) -> None:
    """A handler running several claim_idle periods is not taken over by another consumer:
    the keep-alive re-claims it; it runs once and was delivered once."""
    bus, reports = EventBus(), Reports()
    starts: list[str] = []

    @bus.on("order.*", name="slow")
    async def slow(event: Event[Any]) -> None:
        starts.append(event.id)
        await anyio.sleep(2.0)  # four claim_idle periods

    first = streams_factory(bus, consumer="first", claim_idle=0.5)
    other = streams_factory(EventBus(), consumer="other", claim_idle=0.5)
    other_reports = Reports()
    await first.publish("order.placed")
    async with first.consuming(on_delivery=reports):
        with anyio.fail_after(WAIT):
            while not starts:
                await anyio.sleep(0.01)
        async with other.consuming(on_delivery=other_reports):
            assert await reports.outcomes(1) == ["handled"]
    assert len(starts) == 1
    assert other_reports.items == []
    assert client.xpending("orders", "default")["pending"] == 0


async def test_a_copy_of_an_event_in_progress_waits_for_the_long_handler(
    streams_factory: Callable[..., RedisStreams], client: redis.Redis
) -> None:
    """The event is appended twice (a producer's retry). While the first consumer's handler
    runs for three claim_idle periods (past the inbox's lease, which defaults to claim_idle),
    the other consumer reads the copy and reclaims it every claim_idle: the keep-alive
    extends the inbox lease too, so it finds it in_flight each time, never runs the handler,
    and the copy is acknowledged as a duplicate once the first is handled."""
    starts: list[str] = []
    bus, other_bus, reports = EventBus(), EventBus(), Reports()

    @bus.on("order.*", name="slow")
    async def slow(event: Event[Any]) -> None:
        starts.append(event.id)
        await anyio.sleep(1.5)

    other_bus.subscribe("order.*", lambda event: starts.append(event.id), name="slow")
    first = streams_factory(bus, consumer="first", claim_idle=0.5, concurrency=1)
    other = streams_factory(other_bus, consumer="other", claim_idle=0.5)
    event = Event(id="evt_copy", type="order.placed")
    await first.publish(event)
    async with first.consuming(on_delivery=reports):
        with anyio.fail_after(WAIT):
            while not starts:
                await anyio.sleep(0.01)
        await other.publish(event)
        async with other.consuming(on_delivery=reports):
            await reports.wait(lambda items: len(acknowledged(items)) == 2)
    assert sorted(acknowledged(reports.items)) == ["duplicate", "handled"]
    assert starts == ["evt_copy"]
    assert [item.outcome for item in reports.items].count("in_flight") >= 2
    assert client.xpending("orders", "default")["pending"] == 0


def acknowledged(items: list[StreamDelivery]) -> list[str]:
    return [item.outcome for item in items if item.outcome in ("handled", "duplicate")]


async def test_stop_lets_the_deliveries_in_flight_finish(
    streams_factory: Callable[..., RedisStreams], client: redis.Redis
) -> None:
    """stop() ends reading; consume returns once the running delivery is handled and acked."""
    bus, reports = EventBus(), Reports()
    started = anyio.Event()

    @bus.on("order.*", name="slow")
    async def slow(event: Event[Any]) -> None:
        started.set()
        await anyio.sleep(0.2)

    streams = streams_factory(bus)
    streams.stop()  # not consuming: nothing to do
    await streams.publish("order.placed")
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as group:
            group.start_soon(lambda: streams.consume(on_delivery=reports))
            await started.wait()
            streams.stop()
    assert [r.outcome for r in reports.items] == ["handled"]
    assert client.xpending("orders", "default")["pending"] == 0


async def test_cancelling_leaves_the_entry_pending_for_a_later_consumer(
    streams_factory: Callable[..., RedisStreams], client: redis.Redis
) -> None:
    """Leaving consuming() mid-handler interrupts it; the entry stays pending, and after
    claim_idle another consumer handles it."""
    bus, reports = EventBus(), Reports()
    started = anyio.Event()
    hang = True

    @bus.on("order.*", name="slow")
    async def slow(event: Event[Any]) -> None:
        started.set()
        if hang:
            await anyio.sleep(3600)

    first = streams_factory(bus, consumer="first", claim_idle=0.2)
    await first.publish("order.placed")
    async with first.consuming():
        await started.wait()
    assert client.xpending("orders", "default")["pending"] == 1
    hang = False
    second = streams_factory(bus, consumer="second", claim_idle=0.2)
    async with second.consuming(on_delivery=reports):
        assert await reports.outcomes(1) == ["handled"]
    assert client.xpending("orders", "default")["pending"] == 0


async def test_reading_survives_the_stream_being_deleted(
    streams_factory: Callable[..., RedisStreams], client: redis.Redis
) -> None:
    """A deleted stream (and group) is recreated once reading fails; later events arrive."""
    bus, reports = EventBus(), Reports()
    bus.subscribe("order.*", lambda event: None, name="noop")
    streams = streams_factory(bus, claim_idle=0.2)
    async with streams.consuming(on_delivery=reports):
        client.delete("orders")
        with anyio.fail_after(WAIT):
            while not client.exists("orders"):
                await anyio.sleep(0.05)
        await streams.publish("order.placed")
        assert await reports.outcomes(1) == ["handled"]


async def test_an_unreachable_store_leaves_the_entry_pending(
    streams_factory: Callable[..., RedisStreams], client: redis.Redis
) -> None:
    """When the inbox fails (here its store's Redis is unreachable), the outcome is an
    ``error`` and the entry stays pending for a retry."""
    bus, reports = EventBus(), Reports()
    bus.subscribe("order.*", lambda event: None, name="noop")
    unreachable = RedisIdempotencyStore("redis://127.0.0.1:1/0")
    streams = streams_factory(bus, inbox=Inbox(bus, unreachable))
    await streams.publish("order.placed")
    async with streams.consuming(on_delivery=reports):
        assert await reports.outcomes(1) == ["error"]
    assert "ConnectionError" in (reports.items[0].error or "")
    assert client.xpending("orders", "default")["pending"] == 1


async def test_a_failing_on_delivery_callback_is_logged(
    streams_factory: Callable[..., RedisStreams], caplog: pytest.LogCaptureFixture
) -> None:
    """The callback's error is logged; consuming carries on."""
    bus, reports = EventBus(), Reports()

    def broken(delivery: StreamDelivery) -> None:
        reports(delivery)
        raise RuntimeError("callback bug")

    bus.subscribe("order.*", lambda event: None, name="noop")
    streams = streams_factory(bus)
    await streams.publish("order.placed")
    await streams.publish("order.placed")
    async with streams.consuming(on_delivery=broken):
        assert await reports.outcomes(2) == ["handled", "handled"]
    assert "on_delivery failed" in caplog.text


async def test_maxlen_trims_the_stream_approximately(
    streams_factory: Callable[..., RedisStreams], client: redis.Redis
) -> None:
    """maxlen keeps the stream near that length (and drops unread entries)."""
    streams = streams_factory(EventBus(), maxlen=10)
    for _ in range(300):
        await streams.publish("order.placed")
    assert client.xlen("orders") < 300


async def test_enqueue_appends_each_event_id_once(
    streams_factory: Callable[..., RedisStreams], client: redis.Redis
) -> None:
    """enqueue (async and sync, concurrent copies too) appends an event id once, and
    remembers it for the inbox store's ttl."""
    streams = streams_factory(EventBus())
    event = Event(id="evt_once", type="order.placed")
    results: list[str | None] = []

    async def copy() -> None:
        results.append(await streams.enqueue(event))

    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(copy)
    assert streams.enqueue_sync(event) is None
    [entry_id] = [r for r in results if r is not None]
    assert results.count(None) == 19
    assert client.xrange("orders")[0][0].decode() == entry_id
    assert client.xlen("orders") == 1
    ttl_ms = client.pttl("orders:queued:evt_once")
    assert 0 < ttl_ms <= round(streams.inbox.store.ttl * 1000)  # type: ignore[union-attr]
    assert ttl_ms > 6 * 24 * 3600 * 1000
    assert streams.enqueue_sync(Event(type="order.placed")) is not None


async def test_enqueue_trims_with_maxlen(
    streams_factory: Callable[..., RedisStreams], client: redis.Redis
) -> None:
    """enqueue honours maxlen like publish does."""
    streams = streams_factory(EventBus(), maxlen=10)
    for _ in range(300):
        await streams.enqueue(Event(type="order.placed"))
    assert client.xlen("orders") < 300


async def test_a_burst_of_concurrent_publishes_waits_for_connections(
    streams_factory: Callable[..., RedisStreams], client: redis.Redis
) -> None:
    """300 publishes at once (a webhook burst) queue for the pool's connections instead of
    failing with "Too many connections"."""
    streams = streams_factory(EventBus())
    async with anyio.create_task_group() as group:
        for _ in range(300):
            group.start_soon(streams.publish, "order.placed")
    assert client.xlen("orders") == 300


# -- forwarding, parents, fields --------------------------------------------------------


async def test_forward_appends_local_publishes_and_never_loops(
    streams_factory: Callable[..., RedisStreams], client: redis.Redis
) -> None:
    """A worker bus that both forwards and consumes never appends what it consumed again;
    the event its handler publishes locally is forwarded, with the consumed one as parent."""
    web, worker, reports = EventBus(), EventBus(), Reports()
    children: list[Event[Any]] = []

    @worker.on("order.placed", name="placed")
    async def placed(event: Event[Any]) -> None:
        await worker.publish_async("order.confirmed", {"for": event.id})

    worker.subscribe("order.confirmed", children.append, name="confirmed")
    web_streams, worker_streams = streams_factory(web), streams_factory(worker)
    subscription = web_streams.forward()
    assert subscription.name == "eventbus.redis.forward"
    with pytest.raises(DuplicateHandlerNameError):
        web_streams.forward()
    worker_streams.forward("order.*")
    parent = Event(type="order.placed")
    async with worker_streams.consuming(on_delivery=reports):
        await web.publish_async(parent)
        await reports.wait(lambda items: len(items) >= 2)
        await anyio.sleep(0.2)  # room for a wrong third append
    entries = [json.loads(fields[b"event"]) for _, fields in client.xrange("orders")]
    assert [e["type"] for e in entries] == ["order.placed", "order.confirmed"]
    assert entries[1]["parent_id"] == parent.id
    assert [c.parent_id for c in children] == [parent.id, parent.id]  # local, then consumed
    subscription.unsubscribe()
    await web.publish_async("order.placed")
    assert client.xlen("orders") == 2


async def test_forward_on_an_async_client_appends_from_async_handlers(
    redis_url: str, client: redis.Redis
) -> None:
    """Built on a redis.asyncio client, forward is an async handler; publish_sync refuses."""
    bus = EventBus()
    async_client = redis.asyncio.Redis.from_url(redis_url)
    streams = RedisStreams(bus, async_client, stream="orders", inbox=Inbox(bus))
    streams.forward()
    await bus.publish_async("order.placed")
    assert client.xlen("orders") == 1
    with pytest.raises(TypeError, match=r"redis\.asyncio client"):
        streams.publish_sync("order.placed")
    with pytest.raises(TypeError, match=r"redis\.asyncio client"):
        streams.enqueue_sync(Event(type="order.placed"))
    await async_client.aclose()


async def test_a_publish_from_a_handler_of_a_consumed_event_carries_its_parent_id(
    streams_factory: Callable[..., RedisStreams],
) -> None:
    """streams.publish inside a handler makes an event whose parent_id is the handled one."""
    bus, reports = EventBus(), Reports()
    streams = streams_factory(bus)

    @bus.on("order.placed", name="placed")
    async def placed(event: Event[Any]) -> None:
        await streams.publish("order.invoiced")

    bus.subscribe("order.invoiced", lambda event: None, name="invoiced")
    streams.publish_sync("order.placed")
    async with streams.consuming(on_delivery=reports):
        items = await reports.wait(lambda items: len(items) >= 2)
    by_type = {item.event.type: item.event for item in items if item.event}
    parent_id = by_type["order.placed"].id
    assert by_type["order.invoiced"].parent_id == parent_id


async def test_extra_fields_and_traceparent_survive_the_hop(
    streams_factory: Callable[..., RedisStreams],
) -> None:
    """Fields the envelope does not declare (traceparent among them) arrive as sent; with a
    current OpenTelemetry span, the span's traceparent replaces the event's own."""
    bus, reports = EventBus(), Reports()
    bus.subscribe("order.*", lambda event: None, name="noop")
    streams = streams_factory(bus, concurrency=1)
    own = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    plain = Event(type="order.placed", traceparent=own, tenant="acme", data={"n": 1})
    await streams.publish(plain)
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("producer") as span:
        traced_id = streams.publish_sync(Event(type="order.placed", traceparent=own))
        context = span.get_span_context()
    async with streams.consuming(on_delivery=reports):
        first, traced = await reports.wait(lambda items: len(items) >= 2)
    assert first.event is not None
    assert traced.event is not None
    assert first.event.model_extra == {"traceparent": own, "tenant": "acme"}
    assert first.event.model_dump() == plain.model_dump()
    assert traced.entry_id == traced_id
    expected = f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    assert (traced.event.model_extra or {})["traceparent"] == expected


# -- how it is called -------------------------------------------------------------------


def test_under_trio_a_clear_error_says_asyncio_is_needed(redis_url: str) -> None:
    """The redis client is asyncio-only: publish and consume refuse trio by name."""
    streams = RedisStreams(EventBus(), redis_url)
    with pytest.raises(AsyncioRequiredError, match="needs asyncio") as info:
        anyio.run(streams.publish, "order.placed", backend="trio")
    assert info.value.backend == "trio"
    with pytest.raises(AsyncioRequiredError):
        anyio.run(streams.consume, backend="trio")

    async def block() -> None:
        async with streams.consuming():
            pass  # pragma: no cover - never entered

    with pytest.raises(AsyncioRequiredError):
        anyio.run(block, backend="trio")
    streams.close()


async def test_calling_mistakes_are_refused(
    redis_url: str, streams_factory: Callable[..., RedisStreams]
) -> None:
    """Bad arguments and a second consume raise errors that say what to do."""
    bus = EventBus()
    for bad in ({"claim_idle": 0}, {"max_deliveries": 0}, {"concurrency": 0}, {"maxlen": 0}):
        with pytest.raises(ValueError, match="must be positive"):
            RedisStreams(bus, redis_url, **bad)
    with pytest.raises(TypeError, match="redis:// URL"):
        RedisStreams(bus, 6379)  # type: ignore[arg-type]
    streams = streams_factory(bus)
    with pytest.raises(TypeError, match="Event or a type string"):
        streams.publish_sync(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="only used with a type string"):
        streams.publish_sync(Event(type="order.placed"), {"n": 1})
    assert repr(streams) == (
        f"RedisStreams(stream='orders', group='default', consumer='{streams.consumer}')"
    )
    async with streams.consuming():
        with pytest.raises(RuntimeError, match="consuming already"):
            await streams.consume()


async def test_a_key_that_is_no_stream_fails_consume_at_once(
    streams_factory: Callable[..., RedisStreams], client: redis.Redis
) -> None:
    """A stream key holding another type is Redis's WRONGTYPE error before reading starts."""
    client.set("orders", "not a stream")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        await streams_factory(EventBus()).consume()


async def test_a_sync_client_publishes_but_cannot_consume(redis_url: str) -> None:
    """On a redis.Redis, publish runs in a worker thread; consuming says it needs async."""
    bus = EventBus()
    with redis.Redis.from_url(redis_url) as sync_client:
        streams = RedisStreams(bus, sync_client, stream="orders", inbox=Inbox(bus))
        entry_id = await streams.publish("order.placed")
        assert sync_client.xrange("orders")[0][0].decode() == entry_id
        assert await streams.enqueue(Event(type="order.placed")) is not None
        with pytest.raises(TypeError, match="needs an async client"):
            await streams.consume()


async def test_the_default_inbox_is_keyed_by_stream_and_group(
    streams_factory: Callable[..., RedisStreams], client: redis.Redis
) -> None:
    """Group mode: the Redis store under ``<stream>:<group>``, max_attempts=max_deliveries;
    broadcast: this process's memory."""
    grouped = streams_factory(EventBus(), group="billing", max_deliveries=4, claim_idle=5)
    assert grouped.inbox.max_attempts == 4
    assert grouped.inbox.store.prefix == "orders:billing"  # type: ignore[union-attr]
    assert grouped.inbox.store.lease == 5  # type: ignore[union-attr]
    assert grouped.dead_letter_stream == "orders:dead"
    broadcast = streams_factory(EventBus(), group=None)
    assert isinstance(broadcast.inbox.store, MemoryIdempotencyStore)


# -- many processes ---------------------------------------------------------------------


def test_two_worker_processes_in_one_group_run_each_handler_exactly_once(
    redis_url: str, client: redis.Redis, tmp_path: Path, workers: list[Worker]
) -> None:
    """1,000 events published from a third process: each handler ran once across the two
    workers, both took part, every entry was acknowledged, and both stop with status 0."""
    for name in ("w1", "w2"):
        workers.append(Worker(redis_url, tmp_path, name, "streams_app:streams").started())
    publisher = (
        "import sys; from eventbus import EventBus; from eventbus.redis import RedisStreams;"
        "s = RedisStreams(EventBus(), sys.argv[1], stream='orders');"
        "[s.publish_sync('order.placed', {'n': n}) for n in range(1000)]"
    )
    subprocess.run([sys.executable, "-c", publisher, redis_url], check=True, timeout=120)
    wait_until_acknowledged(client, "orders", "default")
    done = runs(client)
    assert len(done) == 2000
    ran = counts(done)
    assert set(ran.values()) == {1}
    assert {handler for handler, _ in ran} == {"ledger", "mailer"}
    assert len({event_id for _, event_id in ran}) == 1000
    assert {consumer for *_, consumer in done} == {"w1", "w2"}
    assert [worker.terminate() for worker in workers] == [0, 0]


def test_a_worker_killed_mid_handler_is_taken_over_after_claim_idle(
    redis_url: str, client: redis.Redis, tmp_path: Path, workers: list[Worker]
) -> None:
    """Two workers run. The one that gets the entry runs ledger, then hangs in mailer and is
    killed with SIGKILL before its attempt settles. The other one reclaims the entry after
    claim_idle and runs only mailer (ledger ran once); it is acked."""
    for name in ("w1", "w2"):
        workers.append(Worker(redis_url, tmp_path, name, "streams_app:streams").started())
    client.set("mailer-mode", "hang")
    producer = RedisStreams(EventBus(), redis_url, stream="orders")
    producer.publish_sync(Event(id="evt_crash", type="order.placed"))
    producer.close()
    while not any(run[0] == "hanging" for run in runs(client)):
        wait_for_runs(client, client.llen("runs") + 1)
    [hung] = [consumer for handler, _, consumer in runs(client) if handler == "hanging"]
    killed = next(worker for worker in workers if worker.output.stem == hung)
    killed.process.kill()
    killed.process.wait()
    client.delete("mailer-mode")
    wait_until_acknowledged(client, "orders", "default")
    ran = runs(client)
    survivor = next(worker for worker in workers if worker is not killed)
    assert [handler for handler, *_ in ran].count("ledger") == 1
    assert [handler for handler, *_ in ran].count("mailer") == 1
    assert ran[-1] == ["mailer", "evt_crash", survivor.output.stem]
    assert " handled " in survivor.text()
    assert survivor.terminate() == 0


def test_broadcast_reaches_every_process(
    redis_url: str, client: redis.Redis, tmp_path: Path, workers: list[Worker]
) -> None:
    """group=None: each of two worker processes handles every event once."""
    for name in ("b1", "b2"):
        workers.append(Worker(redis_url, tmp_path, name, "streams_app:broadcast").started())
    producer = RedisStreams(EventBus(), redis_url, stream="orders")
    ids = {producer.publish_sync(Event(type="order.placed")) for _ in range(5)}
    producer.close()
    done = wait_for_runs(client, 20)  # 5 events x 2 handlers x 2 processes
    assert len(ids) == 5
    per_process = counts([[h, f"{e}/{c}", c] for h, e, c in done])
    assert len(per_process) == 20
    assert set(per_process.values()) == {1}
    assert "broadcast" in workers[0].text()
    assert [worker.terminate() for worker in workers] == [0, 0]


async def test_a_dead_letter_recorded_before_a_crash_still_reaches_the_dead_stream(
    streams_factory: Callable[..., RedisStreams], client: redis.Redis
) -> None:
    """A consumer read the entry and its inbox gave the event up, then it died before the
    XADD to ``<stream>:dead``: the consumer that reclaims the entry gets ``dead_letter``
    with nothing run, and appends it from the inbox's record before acknowledging it."""
    bus, reports = EventBus(), Reports()

    @bus.on("order.refund", name="refunder")
    def refunder(event: Event[Any]) -> None:
        raise ConnectionError("payment provider down")

    streams = streams_factory(bus, consumer="survivor", claim_idle=0.3, max_deliveries=1)
    event = Event(id="evt_crashed", type="order.refund")
    await streams.publish(event)
    client.xgroup_create("orders", "default", id="0")
    client.xreadgroup("default", "crashed", {"orders": ">"})  # the dead consumer's entry
    assert (await streams.inbox.deliver(event)).status == "dead_letter"  # then it died
    async with streams.consuming(on_delivery=reports):
        assert await reports.outcomes(1) == ["dead_letter"]
    assert reports.items[0].delivery is not None
    assert reports.items[0].delivery.result is None
    [(_, fields)] = client.xrange("orders:dead")
    assert json.loads(fields[b"errors"]) == {"refunder": "ConnectionError: payment provider down"}
    assert fields[b"attempts"] == b"1"
    assert json.loads(fields[b"event"])["id"] == "evt_crashed"
    assert client.xpending("orders", "default")["pending"] == 0


async def test_the_dead_stream_cuts_errors_as_the_inbox_record_does(
    streams_factory: Callable[..., RedisStreams], client: redis.Redis
) -> None:
    """A handler's huge error is cut the same way in ``<stream>:dead`` and in the inbox's
    dead letter (2,000 characters), so the two records agree."""
    bus, reports = EventBus(), Reports()

    @bus.on("order.refund", name="refunder")
    def refunder(event: Event[Any]) -> None:
        raise ValueError("x" * 5000)

    streams = streams_factory(bus, max_deliveries=1)
    await streams.publish(Event(id="evt_long", type="order.refund"))
    async with streams.consuming(on_delivery=reports):
        assert await reports.outcomes(1) == ["dead_letter"]
    [(_, fields)] = client.xrange("orders:dead")
    [letter] = await streams.inbox.dead_letters_async()
    assert json.loads(fields[b"errors"]) == letter.failed
    assert 100 < len(letter.failed["refunder"]) <= 2000


async def test_a_reclaim_finding_the_event_in_flight_leaves_the_entry_pending(
    streams_factory: Callable[..., RedisStreams], client: redis.Redis, redis_url: str
) -> None:
    """Another delivery holds the inbox lease (claimed from outside with the store's
    claim): the consumer that reclaims the idle entry gets ``in_flight``, runs nothing and
    leaves the entry pending, unacknowledged; once the holder lets go, a later reclaim
    handles it."""
    bus, reports, ran = EventBus(), Reports(), []
    bus.subscribe("order.*", lambda event: ran.append(event.id), name="placer")
    store = RedisIdempotencyStore(redis_url, prefix="held", lease=60.0)
    streams = streams_factory(
        bus, consumer="survivor", claim_idle=0.3, inbox=Inbox(bus, store)
    )
    await streams.publish(Event(id="evt_held", type="order.placed"))
    client.xgroup_create("orders", "default", id="0")
    client.xreadgroup("default", "stalled", {"orders": ">"})
    holder = store.claim("evt_held", handlers={"placer"})
    assert holder.status == "claimed"
    async with streams.consuming(on_delivery=reports):
        assert await reports.outcomes(1) == ["in_flight"]
        [pending] = client.xpending_range("orders", "default", "-", "+", 10)
        assert (pending["consumer"], ran) == (b"survivor", [])
        store.settle(holder, completed=(), failed={"placer": "RuntimeError: stalled"})
        await reports.wait(lambda items: items[-1].outcome == "handled")
    assert {r.outcome for r in reports.items} == {"in_flight", "handled"}
    assert ran == ["evt_held"]
    assert client.xpending("orders", "default")["pending"] == 0
    store.close()
    await store.aclose()
