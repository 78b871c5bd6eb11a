"""The receiver as an ASGI application, with no framework inside.

It runs under uvicorn directly, mounts in Starlette or FastAPI (``app.mount("/hooks", ...)``)
and serves as the endpoint of an exact-path route (``Route("/hooks/payment", app,
methods=["POST"])``): it is an object with ``__call__``, which Starlette treats as an ASGI
app rather than a request handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from ._response import DeliveryRejectedError, WebhookResponse, internal_error, reject

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
    bytes received so far exceed the receiver's ``max_body_bytes``. The path given to the
    scheme is the full path the sender requested, mount prefix included. Lifespan events are
    acknowledged, so it can run as the whole application.
    """

    def __init__(self, receiver: WebhookReceiver) -> None:
        self.receiver = receiver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one ASGI connection."""
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        elif scope["type"] == "http":
            try:
                response = await self._respond(scope, receive)
            except DeliveryRejectedError as rejected:
                response = rejected.response
            except Exception:
                response = internal_error(f"{scope.get('method')} {scope.get('path')}")
            if response is not None:
                await _send_response(send, response)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1003})

    async def _respond(self, scope: Scope, receive: Receive) -> WebhookResponse | None:
        receiver = self.receiver
        headers = _headers(scope)
        method: str = scope["method"]
        early = receiver.precheck(method, headers, _content_length(headers))
        if early is not None:
            return early
        body = await _read_body(receive, receiver.max_body_bytes)
        if body is None:
            return None  # the client went away; nobody to answer
        if isinstance(body, int):
            return receiver.too_large()
        query = bytes(scope.get("query_string", b"")).decode("latin-1")
        return await receiver.handle_async(
            body, headers, method=method, path=full_path(scope), query=query
        )


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


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        # A repeated header keeps its first value: signature headers are never repeated.
        headers.setdefault(raw_name.decode("latin-1").lower(), raw_value.decode("latin-1"))
    return headers


def _content_length(headers: dict[str, str]) -> int | None:
    value = headers.get("content-length")
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()):
        raise reject(400, f"invalid Content-Length header {value!r}")
    return int(value)


async def _read_body(receive: Receive, limit: int) -> bytes | int | None:
    """The whole body; its running size once that passes ``limit``; ``None`` on disconnect."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return size
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


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
