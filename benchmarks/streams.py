"""``python -m benchmarks.streams``: events per second from publish to handled on Redis
Streams, against a raw redis client loop, with ratios; and publish-to-handler latency.

Throughput rows start the consumers, each in its own process, then publish N events from
this process and time the first publish until the group has read and acknowledged them all.
``eventbus`` is :class:`~eventbus.redis.RedisStreams` (its default inbox: the Redis store
claims and settles every entry); ``raw`` is the floor: a redis.asyncio client doing XADD of
the same JSON, XREADGROUP with the same batch size (the consumer's concurrency),
``json.loads`` and one XACK per entry, with no de-duplication. Both run with one and with two
consumer processes. The latency row publishes one event at a time and waits for its handler
(nothing queued). Every row runs in each round, in rotating order; figures are medians over
rounds. Without ``--redis URL`` a private ``redis-server`` is started on 127.0.0.1 (no
persistence) and stopped at the end.

Options: ``--quick`` (1 round of 500 events), ``--rounds N``, ``--events N``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import redis
import redis.asyncio

from eventbus import Event, EventBus
from eventbus.redis import RedisStreams

from .stores import private_redis

BATCH = 16
Row = Callable[[str, int], Awaitable[float]]


def consumer_process(kind: str, url: str, stream: str, name: str, ready: Any) -> None:
    """A consumer in its own process (``eventbus`` or ``raw``), until terminated."""
    anyio.run(_consume_forever, kind, url, stream, name, ready, backend="asyncio")


async def _consume_forever(kind: str, url: str, stream: str, name: str, ready: Any) -> None:
    if kind == "eventbus":
        bus = EventBus()
        bus.subscribe("bench.tick", lambda event: None, name="handler")
        streams = RedisStreams(bus, url, stream=stream, consumer=name, concurrency=BATCH)
        async with streams.consuming():
            ready.set()
            await anyio.sleep_forever()
    client = redis.asyncio.Redis.from_url(url)
    with contextlib.suppress(redis.ResponseError):  # the other consumer made it
        await client.xgroup_create(stream, "default", id="0", mkstream=True)
    ready.set()
    while True:
        reply: Any = await client.xreadgroup("default", name, {stream: ">"}, BATCH, block=100)
        for entry_id, fields in reply[0][1] if reply else ():
            json.loads(fields[b"event"])  # what the handler would be given
            await client.xack(stream, "default", entry_id)


def row(kind: str, consumers: int) -> Row:
    """Start ``consumers`` processes, then time publishing N events until the group has
    read and acknowledged them all."""

    async def run(url: str, n: int) -> float:
        stream = f"bench:{uuid.uuid4().hex}"
        context = multiprocessing.get_context("spawn")
        ready = [context.Event() for _ in range(consumers)]
        processes = [
            context.Process(target=consumer_process, args=(kind, url, stream, f"c{i}", flag))
            for i, flag in enumerate(ready)
        ]
        for process in processes:
            process.start()
        for flag in ready:
            await anyio.to_thread.run_sync(flag.wait)
        client = redis.asyncio.Redis.from_url(url)
        producer = RedisStreams(EventBus(), url, stream=stream)
        started = time.perf_counter()
        for i in range(n):
            if kind == "eventbus":
                await producer.publish("bench.tick", {"i": i})
            else:
                body = Event(type="bench.tick", data={"i": i}).to_json()
                await client.xadd(stream, {"event": body})
        while not await _drained(client, stream):
            await anyio.sleep(0.002)
        elapsed = time.perf_counter() - started
        for process in processes:
            process.terminate()
            process.join()
        await producer.aclose()
        await client.aclose()
        return n / elapsed

    return run


async def _drained(client: redis.asyncio.Redis, stream: str) -> bool:
    [group] = await client.xinfo_groups(stream)
    return bool(group["pending"] == 0 and group["lag"] == 0)


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
    "eventbus, 1 consumer": row("eventbus", 1),
    "raw, 1 consumer": row("raw", 1),
    "eventbus, 2 consumers": row("eventbus", 2),
    "raw, 2 consumers": row("raw", 2),
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
