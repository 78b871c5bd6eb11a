"""Each handler's success is recorded as it returns, so a delivery that dies mid-way (a
BaseException here, SIGKILL in worker processes below) runs only the unfinished handlers
next time; and the recording costs nothing where it is not needed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from eventbus import Event, EventBus, HandlerCall
from eventbus.inbox import Claim, Inbox, MemoryIdempotencyStore, SqliteIdempotencyStore


class Crash(BaseException):
    """Stands in for the process dying inside a handler."""


class CountingStore(MemoryIdempotencyStore):
    """A memory store that counts the completions recorded mid-attempt."""

    def __init__(self) -> None:
        super().__init__()
        self.completions: list[str] = []

    def complete(self, claim: Claim, handler: str, /) -> bool:
        self.completions.append(handler)
        return super().complete(claim, handler)


def crashing_handlers(bus: EventBus, runs: Counter[str], crash_in: set[str]) -> None:
    """ledger then mailer; mailer raises Crash (once ledger returned: in worker threads the
    two run at once) while ``crash_in`` holds its name."""
    returned = threading.Event()

    def ledger(event: Event[Any]) -> None:
        runs["ledger"] += 1

    def mailer(event: Event[Any]) -> None:
        runs["mailer"] += 1
        if "mailer" in crash_in:
            returned.wait(30)
            raise Crash

    bus.use(lambda call: _set_when_ledger_returns(call, returned))

    bus.subscribe("order.*", ledger, name="ledger")
    bus.subscribe("order.*", mailer, name="mailer")


@contextmanager
def _set_when_ledger_returns(call: HandlerCall, returned: threading.Event) -> Iterator[None]:
    yield
    if call.subscription.name == "ledger":
        returned.set()


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "memory":
        return MemoryIdempotencyStore(lease=0.01, ttl=60)
    return SqliteIdempotencyStore(tmp_path / "inbox.db", lease=0.01, ttl=60)


def test_a_crashed_sync_delivery_keeps_the_handlers_that_returned(store: Any) -> None:
    """The crash's settle leaves ledger completed: the redelivery runs mailer only."""
    bus, runs, crash_in = EventBus(), Counter[str](), {"mailer"}
    crashing_handlers(bus, runs, crash_in)
    inbox = Inbox(bus, store)
    with pytest.raises(Crash):
        inbox.deliver_sync(Event(id="evt_1", type="order.paid"))
    crash_in.clear()
    assert inbox.deliver_sync(Event(id="evt_1", type="order.paid")).status == "handled"
    assert runs == {"ledger": 1, "mailer": 2}


@pytest.mark.anyio
@pytest.mark.parametrize("sync_handlers", ["inline", "thread"])
async def test_a_crashed_async_delivery_keeps_the_handlers_that_returned(
    store: Any, sync_handlers: Any
) -> None:
    """The same from async code, with sync handlers inline or in worker threads; the
    crash propagates as itself."""
    bus, runs, crash_in = EventBus(sync_handlers=sync_handlers), Counter[str](), {"mailer"}
    crashing_handlers(bus, runs, crash_in)
    inbox = Inbox(bus, store)
    with pytest.raises(Crash):
        await inbox.deliver(Event(id="evt_1", type="order.paid"))
    crash_in.clear()
    assert (await inbox.deliver(Event(id="evt_1", type="order.paid"))).status == "handled"
    assert runs == {"ledger": 1, "mailer": 2}


@pytest.mark.anyio
async def test_one_handler_to_run_records_nothing_mid_attempt() -> None:
    """A route with one handler pays no write beyond the settle, three handlers pay two
    (the last to finish is the settle's), and plain publishes record nothing."""
    bus, store = EventBus(), CountingStore()
    bus.subscribe("order.*", lambda event: None, name="ledger")
    inbox = Inbox(bus, store)
    assert (await inbox.deliver(Event(id="evt_1", type="order.paid"))).status == "handled"
    assert inbox.deliver_sync(Event(id="evt_2", type="order.paid")).status == "handled"
    assert store.completions == []
    bus.subscribe("order.*", lambda event: None, name="mailer")
    bus.subscribe("order.*", lambda event: None, name="audit")
    assert (await inbox.deliver(Event(id="evt_3", type="order.paid"))).status == "handled"
    assert store.completions == ["ledger", "mailer"]  # the settle records audit, the last
    bus.publish(Event(id="evt_3", type="order.paid"))
    await bus.publish_async(Event(id="evt_4", type="order.paid"))
    assert store.completions == ["ledger", "mailer"]


def test_handlers_of_other_events_published_mid_delivery_are_not_recorded() -> None:
    """A handler's own plain publish runs while the delivery's recording is on: only the
    delivered event's handlers are recorded, each once."""
    bus, store = EventBus(), CountingStore()
    bus.subscribe("order.paid", lambda event: bus.publish("order.noted"), name="ledger")
    bus.subscribe("order.paid", lambda event: None, name="mailer")
    bus.subscribe("order.paid", lambda event: None, name="billing")
    bus.subscribe("order.noted", lambda event: None, name="audit")
    bus.subscribe("order.noted", lambda event: None, name="metrics")
    inbox = Inbox(bus, store)
    assert inbox.deliver_sync(Event(id="evt_1", type="order.paid")).status == "handled"
    assert store.completions == ["ledger", "mailer"]


# -- worker processes killed with SIGKILL --------------------------------------------------

WORKER = """
import sqlite3, sys, anyio, redis
from pathlib import Path
from eventbus import Event, EventBus, HandlerCall
from eventbus.inbox import Inbox, SqliteIdempotencyStore
from eventbus.redis import RedisIdempotencyStore

where, log, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
bus = EventBus()

def write(line):
    with log.open("a") as f:
        f.write(line + "\\n")

def ledger_recorded():
    if where.startswith("redis://"):
        return redis.Redis.from_url(where).hexists("eventbus:inbox:event:evt_crash", "c:ledger")
    query = "SELECT 1 FROM eventbus_inbox_handler WHERE handler = 'ledger' AND completed = 1"
    return sqlite3.connect(where).execute(query).fetchone() is not None

def ledger(event):
    write("ledger")

async def mailer(event):
    write("mailer-start")
    if "hang" in mode:
        # Give an async delivery's writer its turn; old code never records, so stop asking.
        for _ in range(300):
            if ledger_recorded():
                break
            await anyio.sleep(0.01)
        print("hanging", flush=True)
        await anyio.sleep(3600)
    write("mailer")

bus.subscribe("order.*", ledger, name="ledger")
bus.subscribe("order.*", mailer, name="mailer")
if where.startswith("redis://"):
    store = RedisIdempotencyStore(where, lease=1.0)
else:
    store = SqliteIdempotencyStore(where, lease=1.0)
inbox = Inbox(bus, store)
event = Event(id="evt_crash", type="order.paid")
if mode.startswith("async"):
    delivery = anyio.run(inbox.deliver, event)
else:
    delivery = inbox.deliver_sync(event)
print(delivery.status, delivery.attempt, flush=True)
"""


def run_worker(where: str, log: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, where, str(log), mode], stdout=subprocess.PIPE, text=True
    )


def finish(where: str, log: Path, mode: str) -> str:
    return run_worker(where, log, mode).communicate(timeout=60)[0].strip()


def kill_in_mailer_then_redeliver(where: str, log: Path, mode: str) -> str:
    """Kill a worker inside mailer, then redeliver until the dead worker's lease has run
    out (an in_flight answer counts no attempt); the first answer that is not in_flight."""
    crashed = run_worker(where, log, mode + "-hang")
    assert crashed.stdout is not None
    assert crashed.stdout.readline().strip() == "hanging"
    os.kill(crashed.pid, signal.SIGKILL)
    crashed.wait()
    crashed.stdout.close()
    answer = finish(where, log, mode)
    while answer == "in_flight 1":
        answer = finish(where, log, mode)
    return answer


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_a_worker_killed_in_the_second_handler_runs_only_it_next(
    tmp_path: Path, redis_url: str, kind: str, mode: str
) -> None:
    """ledger returned, mailer hangs, SIGKILL: the attempt never settled, yet after its
    lease the next delivery runs mailer only (ledger's marker stays at one)."""
    where, log = redis_url, tmp_path / "runs.log"
    if kind == "sqlite":
        where = str(tmp_path / "inbox.db")
        SqliteIdempotencyStore(where).close()
    assert kill_in_mailer_then_redeliver(where, log, mode) == "handled 2"
    assert log.read_text().split() == ["ledger", "mailer-start", "mailer-start", "mailer"]
    assert finish(where, log, mode) == "duplicate 2"


class BrokenCompletions(MemoryIdempotencyStore):
    """A memory store whose mid-attempt writes fail."""

    def complete(self, claim: Claim, handler: str, /) -> bool:
        raise OSError("disk full")


@pytest.mark.anyio
async def test_a_failed_completion_write_is_logged_and_the_settle_records_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A completion the store could not record is logged; the delivery carries on and its
    settle records every handler, so a redelivery is a duplicate."""
    bus, store = EventBus(), BrokenCompletions()
    bus.subscribe("order.*", lambda event: None, name="ledger")
    bus.subscribe("order.*", lambda event: None, name="mailer")
    inbox = Inbox(bus, store)
    assert (await inbox.deliver(Event(id="evt_1", type="order.paid"))).status == "handled"
    assert inbox.deliver_sync(Event(id="evt_2", type="order.paid")).status == "handled"
    assert (await inbox.deliver(Event(id="evt_1", type="order.paid"))).status == "duplicate"
    unrecorded = [r for r in caplog.records if "could not record" in r.getMessage()]
    assert [r.getMessage().split(" on event ")[1][:5] for r in unrecorded] == ["evt_1", "evt_2"]
