"""An ASGI wrapper around the receiver that reports each delivery once it was answered.

It copies what passes through (the request body, the response status and body) without
changing it, so the receiver behaves exactly as it does when mounted in an application;
the one exception is a forwarded delivery, whose answer is the application's (see
:class:`Relayed`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Relayed:
    """What the ``--forward-to`` application answered; the listener answers the same.

    With forwarding, the application is the one that de-duplicates and validates, so its
    answer (a 200 ``duplicate``, a 422 naming a field) is what the sender must see.
    """

    status: int
    content_type: str
    body: bytes

    def replace(self, message: Message) -> Message:
        """The receiver's response ``message`` rewritten to carry this answer instead."""
        if message["type"] == "http.response.start":
            headers = [
                (b"content-type", self.content_type.encode("latin-1")),
                (b"content-length", b"%d" % len(self.body)),
            ]
            return {"type": "http.response.start", "status": self.status, "headers": headers}
        return {"type": "http.response.body", "body": self.body}


@dataclass(slots=True)
class Delivery:
    """One request to the listener, as seen on the wire.

    :ivar body: the raw request body (as much as the receiver read)
    :ivar headers: the request headers, names in lower case
    :ivar status: the status answered (0 until the response starts; uvicorn answers 500
        when the application raised before that)
    :ivar response: the response body
    :ivar forwarded: what the ``--forward-to`` endpoint answered, when it was asked
    :ivar relayed: that answer in full, sent to the sender in place of the receiver's
    """

    headers: dict[str, str]
    body: bytearray = field(default_factory=bytearray)
    status: int = 0
    response: bytearray = field(default_factory=bytearray)
    forwarded: str | None = None
    relayed: Relayed | None = None


#: The delivery being handled, so the forwarding handler can re-send its exact bytes (set
#: for every request the listener answers; outside one, ``get()`` raises LookupError).
current_delivery: ContextVar[Delivery] = ContextVar("eventbus_cli_delivery")


class Tap:
    """Serve ``app`` at ``path`` only, and call ``report`` with each answered delivery.

    Requests to any other path get a 404 (and are reported too), so a sender pointed at the
    wrong URL shows up instead of silently reaching the receiver.
    """

    def __init__(self, app: ASGIApp, path: str, report: Callable[[Delivery], None]) -> None:
        self.app = app
        self.path = path
        self.report = report

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope["headers"]
        }
        delivery = Delivery(headers)

        async def tapped_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                delivery.body += message.get("body", b"")
            return message

        async def tapped_send(message: Message) -> None:
            if delivery.relayed is not None:
                message = delivery.relayed.replace(message)
            if message["type"] == "http.response.start":
                delivery.status = message["status"]
            elif message["type"] == "http.response.body":
                delivery.response += message.get("body", b"")
            await send(message)

        token = current_delivery.set(delivery)
        try:
            if scope["path"] == self.path:
                await self.app(scope, tapped_receive, tapped_send)
            else:
                await self._not_found(scope["path"], tapped_send)
        finally:
            current_delivery.reset(token)
            self.report(delivery)

    async def _not_found(self, path: str, send: Send) -> None:
        body = json.dumps(
            {
                "ok": False,
                "outcome": "rejected",
                "event_id": None,
                "error": f"no webhook endpoint at {path}; this listener serves {self.path}",
            }
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 404, "headers": headers})
        await send({"type": "http.response.body", "body": body})
