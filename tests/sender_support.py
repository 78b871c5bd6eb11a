"""Shared by the sender tests: scripted ASGI endpoints served by uvicorn, and bounded waits.

A :class:`Scripted` endpoint answers each request with the next step of its script (the last
step repeats) and records what it received; ``forward`` hands requests to another ASGI app
(a ``WebhookReceiver``) once the endpoint's secret is known.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import uvicorn

LOCAL = ("127.0.0.0/8",)
FAST = (0.01, 0.01, 0.01)


@dataclass
class Step:
    """One scripted answer: a status, headers and a body, after ``delay`` seconds, or held
    until ``release`` is set."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0
    release: threading.Event | None = None


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Scripted:
    """An ASGI app answering with its script, recording each request (thread-safe)."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps) or [Step()]
        self.received: list[Received] = []
        self.forward: Any = None
        self.arrived = threading.Event()
        self._lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        body = await _read(receive)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        with self._lock:
            self.received.append(Received(scope["path"], headers, body))
            step = self.steps[min(len(self.received), len(self.steps)) - 1]
        self.arrived.set()
        if step.release is not None:
            await anyio.to_thread.run_sync(step.release.wait, 30)
        if step.delay:
            await anyio.sleep(step.delay)
        if self.forward is not None and step.status == 200:
            await self.forward(scope, _replay(body), send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": step.status,
                "headers": [(k.encode(), v.encode()) for k, v in step.headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": step.body})


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes) -> Callable[[], Any]:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await anyio.sleep_forever()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def wait_for(condition: Callable[[], object], what: str, *, limit: float = 20) -> None:
    """Poll ``condition`` until true; fail naming ``what`` after ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await anyio.sleep(0.01)


@contextmanager
def serve_tls(app: Any, certfile: str, keyfile: str) -> Iterator[int]:
    """Serve ``app`` over HTTPS with uvicorn on 127.0.0.1 in a thread; yield its port."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on",
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(10)
