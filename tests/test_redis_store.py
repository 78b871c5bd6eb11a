"""The Redis store beyond the shared contract: clients, key layout, crash safety across
processes (a worker killed with SIGKILL mid-handler loses nothing)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio

from eventbus import Event, EventBus
from eventbus.inbox import Inbox
from eventbus.redis import RedisIdempotencyStore


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    """A sync client on the test Redis."""
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


def test_records_live_under_the_prefix_and_expire(client: redis.Redis) -> None:
    """An event is one hash under <prefix>:inbox:event:<id>, with the ttl as its expiry;
    two prefixes keep separate histories."""
    billing = RedisIdempotencyStore(client, prefix="billing", ttl=3600)
    shipping = RedisIdempotencyStore(client, prefix="shipping")
    billing.settle(billing.claim("evt_1", handlers=["h"]), completed=["h"], failed={})
    assert billing.key("evt_1") == "billing:inbox:event:evt_1"
    assert client.hget("billing:inbox:event:evt_1", "c:h") == b"1"
    assert 0 < client.ttl("billing:inbox:event:evt_1") <= 3600
    assert shipping.claim("evt_1", handlers=["h"]).status == "claimed"
    assert billing.claim("evt_1", handlers=["h"]).status == "done"


def test_a_url_gives_sync_and_async_calls(redis_url: str) -> None:
    """Built from a URL, the store works from sync code and from the inbox's async path."""
    import anyio

    bus = EventBus()
    runs: list[str] = []
    bus.subscribe("order.*", lambda event: runs.append(event.id), name="h")
    store = RedisIdempotencyStore(redis_url)
    inbox = Inbox(bus, store)
    assert inbox.deliver_sync(Event(id="evt_1", type="order.paid")).status == "handled"

    async def deliver_twice() -> list[str]:
        first = await inbox.deliver(Event(id="evt_1", type="order.paid"))
        second = await inbox.deliver(Event(id="evt_2", type="order.paid"))
        await store.aclose()
        return [first.status, second.status]

    assert anyio.run(deliver_twice) == ["duplicate", "handled"]
    assert runs == ["evt_1", "evt_2"]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
async def test_an_async_client_only_serves_async_calls(redis_url: str) -> None:
    """On a redis.asyncio client the inbox awaits the store; sync calls say what to do."""
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        bus = EventBus()
        bus.subscribe("order.*", lambda event: None, name="h")
        inbox = Inbox(bus, RedisIdempotencyStore(client), max_attempts=1)
        assert (await inbox.deliver(Event(id="evt_1", type="order.paid"))).status == "handled"
        with pytest.raises(TypeError, match="pass a URL"):
            inbox.deliver_sync(Event(id="evt_2", type="order.paid"))
        with pytest.raises(TypeError, match="pass a URL"):
            inbox.dead_letters()
    finally:
        await client.aclose()


def test_a_client_that_decodes_responses_works(redis_url: str) -> None:
    """A client made with decode_responses=True gets the same answers, bodies as bytes."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    store = RedisIdempotencyStore(client)
    claim = store.claim("evt_1", handlers=["h"])
    store.settle(claim, completed=[], failed={"h": "x"}, dead_letter=("t.x", b'{"a":1}'))
    [letter] = store.dead_letters()
    assert (letter.body, dict(letter.failed)) == (b'{"a":1}', {"h": "x"})
    assert store.revive("evt_1") == letter
    client.close()


def test_expired_dead_letters_drop_out_of_the_list(client: redis.Redis) -> None:
    """A dead letter whose record expired is no longer listed (and leaves the index)."""
    store = RedisIdempotencyStore(client)
    claim = store.claim("evt_1", handlers=["h"])
    store.settle(claim, completed=[], failed={"h": "x"}, dead_letter=("t.x", b"{}"))
    client.delete(store.key("evt_1"))
    assert store.dead_letters() == []
    assert client.zcard("eventbus:inbox:dead-letters") == 0


def test_other_arguments_are_refused() -> None:
    """Anything but a URL or a redis client is a TypeError naming what was passed."""
    with pytest.raises(TypeError, match="int"):
        RedisIdempotencyStore(6379)  # type: ignore[arg-type]
    store = RedisIdempotencyStore("redis://127.0.0.1:1/0")
    assert "prefix='eventbus'" in repr(store)
    store.close()


WORKER = """
import json, sys, time
from pathlib import Path
from eventbus import Event, EventBus
from eventbus.inbox import Inbox
from eventbus.redis import RedisIdempotencyStore

url, log, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
bus = EventBus()

def write(line):
    with log.open("a") as f:
        f.write(line + "\\n")

def ledger(event):
    write("ledger")

def mailer(event):
    write("mailer-start")
    if mode == "fail":
        raise RuntimeError("smtp down")
    if mode == "hang":
        print("hanging", flush=True)
        time.sleep(3600)
    write("mailer")

bus.subscribe("order.*", ledger, name="ledger")
bus.subscribe("order.*", mailer, name="mailer")
inbox = Inbox(bus, RedisIdempotencyStore(url, lease=1.0))
delivery = inbox.deliver_sync(Event(id="evt_crash", type="order.paid"))
print(json.dumps([delivery.status, delivery.attempt]), flush=True)
"""


def run_worker(redis_url: str, log: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, redis_url, str(log), mode],
        stdout=subprocess.PIPE,
        text=True,
    )


def deliver(redis_url: str, log: Path, mode: str) -> Any:
    worker = run_worker(redis_url, log, mode)
    return json.loads(worker.communicate(timeout=60)[0])


def test_a_worker_killed_mid_handler_loses_nothing(redis_url: str, tmp_path: Path) -> None:
    """Attempt 1 completes ledger and fails mailer; attempt 2 is killed with SIGKILL inside
    mailer. A redelivery is in_flight until the lease expires, then runs only mailer."""
    log = tmp_path / "runs.log"
    assert deliver(redis_url, log, "fail") == ["failed", 1]
    crashed = run_worker(redis_url, log, "hang")
    assert crashed.stdout is not None
    assert crashed.stdout.readline().strip() == "hanging"
    os.kill(crashed.pid, signal.SIGKILL)
    crashed.wait()
    crashed.stdout.close()
    assert deliver(redis_url, log, "finish") == ["in_flight", 2]
    wait_for_lease_to_expire(redis_url, "eventbus:inbox:event:evt_crash")
    assert deliver(redis_url, log, "finish") == ["handled", 3]
    runs = log.read_text().split()
    assert runs == ["ledger", "mailer-start", "mailer-start", "mailer-start", "mailer"]
    assert deliver(redis_url, log, "finish") == ["duplicate", 3]


def wait_for_lease_to_expire(redis_url: str, key: str) -> None:
    """Poll the server's own clock until the record's lease has run out."""
    client = redis.Redis.from_url(redis_url)
    try:
        while True:
            lease_until = int(client.hget(key, "lease_until") or 0)
            seconds, micros = client.time()
            if lease_until <= seconds * 1000 + micros // 1000:
                return
            time.sleep(0.05)
    finally:
        client.close()
