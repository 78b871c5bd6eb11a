"""The ASGI apps ``benchmarks.http`` serves with uvicorn, one factory per row.

``ceiling`` answers at once without reading the request: the client's own limit. Every other
app verifies a Standard Webhooks signature over the raw body, parses the JSON and calls
one sync handler. ``bare`` is the floor: a Starlette endpoint doing only that (HMAC +
``json.loads`` + the handler), no de-duplication. The others are ``WebhookReceiver`` with the
memory store or the SQLite store (``synchronous="normal"``, the file named by
``EVENTBUS_BENCH_DB``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from eventbus import Event, EventBus
from eventbus.inbox import SqliteIdempotencyStore
from eventbus.webhooks import StandardWebhooks, WebhookReceiver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
_KEY = base64.b64decode(SECRET.removeprefix("whsec_"))


def handler(event: Any) -> None:
    """The one handler every row runs: it reads a field, as real handlers do."""
    _ = event["data"] if isinstance(event, dict) else event.data


def ceiling() -> Any:
    """An ASGI app that answers 200 at once: how fast the client itself can go."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


def bare() -> Starlette:
    """HMAC + json.loads + the handler, in a plain Starlette endpoint."""

    async def endpoint(request: Request) -> JSONResponse:
        body = await request.body()
        headers = request.headers
        signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
        expected = base64.b64encode(hmac.digest(_KEY, signed, hashlib.sha256)).decode()
        given = headers["webhook-signature"].split(",", 1)[1]
        if not hmac.compare_digest(expected, given):
            return JSONResponse({"ok": False}, status_code=401)
        handler(json.loads(body))
        return JSONResponse({"ok": True, "outcome": "handled"})

    return Starlette(routes=[Route("/", endpoint, methods=["POST"])])


def _receiver(store: Any = None) -> Any:
    bus = EventBus()
    bus.subscribe("invoice.paid", _typed_handler, name="handler")
    return WebhookReceiver(bus, StandardWebhooks(SECRET), idempotency=store).asgi_app()


def _typed_handler(event: Event[Any]) -> None:
    handler(event)


def receiver_memory() -> Any:
    """WebhookReceiver with its default in-memory store."""
    return _receiver()


def receiver_sqlite() -> Any:
    """WebhookReceiver with the SQLite store at synchronous="normal" (one file per run)."""
    path = os.environ["EVENTBUS_BENCH_DB"]
    return _receiver(SqliteIdempotencyStore(path, synchronous="normal"))
