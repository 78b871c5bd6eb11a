"""Four uvicorn worker processes sharing the Redis store: 200 concurrent copies of one
signed delivery over real HTTP run each handler once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import httpx
import pytest
import redis
from redis_support import free_port

from eventbus.webhooks import StandardWebhooks

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

APP = f'''
import os
import redis
from eventbus import EventBus
from eventbus.redis import RedisIdempotencyStore
from eventbus.webhooks import StandardWebhooks, WebhookReceiver

URL = os.environ["REDIS_URL"]


def make():
    counter = redis.Redis.from_url(URL)
    bus = EventBus()
    for name in ("ledger", "mailer"):
        bus.subscribe("invoice.paid", lambda event, name=name: counter.incr(f"runs:{{name}}"),
                      name=name)
    store = RedisIdempotencyStore(URL, prefix="http-test")
    inner = WebhookReceiver(bus, StandardWebhooks("{SECRET}"), idempotency=store).asgi_app()

    async def app(scope, receive, send):
        if scope["type"] == "http":
            counter.sadd("pids", os.getpid())
        await inner(scope, receive, send)

    return app
'''


@contextmanager
def workers(folder: Path, redis_url: str, count: int) -> Iterator[str]:
    """``count`` uvicorn workers serving the app; yields the URL once every one answers."""
    (folder / "redis_app.py").write_text(APP, encoding="utf-8")
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "redis_app:make", "--factory", "--host"]
    command += ["127.0.0.1", "--port", str(port), "--workers", str(count)]
    command += ["--log-level", "warning"]
    path = os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "REDIS_URL": redis_url, "PYTHONPATH": path}
    process = subprocess.Popen(command, cwd=folder, env=env)
    client = redis.Redis.from_url(redis_url)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_for_workers(url, client, count, process)
        client.delete("pids")
        yield url
    finally:
        process.terminate()
        process.wait(30)
        client.close()


def _wait_for_workers(
    url: str, client: redis.Redis, count: int, process: subprocess.Popen[bytes]
) -> None:
    """Until ``count`` distinct processes have answered (or the server died)."""
    deadline = time.monotonic() + 60
    while client.scard("pids") < count:
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"only {client.scard('pids')} of {count} uvicorn workers answered")
        try:  # a new connection each time, so that every worker gets to accept one
            httpx.get(url, timeout=1, headers={"connection": "close"})
        except httpx.TransportError:
            time.sleep(0.05)


def test_four_workers_run_each_handler_once(redis_url: str, tmp_path: Path) -> None:
    """200 concurrent copies of one delivery across four processes: every answer is 200
    (handled or duplicate) or 409 (in flight), exactly one is handled, each handler ran
    once, and more than one process answered."""
    scheme = StandardWebhooks(SECRET)
    body = json.dumps({"id": "evt_many", "type": "invoice.paid", "data": {}}).encode()
    headers = {"content-type": "application/json", **scheme.sign(body)}
    with workers(tmp_path, redis_url, 4) as url:
        answers = anyio.run(_post_copies, url, body, headers, 200)
    outcomes = sorted({(status, outcome) for status, outcome in answers})
    assert set(outcomes) <= {(200, "handled"), (200, "duplicate"), (409, "in_flight")}
    assert [pair for pair in answers if pair[1] == "handled"] == [(200, "handled")]
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.mget("runs:ledger", "runs:mailer") == [b"1", b"1"]
        assert client.scard("pids") > 1
    finally:
        client.close()


async def _post_copies(
    url: str, body: bytes, headers: dict[str, str], copies: int
) -> list[tuple[int, str]]:
    answers: list[tuple[int, str]] = []
    limits = httpx.Limits(max_connections=copies)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def post() -> None:
            response = await client.post(url, content=body, headers=headers)
            answers.append((response.status_code, response.json()["outcome"]))

        async with anyio.create_task_group() as tg:
            for _ in range(copies):
                tg.start_soon(post)
    return answers
