"""Shared by the webhook tests: real HTTP servers, a typed event and body builders.

The servers (uvicorn for ASGI, werkzeug for WSGI) each run in a thread on 127.0.0.1 with an
OS-chosen port, as httpx's own tests do.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal
from wsgiref.simple_server import WSGIRequestHandler
from wsgiref.simple_server import make_server as wsgiref_server

import uvicorn
from pydantic import BaseModel
from werkzeug.serving import make_server

from eventbus import Event


class Invoice(BaseModel):
    id: str
    amount_paid: int


class InvoiceData(BaseModel):
    object: Invoice


class InvoicePaid(Event[InvoiceData]):
    """A typed event, registered by tests that need the 422 rule."""

    type: Literal["invoice.paid"] = "invoice.paid"


def body_of(event_id: str | None = "evt_1", event_type: str = "invoice.paid", **data: Any) -> bytes:
    """A Payment Kit-shaped event body."""
    fields: dict[str, Any] = {"type": event_type, "data": data or {"object": {"id": "in_1"}}}
    if event_id is not None:
        fields["id"] = event_id
    return json.dumps(fields).encode()


@contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread; yield its base URL, then shut it down.

    ``lifespan="on"`` makes start-up fail if the app mishandles the lifespan protocol.
    """
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def serve_wsgi(app: Any) -> Iterator[str]:
    """Serve ``app`` with werkzeug's threaded server; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output clean."""


@contextmanager
def serve_wsgiref(app: Any) -> Iterator[str]:
    """Serve ``app`` with the standard library's reference WSGI server; yield its base URL.

    Unlike werkzeug, it joins a repeated header into one comma-separated value, as
    gunicorn does.
    """
    server = wsgiref_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


def open_request(base: str, head: str, body: bytes = b"") -> socket.socket:
    """Send a request's head (and the start of a body) on a raw socket, leaving it open."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
    return sock


def read_response(sock: socket.socket) -> tuple[int, dict[str, Any]]:
    """Read one HTTP response with a Content-Length from ``sock``: its status and JSON body."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    found = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    assert found is not None, head
    while len(rest) < int(found.group(1)):
        rest += sock.recv(65536)
    return int(head.split()[1]), json.loads(rest)
