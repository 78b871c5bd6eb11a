"""The receiver as a WSGI application, for WSGI servers, Flask and Django."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from ._response import DeliveryRejectedError, WebhookResponse, internal_error, reject

if TYPE_CHECKING:
    from ._receiver import WebhookReceiver

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
_CHUNK = 65_536


class WsgiWebhookApp:
    """Serve a :class:`WebhookReceiver` over WSGI; get one from
    :meth:`WebhookReceiver.wsgi_app`.

    Mount it under a prefix (werkzeug's ``DispatcherMiddleware`` for Flask) or serve it
    alone. It reads the body itself, refusing it with 413 as soon as ``Content-Length`` or
    the bytes read so far exceed ``max_body_bytes``. The path given to the scheme is
    ``SCRIPT_NAME`` + ``PATH_INFO``: the full path, mount prefix included. Each request is
    handled on a fresh event loop in the server's thread (:meth:`WebhookReceiver.handle`).
    """

    def __init__(self, receiver: WebhookReceiver) -> None:
        self.receiver = receiver

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """Answer one WSGI request."""
        try:
            response = self._respond(environ)
        except DeliveryRejectedError as rejected:
            response = rejected.response
        except Exception:
            response = internal_error(f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}")
        content = response.content
        phrase = HTTPStatus(response.status).phrase
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(content))),
            *response.headers.items(),
        ]
        start_response(f"{response.status} {phrase}", headers)
        return [content]

    def _respond(self, environ: Environ) -> WebhookResponse:
        receiver = self.receiver
        headers = _headers(environ)
        method = str(environ.get("REQUEST_METHOD", "GET"))
        length = _content_length(environ)
        early = receiver.precheck(method, headers, length)
        if early is not None:
            return early
        body = _read_body(environ, length, receiver.max_body_bytes)
        if body is None:
            return receiver.too_large()
        path = _text(environ.get("SCRIPT_NAME", "")) + _text(environ.get("PATH_INFO", ""))
        return receiver.handle(
            body, headers, method=method, path=path or "/", query=environ.get("QUERY_STRING", "")
        )


def _text(value: str) -> str:
    # PEP 3333 hands paths over as bytes decoded as latin-1; senders send UTF-8.
    return value.encode("latin-1").decode("utf-8", "replace")


def _headers(environ: Environ) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = environ[key]
    return headers


def _content_length(environ: Environ) -> int | None:
    value = environ.get("CONTENT_LENGTH") or None
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()):
        raise reject(400, f"invalid Content-Length header {value!r}")
    return int(value)


def _read_body(environ: Environ, length: int | None, limit: int) -> bytes | None:
    """The body, or ``None`` once more than ``limit`` bytes arrived.

    Without ``Content-Length`` the body is read to its end only when the server says the
    stream is terminated (``wsgi.input_terminated``); otherwise PEP 3333 forbids reading.
    """
    stream = environ["wsgi.input"]
    if length is None and not environ.get("wsgi.input_terminated"):
        return b""
    remaining = limit + 1 if length is None else length
    chunks: list[bytes] = []
    size = 0
    while remaining > 0:
        chunk = stream.read(min(_CHUNK, remaining))
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
