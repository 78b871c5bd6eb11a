"""Queue mode: ``WebhookReceiver(bus, scheme, queue=streams)`` answers 202 ``queued`` once
the verified event is on the Redis stream, 200 ``duplicate`` for a copy; consumers run the
handlers. Over real HTTP (uvicorn) against the test redis-server."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
import redis
import streams_support
import webhook_vectors as v
from starlette.applications import Starlette
from starlette.routing import Route
from webhook_support import body_of, serve_asgi

from eventbus import Event, EventBus
from eventbus.inbox import MemoryIdempotencyStore
from eventbus.redis import RedisStreams, StreamDelivery
from eventbus.webhooks import StandardWebhooks, WebhookReceiver

SCHEME = StandardWebhooks(v.SW2_SECRET_NEW)
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
client = streams_support.client


def signed(body: bytes, msg_id: str = "msg_1") -> dict[str, str]:
    return {"content-type": "application/json", **SCHEME.sign(body, msg_id=msg_id)}


def counting_bus(runs: Counter[str]) -> EventBus:
    """A bus whose ledger (sync) and mailer (async) handlers count their runs."""
    bus = EventBus()
    bus.subscribe("invoice.paid", lambda event: runs.update(["ledger"]), name="ledger")

    async def mailer(event: Event[Any]) -> None:
        runs.update(["mailer"])

    bus.subscribe("invoice.paid", mailer, name="mailer")
    return bus


def app_for(receiver: WebhookReceiver, streams: RedisStreams) -> Starlette:
    """The receiver mounted in a Starlette app that closes the streams when it stops."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await streams.aclose()

    routes = [Route("/webhook", receiver.asgi_app(), methods=["POST"])]
    return Starlette(routes=routes, lifespan=lifespan)


async def consume(bus: EventBus, redis_url: str, count: int) -> list[StreamDelivery]:
    """Run a consumer of the ``hooks`` stream until it dealt with ``count`` entries."""
    seen: list[StreamDelivery] = []
    worker = RedisStreams(bus, redis_url, stream="hooks")
    async with worker.consuming(on_delivery=seen.append):
        with anyio.fail_after(30):
            while len(seen) < count:
                await anyio.sleep(0.01)
    await worker.aclose()
    return seen


def test_200_concurrent_copies_over_http_give_one_entry_and_one_run_each(
    redis_url: str, client: redis.Redis
) -> None:
    """200 concurrent copies of one signed delivery: every answer 2xx (one 202 queued, the
    rest 200 duplicate), one stream entry, no handler run in the request; a consumer then
    runs each handler once, with the traceparent header carried on the event."""
    runs: Counter[str] = Counter()
    bus = counting_bus(runs)
    streams = RedisStreams(bus, redis_url, stream="hooks")
    receiver = WebhookReceiver(bus, SCHEME, queue=streams)
    body = body_of(event_id="evt_queued")
    headers = {**signed(body), "traceparent": TRACEPARENT}

    async def post_copies(url: str) -> list[httpx.Response]:
        answers: list[httpx.Response] = []
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(limits=limits, timeout=60) as http:

            async def post() -> None:
                answers.append(await http.post(url, content=body, headers=headers))

            async with anyio.create_task_group() as group:
                for _ in range(200):
                    group.start_soon(post)
        return answers

    with serve_asgi(app_for(receiver, streams)) as base:
        answers = anyio.run(post_copies, base + "/webhook")
    outcomes = Counter((a.status_code, a.json()["outcome"]) for a in answers)
    assert outcomes == {(202, "queued"): 1, (200, "duplicate"): 199}
    [queued] = [a.json() for a in answers if a.status_code == 202]
    assert queued == {"ok": True, "outcome": "queued", "event_id": "evt_queued", "error": None}
    assert client.xlen("hooks") == 1
    assert runs == {}
    [delivery] = anyio.run(consume, bus, redis_url, 1)
    assert delivery.outcome == "handled"
    assert runs == {"ledger": 1, "mailer": 1}
    assert delivery.event is not None
    assert (delivery.event.model_extra or {})["traceparent"] == TRACEPARENT


def test_the_sync_entry_point_queues_with_the_sync_client(redis_url: str) -> None:
    """handle() (Flask, Django) queues too: 202, then 200 duplicate for the sender's retry;
    a copy is remembered after the consumer handled it."""
    runs: Counter[str] = Counter()
    bus = counting_bus(runs)
    streams = RedisStreams(bus, redis_url, stream="hooks")
    receiver = WebhookReceiver(bus, SCHEME, queue=streams)
    body = body_of(event_id="evt_sync")
    first = receiver.handle(body, signed(body))
    assert (first.status, first.body["outcome"]) == (202, "queued")
    retry = receiver.handle(body, signed(body, "msg_2"))
    assert (retry.status, retry.body["outcome"]) == (200, "duplicate")
    assert [d.outcome for d in anyio.run(consume, bus, redis_url, 1)] == ["handled"]
    again = receiver.handle(body, signed(body, "msg_3"))
    assert (again.status, again.body["outcome"]) == (200, "duplicate")
    assert runs == {"ledger": 1, "mailer": 1}
    streams.close()


def test_refusals_are_answered_before_anything_is_queued(
    redis_url: str, client: redis.Redis
) -> None:
    """A bad signature (401) or an ignored type (200 ignored) never reaches the stream."""
    bus = EventBus()
    streams = RedisStreams(bus, redis_url, stream="hooks")
    receiver = WebhookReceiver(bus, SCHEME, queue=streams, enabled_events=["invoice.*"])
    body = body_of(event_id="evt_bad")
    forged = {**signed(body), "webhook-signature": "v1,AAAA"}
    assert receiver.handle(body, forged).status == 401
    other = body_of(event_id="evt_other", event_type="refund.succeeded")
    assert receiver.handle(other, signed(other)).body["outcome"] == "ignored"
    assert client.exists("hooks") == 0
    streams.close()


def test_queue_and_idempotency_together_are_refused(redis_url: str) -> None:
    """The queue's inbox is the store: queue= with idempotency= or max_attempts= raises
    TypeError saying so."""
    bus = EventBus()
    streams = RedisStreams(bus, redis_url, stream="hooks")
    with pytest.raises(TypeError, match="queue"):
        WebhookReceiver(bus, SCHEME, queue=streams, idempotency=MemoryIdempotencyStore())
    with pytest.raises(TypeError, match="max_deliveries"):
        WebhookReceiver(bus, SCHEME, queue=streams, max_attempts=3)
    streams.close()


def test_a_failed_append_leaves_no_marker_so_the_retry_is_queued(
    redis_url: str, client: redis.Redis
) -> None:
    """The stream key holds another type: the append fails (500) and remembers nothing, so
    the sender's retry, once the key is fixed, is queued (202) instead of a 200 duplicate
    with nothing on the stream."""
    bus = EventBus()
    streams = RedisStreams(bus, redis_url, stream="hooks")
    receiver = WebhookReceiver(bus, SCHEME, queue=streams)
    body = body_of(event_id="evt_lost")
    client.set("hooks", "not a stream")
    assert receiver.handle(body, signed(body)).status == 500
    assert client.keys("hooks:queued:*") == []
    client.delete("hooks")
    retry = receiver.handle(body, signed(body, "msg_2"))
    assert (retry.status, retry.body["outcome"]) == (202, "queued")
    assert client.xlen("hooks") == 1
    streams.close()


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
async def test_a_failed_async_append_leaves_no_marker(
    redis_url: str, client: redis.Redis
) -> None:
    """The same from async code (await streams.enqueue): the error is raised, the retry
    appends."""
    streams = RedisStreams(EventBus(), redis_url, stream="hooks")
    event = Event(id="evt_async_lost", type="invoice.paid", data={})
    client.set("hooks", "not a stream")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        await streams.enqueue(event)
    client.delete("hooks")
    assert await streams.enqueue(event) is not None
    assert await streams.enqueue(event) is None
    assert client.xlen("hooks") == 1
    await streams.aclose()
