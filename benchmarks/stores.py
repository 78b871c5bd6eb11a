"""``python -m benchmarks.stores``: claim+settle per second for each inbox store, with ratios.

One operation is what a delivery costs the store: a claim of a fresh event id for two
handlers, then a settle recording both as completed. Rows: the memory store, SQLite at
``synchronous="normal"`` and ``"full"`` (a file on this disk), and the Redis store against
its floor, a raw ``SET NX`` (claim) + ``HSET`` (settle) round trip pair on the same server
with the same client; and four processes sharing one SQLite file (``normal``), summed.
The ``+1 complete`` rows add the ``complete`` call a two-handler delivery through the inbox
makes (the first handler's success recorded as it returns; the settle records the last),
with their ratio to claim+settle.
Every row is sampled in each round, in rotating order; the figure is the median over
rounds. Without ``--redis URL`` a private ``redis-server`` is started on 127.0.0.1 (no
persistence) and stopped at the end.

Options: ``--quick`` (3 rounds of 0.2 s), ``--rounds N``, ``--seconds S`` per sample.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

from eventbus.inbox import IdempotencyStore, MemoryIdempotencyStore, SqliteIdempotencyStore
from eventbus.redis import RedisIdempotencyStore

HANDLERS = ("ledger", "mailer")
SHARED = "sqlite normal, 4 processes"
STORES = ("memory", "sqlite normal", "sqlite full", "redis store")
RECORDED = " +1 complete"
Op = Callable[[str], None]


def store_op(store: IdempotencyStore) -> Op:
    """One delivery's store calls: claim a fresh id, settle both handlers completed."""

    def op(key: str) -> None:
        claim = store.claim(key, handlers=HANDLERS)
        store.settle(claim, completed=HANDLERS, failed={})

    return op


def recorded_op(store: IdempotencyStore) -> Op:
    """What a two-handler delivery through the inbox costs the store now: the claim, each
    handler's completion recorded as it returns, the settle."""

    def op(key: str) -> None:
        claim = store.claim(key, handlers=HANDLERS)
        for name in HANDLERS[:-1]:  # the last to finish is recorded by the settle
            store.complete(claim, name)
        store.settle(claim, completed=HANDLERS, failed={})

    return op


def raw_redis_op(client: redis.Redis) -> Op:
    """The floor: the two round trips a store needs at least, with no script logic."""

    def op(key: str) -> None:
        client.set(f"raw:{key}", "token", nx=True, px=300_000)
        client.hset(f"raw:{key}:h", mapping={"c:ledger": 1, "c:mailer": 1})

    return op


def _shared_worker(path: str, prefix: str, seconds: float, start: Any, out: Any) -> None:
    op = store_op(SqliteIdempotencyStore(path, synchronous="normal"))
    ids = (f"{prefix}-{n}" for n in itertools.count())
    start.wait()
    out.put(sample(op, seconds, ids))


def shared_file_rate(path: Path, seconds: float, processes: int = 4) -> float:
    """Claim+settle per second of ``processes`` processes sharing one SQLite file."""
    context = multiprocessing.get_context("spawn")
    start, out = context.Event(), context.Queue()
    prefix = f"shared-{time.monotonic_ns()}"
    workers = [
        context.Process(
            target=_shared_worker, args=(str(path), f"{prefix}-{i}", seconds, start, out)
        )
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    time.sleep(0.5)  # let every worker import and open the file before the start
    start.set()
    total = sum(out.get() for _ in workers)
    for worker in workers:
        worker.join()
    return total


def sample(op: Op, seconds: float, ids: Iterator[str]) -> float:
    """Operations per second over at least ``seconds``."""
    count, started = 0, time.perf_counter()
    deadline = started + seconds
    while True:
        for _ in range(50):
            op(next(ids))
        count += 50
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - started)


@contextmanager
def private_redis(directory: Path) -> Iterator[str]:
    """A redis-server on a free port of 127.0.0.1 for the run."""
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed: run 'make setup', or pass --redis URL")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(directory)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    try:
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        process.terminate()
        process.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stores", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 rounds of 0.2 s samples")
    parser.add_argument("--rounds", type=int, help="rounds (default 7, or 3 with --quick)")
    parser.add_argument("--seconds", type=float, help="seconds per sample (default 1.0)")
    parser.add_argument("--redis", help="a Redis URL to use instead of a private server")
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 7)
    seconds = args.seconds or (0.2 if args.quick else 1.0)
    with tempfile.TemporaryDirectory(dir=Path.cwd(), prefix=".bench-stores-") as folder:
        if args.redis:
            return run(args.redis, Path(folder), rounds, seconds)
        with private_redis(Path(folder)) as url:
            return run(url, Path(folder), rounds, seconds)


def run(url: str, folder: Path, rounds: int, seconds: float) -> int:
    client = redis.Redis.from_url(url)
    client.flushdb()
    rows: dict[str, Op] = {
        **{name: store_op(_store(name, client, folder)) for name in STORES},
        "redis raw SET NX + HSET": raw_redis_op(client),
    }
    for name in STORES:
        rows[name + RECORDED] = recorded_op(_store(name, client, folder))
    ids = (f"evt_{n}" for n in itertools.count())
    results: dict[str, list[float]] = {name: [] for name in rows}
    names = list(rows)
    results[SHARED] = []
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            results[name].append(sample(rows[name], seconds, ids))
        results[SHARED].append(shared_file_rate(folder / "shared.db", seconds))
    client.flushdb()
    client.close()
    report({name: statistics.median(values) for name, values in results.items()}, rounds)
    return 0


def _store(name: str, client: redis.Redis, folder: Path) -> IdempotencyStore:
    if name == "memory":
        return MemoryIdempotencyStore(max_entries=10_000_000)
    if name == "redis store":
        return RedisIdempotencyStore(client, prefix=f"bench-{time.monotonic_ns()}")
    synchronous = "normal" if name == "sqlite normal" else "full"
    return SqliteIdempotencyStore(
        folder / f"{synchronous}-{time.monotonic_ns()}.db", synchronous=synchronous
    )


def report(rate: dict[str, float], rounds: int) -> None:
    print(f"Inbox stores: claim+settle per second (median of {rounds} rounds), two handlers")
    print(f"{'store':<26}{'per second':>12}{'x memory':>10}")
    for name, value in rate.items():
        print(f"{name:<26}{value:>12,.0f}{value / rate['memory']:>10.3f}")
    normal, full = rate["sqlite normal"], rate["sqlite full"]
    redis_ratio = rate["redis store"] / rate["redis raw SET NX + HSET"]
    print(f"\nsqlite normal: {normal:,.0f}/s (target >= 10,000: {_verdict(normal >= 10_000)})")
    print(f"sqlite full / normal: {full / normal:.3f}")
    print(f"sqlite normal, 4 processes on one file / 1 process: {rate[SHARED] / normal:.3f}")
    print(f"redis store / raw SET NX + HSET: {redis_ratio:.3f}")
    print("\nA two-handler delivery also records the first completion as it returns:")
    for name in STORES:
        print(f"{name}{RECORDED} / claim+settle: {rate[name + RECORDED] / rate[name]:.3f}")


def _verdict(met: bool) -> str:
    return "MET" if met else "MISSED"


if __name__ == "__main__":
    sys.exit(main())
