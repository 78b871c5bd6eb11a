"""The receiver as a WSGI application, for WSGI servers, Flask and Django."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from . import _steps as steps
from ._request import WebhookRequest
from ._response import DeliveryRejectedError, WebhookResponse, answer

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
    the bytes read so far exceed ``max_body_bytes``. The path is ``SCRIPT_NAME`` +
    ``PATH_INFO``, mount prefix included; the raw path given to the scheme is the server's
    ``RAW_URI`` or ``REQUEST_URI`` when it sets one (gunicorn, uWSGI), else that path
    percent-encoded again. A WSGI server joins a repeated header into one value, which no
    signature header parses as, so such a delivery is refused too. Each request is handled
    in the server's thread (:meth:`WebhookReceiver.handle`).
    """

    def __init__(self, receiver: WebhookReceiver) -> None:
        self.receiver = receiver

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """Answer one WSGI request."""
        response = self._respond(environ)
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
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = _text(environ.get("SCRIPT_NAME", "")) + _text(environ.get("PATH_INFO", ""))
        path = path or "/"
        pairs = _header_pairs(environ)
        try:
            length = steps.content_length(environ.get("CONTENT_LENGTH") or None)
            steps.precheck(method, dict(pairs), length, receiver.max_body_bytes)
            body = _read_body(environ, length, receiver.max_body_bytes)
        except Exception as exc:
            return answer(exc, f"{method} {path}")
        query = str(environ.get("QUERY_STRING", ""))
        request = WebhookRequest(method, path, _raw_path(environ, path), query, pairs, body)
        return receiver.serve(request, prechecked=True)


def _text(value: str) -> str:
    # PEP 3333 hands paths over as bytes decoded as latin-1; senders send UTF-8.
    try:
        return value.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a server that decoded the path itself
        return value


def _raw_path(environ: Environ, path: str) -> str:
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not raw:
        return quote(path)
    return str(raw).split("?", 1)[0]


def _header_pairs(environ: Environ) -> tuple[tuple[str, str], ...]:
    pairs = [
        (key[5:].replace("_", "-").lower(), str(value))
        for key, value in environ.items()
        if key.startswith("HTTP_")
    ]
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            pairs.append((key.replace("_", "-").lower(), str(environ[key])))
    return tuple(pairs)


def _read_body(environ: Environ, length: int | None, limit: int) -> bytes:
    """The body.

    Without ``Content-Length`` the body is read to its end only when the server says the
    stream is terminated (``wsgi.input_terminated``); otherwise PEP 3333 forbids reading.

    :raises DeliveryRejectedError: 413 once more than ``limit`` bytes arrived
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
            raise DeliveryRejectedError(steps.too_large(limit, None))
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
