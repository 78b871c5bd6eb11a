"""The application the worker-process tests run (``eventbus worker streams_app:streams``).

Configured by environment variables; every handler run is recorded in the Redis list
``runs`` as ``<handler> <event id> <consumer>``, so a test sees every process's runs.
The ``mailer`` handler does what the key ``mailer-mode`` says: ``fail`` raises, ``hang``
records ``hanging`` (once ledger's success is in the store) and sleeps, ``sleep`` records
``sleeping`` and sleeps a second, anything else succeeds.
"""

from __future__ import annotations

import os
from typing import Any

import anyio
import redis

from eventbus import Event, EventBus
from eventbus.redis import RedisStreams

URL = os.environ["STREAMS_TEST_REDIS"]
CONSUMER = os.environ.get("STREAMS_TEST_CONSUMER")
CLAIM_IDLE = float(os.environ.get("STREAMS_TEST_CLAIM_IDLE", "0.5"))

record = redis.Redis.from_url(URL)
bus = EventBus()


def _ran(name: str, event: Event[Any]) -> None:
    record.rpush("runs", f"{name} {event.id} {CONSUMER}")


async def _ledger_recorded(event: Event[Any]) -> None:
    """Wait (a bounded number of turns) until the inbox recorded ledger's success, which it
    does as ledger returns: a kill after "hanging" then finds it recorded."""
    key = f"orders:default:inbox:event:{event.id}"
    for _ in range(300):
        if record.hexists(key, "c:ledger"):
            return
        await anyio.sleep(0.01)


@bus.on("order.*", name="ledger")
def ledger(event: Event[Any]) -> None:
    _ran("ledger", event)


@bus.on("order.*", name="mailer")
async def mailer(event: Event[Any]) -> None:
    mode = (record.get("mailer-mode") or b"").decode()
    if mode == "fail":
        _ran("mailer-failed", event)
        raise ConnectionError("smtp down")
    if mode == "hang":
        await _ledger_recorded(event)
        _ran("hanging", event)
        await anyio.sleep(3600)
    if mode == "sleep":
        _ran("sleeping", event)
        await anyio.sleep(1)
    _ran("mailer", event)


streams = RedisStreams(bus, URL, stream="orders", consumer=CONSUMER, claim_idle=CLAIM_IDLE)
broadcast = RedisStreams(bus, URL, stream="orders", group=None, consumer=CONSUMER)
