"""``python -m benchmarks.http``: webhook deliveries per second over real HTTP, with ratios.

Each row is an ASGI app from ``benchmarks._http_apps`` under uvicorn on 127.0.0.1, in its own
processes. The client is separate processes (``--clients``, default 2), each one bounded
``httpx.AsyncClient`` (``--concurrency`` connections in all, that many requests in flight)
posting signed, distinct Payment Kit-shaped events (signed before timing starts). Rows:

- ``client ceiling``: an ASGI app that answers at once, reading nothing: the most the client
  can send; a row near it is limited by the client, not by the server;
- ``bare``: a Starlette endpoint doing HMAC + ``json.loads`` + the handler (the floor);
- ``receiver memory``: ``WebhookReceiver`` with the memory store, one worker;
- ``receiver sqlite normal``: with ``SqliteIdempotencyStore(synchronous="normal")``, one worker;
- ``receiver sqlite x4``: four uvicorn workers sharing one SQLite file.

Every server is started first; then each round times every row once, in rotating order, and
the figure is the median over rounds. Options: ``--quick``, ``--rounds N``, ``--requests N``
per sample, ``--concurrency N``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from eventbus.inbox import SqliteIdempotencyStore
from eventbus.webhooks import StandardWebhooks

from ._http_apps import SECRET


@dataclass(frozen=True)
class Row:
    name: str
    factory: str
    workers: int = 1


ROWS = (
    Row("client ceiling", "ceiling"),
    Row("bare", "bare"),
    Row("receiver memory", "receiver_memory"),
    Row("receiver sqlite normal", "receiver_sqlite"),
    Row("receiver sqlite x4", "receiver_sqlite", workers=4),
)


@contextmanager
def serve(row: Row, folder: Path) -> Iterator[str]:
    """Run ``row``'s app in ``row.workers`` processes on one listening socket; yield its URL
    once it answers (see ``benchmarks._http_worker`` for why not ``uvicorn --workers``)."""
    database = folder / f"{row.factory}-{row.workers}.db"
    SqliteIdempotencyStore(database).close()  # created once, before the workers race for it
    env = {**os.environ, "EVENTBUS_BENCH_DB": str(database)}
    with socket.create_server(("127.0.0.1", 0), backlog=1024) as sock:
        fd = sock.fileno()
        command = [sys.executable, "-m", "benchmarks._http_worker", str(fd), row.factory]
        workers = [
            subprocess.Popen(command, env=env, pass_fds=(fd,)) for _ in range(row.workers)
        ]
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        try:
            _wait_until_up(url, workers[0])
            yield url
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(30)


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    while process.poll() is None:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    sys.exit(f"the server for {url} exited with {process.returncode}")


class Deliveries:
    """Signed, distinct deliveries, made before timing starts."""

    def __init__(self, ids: Iterable[int]) -> None:
        self.scheme = StandardWebhooks(SECRET)
        self.ids = iter(ids)

    def batch(self, n: int) -> list[tuple[bytes, dict[str, str]]]:
        out = []
        for _ in range(n):
            event_id = f"evt_{next(self.ids)}"
            body = json.dumps(
                {"id": event_id, "type": "invoice.paid", "data": {"object": {"id": "in_1"}}}
            ).encode()
            headers = {"content-type": "application/json", **self.scheme.sign(body)}
            out.append((body, headers))
        return out


async def blast(url: str, batch: list[tuple[bytes, dict[str, str]]], concurrency: int) -> float:
    """Post every delivery with ``concurrency`` in flight; the seconds it took."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    queue = iter(batch)
    failures: list[int] = []
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def sender() -> None:
            for body, headers in queue:
                response = await client.post(url, content=body, headers=headers)
                if response.status_code != 200:
                    failures.append(response.status_code)

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if failures:
        sys.exit(f"{url}: {len(failures)} deliveries failed, statuses {sorted(set(failures))}")
    return elapsed


def _client(url: str, ids: range, concurrency: int, ready: Any, start: Any, out: Any) -> None:
    """One client process: sign its deliveries, wait for the start, post them, report."""
    batch = Deliveries(ids).batch(len(ids))
    ready.release()
    start.wait()
    out.put((len(batch), asyncio.run(blast(url, batch, concurrency))))


def measure(url: str, ids: range, clients: int, concurrency: int) -> float:
    """Requests per second of ``clients`` processes posting the deliveries ``ids`` together."""
    context = multiprocessing.get_context("spawn")
    ready, start, out = context.Semaphore(0), context.Event(), context.Queue()
    share = len(ids) // clients
    parts = [ids[i * share : (i + 1) * share] for i in range(clients)]
    per_client = max(1, concurrency // clients)
    processes = [
        context.Process(target=_client, args=(url, part, per_client, ready, start, out))
        for part in parts
    ]
    for process in processes:
        process.start()
    for _ in processes:
        ready.acquire()
    start.set()
    results = [out.get() for _ in processes]
    for process in processes:
        process.join()
    return sum(n for n, _ in results) / max(elapsed for _, elapsed in results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.http", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 rounds of 1,000 requests")
    parser.add_argument("--rounds", type=int, help="rounds (default 5, or 3 with --quick)")
    parser.add_argument("--requests", type=int, help="requests per sample (default 4,000)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 5)
    requests = args.requests or (1_000 if args.quick else 4_000)
    ids = itertools.count(0, requests)
    rates: dict[str, list[float]] = {row.name: [] for row in ROWS}
    with ExitStack() as stack:
        temporary = tempfile.TemporaryDirectory(prefix=".bench-http-", dir=".")
        folder = Path(stack.enter_context(temporary))
        urls = {row.name: stack.enter_context(serve(row, folder)) for row in ROWS}
        for url in urls.values():  # warm up
            measure(url, _next(ids, 200), args.clients, args.concurrency)
        for round_number in range(rounds):
            names = list(urls)
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                sample = _next(ids, requests)
                rates[name].append(measure(urls[name], sample, args.clients, args.concurrency))
    report({name: statistics.median(values) for name, values in rates.items()}, rounds, args)
    return 0


def _next(ids: Iterator[int], n: int) -> range:
    first = next(ids)
    return range(first, first + n)


def report(rate: dict[str, float], rounds: int, args: argparse.Namespace) -> None:
    print(
        f"Webhook deliveries per second over HTTP (median of {rounds} rounds, "
        f"{args.concurrency} in flight from {args.clients} httpx client processes)"
    )
    print(f"{'row':<26}{'per second':>12}{'x bare':>9}")
    for name, value in rate.items():
        print(f"{name:<26}{value:>12,.0f}{value / rate['bare']:>9.3f}")
    bare = rate["bare"]
    checks = [
        ("receiver sqlite normal >= 0.3x bare", rate["receiver sqlite normal"] / bare >= 0.3),
        ("receiver memory >= 0.75x bare", rate["receiver memory"] / bare >= 0.75),
        ("sqlite x4 >= 1,000/s", rate["receiver sqlite x4"] >= 1_000),
    ]
    print()
    for label, met in checks:
        print(f"{label}: {'MET' if met else 'MISSED'}")


if __name__ == "__main__":
    sys.exit(main())
