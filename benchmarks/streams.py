"""``python -m benchmarks.streams``: events per second from publish to handled on Redis
Streams, against a raw redis client loop, with ratios; and publish-to-handler latency.

Throughput rows publish N events from one producer while the consumers run, and time the
first publish to the last handler call. ``eventbus`` is :class:`~eventbus.redis.RedisStreams`
(its default inbox: the Redis store claims and settles every entry); ``raw`` is the floor:
the same redis.asyncio client doing XADD of the same JSON, XREADGROUP with the same batch
size (the consumer's concurrency), ``json.loads``, the handler, and one XACK per entry, with
no de-duplication. Both run with one and with two consumers (two consumers in this one
process, on one event loop: it measures round trips, not extra cores). The latency row
publishes one event at a time and waits for its handler (nothing queued). Every row runs in
each round, in rotating order; figures are medians over rounds. Without ``--redis URL`` a
private ``redis-server`` is started on 127.0.0.1 (no persistence) and stopped at the end.

Options: ``--quick`` (1 round of 500 events), ``--rounds N``, ``--events N``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import redis.asyncio

from eventbus import Event, EventBus
from eventbus.redis import RedisStreams

from .stores import private_redis

BATCH = 16
Row = Callable[[str, int], Awaitable[float]]


class Counter:
    """Counts handler calls and wakes the waiter at ``target``."""

    def __init__(self, target: int) -> None:
        self.target, self.count, self.done = target, 0, anyio.Event()

    def __call__(self, event: object = None) -> None:
        self.count += 1
        if self.count >= self.target:
            self.done.set()


def eventbus_row(consumers: int) -> Row:
    async def run(url: str, n: int) -> float:
        stream, bus, counter = f"bench:{uuid.uuid4().hex}", EventBus(), Counter(n)
        bus.subscribe("bench.tick", counter, name="count")
        producer = RedisStreams(EventBus(), url, stream=stream)
        group = [
            RedisStreams(bus, url, stream=stream, consumer=f"c{i}", concurrency=BATCH)
            for i in range(consumers)
        ]
        async with AsyncExitStack() as stack:
            for streams in group:
                await stack.enter_async_context(streams.consuming())
            started = time.perf_counter()
            for i in range(n):
                await producer.publish("bench.tick", {"i": i})
            await counter.done.wait()
            elapsed = time.perf_counter() - started
        for streams in [producer, *group]:
            await streams.aclose()
        return n / elapsed

    return run


def raw_row(consumers: int) -> Row:
    async def run(url: str, n: int) -> float:
        stream, counter = f"bench:{uuid.uuid4().hex}", Counter(n)
        client = redis.asyncio.Redis.from_url(url)
        await client.xgroup_create(stream, "default", id="0", mkstream=True)

        async def consume(name: str) -> None:
            while True:
                reply: Any = await client.xreadgroup(
                    "default", name, {stream: ">"}, count=BATCH, block=100
                )
                for entry_id, fields in reply[0][1] if reply else ():
                    counter(json.loads(fields[b"event"]))
                    await client.xack(stream, "default", entry_id)

        async with anyio.create_task_group() as tasks:
            for i in range(consumers):
                tasks.start_soon(consume, f"c{i}")
            started = time.perf_counter()
            for i in range(n):
                body = Event(type="bench.tick", data={"i": i}).to_json()
                await client.xadd(stream, {"event": body})
            await counter.done.wait()
            elapsed = time.perf_counter() - started
            tasks.cancel_scope.cancel()
        await client.aclose()
        return n / elapsed

    return run


async def latencies(url: str, n: int) -> list[float]:
    """Publish one event at a time; seconds from before publish to the handler's call."""
    stream, bus = f"bench:{uuid.uuid4().hex}", EventBus()
    arrived: list[float] = []
    wake = anyio.Event()

    def handler(event: Event[Any]) -> None:
        arrived.append(time.perf_counter() - event.data["t"])
        wake.set()

    bus.subscribe("bench.tick", handler, name="latency")
    consumer = RedisStreams(bus, url, stream=stream)
    producer = RedisStreams(EventBus(), url, stream=stream)
    async with consumer.consuming():
        for _ in range(n):
            wake = anyio.Event()
            await producer.publish("bench.tick", {"t": time.perf_counter()})
            await wake.wait()
    await consumer.aclose()
    await producer.aclose()
    return arrived


ROWS: dict[str, Row] = {
    "eventbus, 1 consumer": eventbus_row(1),
    "raw, 1 consumer": raw_row(1),
    "eventbus, 2 consumers": eventbus_row(2),
    "raw, 2 consumers": raw_row(2),
}


async def measure(url: str, rounds: int, n: int) -> tuple[dict[str, float], list[float]]:
    results: dict[str, list[float]] = {name: [] for name in ROWS}
    names = list(ROWS)
    waits: list[float] = []
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            results[name].append(await ROWS[name](url, n))
        waits += await latencies(url, min(n, 1000))
    return {name: statistics.median(values) for name, values in results.items()}, waits


def report(rate: dict[str, float], waits: list[float], rounds: int, n: int) -> None:
    print(f"Redis Streams: events/s publish -> handled, {n} events, batch {BATCH}, "
          f"median of {rounds} round(s)")
    print(f"{'row':<24}{'events/s':>10}{'x raw':>8}")
    for name, value in rate.items():
        floor = rate[name.replace("eventbus", "raw")]
        print(f"{name:<24}{value:>10,.0f}{value / floor:>8.3f}")
    for consumers in ("1 consumer", "2 consumers"):
        ratio = rate[f"eventbus, {consumers}"] / rate[f"raw, {consumers}"]
        verdict = "MET" if ratio >= 0.5 else "MISSED"
        print(f"eventbus / raw, {consumers}: {ratio:.3f} (target >= 0.5: {verdict})")
    ms = sorted(w * 1000 for w in waits)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    print(f"publish -> handler latency, one at a time ({len(ms)} events): "
          f"median {statistics.median(ms):.2f} ms, p99 {p99:.2f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.streams", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1 round of 500 events")
    parser.add_argument("--rounds", type=int, help="rounds (default 5, or 1 with --quick)")
    parser.add_argument("--events", type=int, help="events per row (default 5000)")
    parser.add_argument("--redis", help="a Redis URL to use instead of a private server")
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 5)
    n = args.events or (500 if args.quick else 5000)
    with tempfile.TemporaryDirectory(dir=Path.cwd(), prefix=".bench-streams-") as folder:
        if args.redis:
            rate, waits = anyio.run(measure, args.redis, rounds, n)
        else:
            with private_redis(Path(folder)) as url:
                rate, waits = anyio.run(measure, url, rounds, n)
    report(rate, waits, rounds, n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
