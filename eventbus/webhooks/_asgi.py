"""The receiver as an ASGI application, with no framework inside.

It runs under uvicorn directly, mounts in Starlette or FastAPI (``app.mount("/hooks", ...)``)
and serves as the endpoint of an exact-path route (``Route("/hooks/payment", app,
methods=["POST"])``): it is an object with ``__call__``, which Starlette treats as an ASGI
app rather than a request handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import anyio

from . import _steps as steps
from ._request import WebhookRequest
from ._response import DeliveryRejectedError, WebhookResponse, answer

if TYPE_CHECKING:
    from ._receiver import WebhookReceiver

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class AsgiWebhookApp:
    """Serve a :class:`WebhookReceiver` over ASGI; get one from
    :meth:`WebhookReceiver.asgi_app`.

    It reads the body itself, once, refusing it with 413 as soon as ``Content-Length`` or the
    bytes received so far exceed the receiver's ``max_body_bytes``, and with 408 when it is
    not complete within ``read_timeout`` seconds of the request's start. The path given to
    the scheme is the raw path the sender requested (``raw_path``), mount prefix included.
    Lifespan events are acknowledged, so it can run as the whole application.
    """

    def __init__(self, receiver: WebhookReceiver) -> None:
        self.receiver = receiver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one ASGI connection."""
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        elif scope["type"] == "http":
            response = await self._respond(scope, receive)
            if response is not None:
                await _send_response(send, response)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1003})

    async def _respond(self, scope: Scope, receive: Receive) -> WebhookResponse | None:
        receiver = self.receiver
        path = full_path(scope)
        pairs = tuple(
            (name.decode("latin-1").lower(), value.decode("latin-1"))
            for name, value in scope.get("headers", ())
        )
        method = str(scope["method"]).upper()
        try:
            headers = dict(reversed(pairs))  # first value of a repeated header
            size = steps.content_length(headers.get("content-length"))
            steps.precheck(method, headers, size, receiver.max_body_bytes)
            body = await _read_body(receive, receiver.max_body_bytes, receiver.read_timeout)
        except Exception as exc:
            return answer(exc, f"{method} {path}")
        if body is None:
            return None  # the client went away; nobody to answer
        request = WebhookRequest(method, path, _raw_path(scope, path), _query(scope), pairs, body)
        return await receiver.serve_async(request, prechecked=True)


def full_path(scope: Scope) -> str:
    """The path the sender requested, mount prefix included.

    Current servers and Starlette keep the full path in ``path`` and the mount prefix in
    ``root_path``; older ones strip the prefix from ``path``, and then it is added back.
    """
    path: str = scope.get("path") or "/"
    root: str = scope.get("root_path") or ""
    if not root or path == root or path.startswith(root.rstrip("/") + "/"):
        return path
    return root.rstrip("/") + path


def _raw_path(scope: Scope, path: str) -> str:
    raw = scope.get("raw_path")
    if not raw:
        return quote(path)
    return bytes(raw).decode("latin-1").split("?", 1)[0]


def _query(scope: Scope) -> str:
    return bytes(scope.get("query_string", b"")).decode("latin-1")


async def _read_body(receive: Receive, limit: int, timeout: float) -> bytes | None:
    """The whole body, or ``None`` when the client disconnected.

    :raises DeliveryRejectedError: 413 once more than ``limit`` bytes arrived; 408 when the
        body is not complete within ``timeout`` seconds
    """
    chunks: list[bytes] = []
    size = 0
    with anyio.move_on_after(timeout):
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise DeliveryRejectedError(steps.too_large(limit, None))
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
    raise DeliveryRejectedError(steps.timed_out(timeout))


async def _send_response(send: Send, response: WebhookResponse) -> None:
    content = response.content
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(content)).encode()),
        *(
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in response.headers.items()
        ),
    ]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
