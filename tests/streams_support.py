"""Helpers for the tests that run ``eventbus worker`` processes against the test Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

TESTS = Path(__file__).resolve().parent
_WAIT = 60.0


class Worker:
    """An ``eventbus worker`` subprocess whose output goes to a file (never a full pipe)."""

    def __init__(self, redis_url: str, folder: Path, consumer: str, *args: str) -> None:
        self.output = folder / f"{consumer}.out"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
            "STREAMS_TEST_REDIS": redis_url,
            "STREAMS_TEST_CONSUMER": consumer,
        }
        with self.output.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "eventbus", "worker", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=folder,
            )

    def text(self) -> str:
        return self.output.read_text()

    def wait_for_line(self, start: str) -> str:
        """Wait until the worker printed a line starting with ``start``; return it."""
        deadline = time.monotonic() + _WAIT
        while time.monotonic() < deadline:
            for line in self.text().splitlines():
                if line.startswith(start):
                    return line
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no line starting {start!r}; output:\n{self.text()}")

    def started(self) -> Worker:
        self.wait_for_line("Consuming stream")
        return self

    def terminate(self) -> int:
        """SIGTERM, then the exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=_WAIT)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def runs(client: redis.Redis) -> list[list[str]]:
    """The recorded handler runs: ``[handler, event id, consumer]`` each."""
    return [item.decode().split() for item in client.lrange("runs", 0, -1)]


def wait_for_runs(client: redis.Redis, count: int) -> list[list[str]]:
    """Wait until at least ``count`` runs are recorded; return them."""
    deadline = time.monotonic() + _WAIT
    while client.llen("runs") < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{client.llen('runs')} runs of {count}: {runs(client)}")
        time.sleep(0.05)
    return runs(client)


def wait_until_acknowledged(client: redis.Redis, stream: str, group: str) -> None:
    """Wait until the group has read every entry and none is pending."""
    deadline = time.monotonic() + _WAIT
    while True:
        groups = {g["name"].decode(): g for g in client.xinfo_groups(stream)}
        info = groups.get(group)
        if info and info["pending"] == 0 and info["lag"] == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"group {group!r} not done: {info}")
        time.sleep(0.05)


def counts(items: list[list[str]]) -> Counter[tuple[str, str]]:
    """How often each (handler, event id) ran."""
    return Counter((handler, event_id) for handler, event_id, *_ in items)


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    """A sync client on the test Redis (emptied before the test)."""
    with redis.Redis.from_url(redis_url) as connection:
        yield connection


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    """Worker processes a test starts; any still running are killed after it."""
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.kill()
