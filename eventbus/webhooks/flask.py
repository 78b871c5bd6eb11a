"""The receiver in a Flask app: ``app.register_blueprint(blueprint(receiver, "/path"))``.

Needs Flask 3.1 or later (for the per-request body limit).
"""

from __future__ import annotations

from http import HTTPMethod
from typing import TYPE_CHECKING

from flask import Blueprint, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from . import _steps as steps
from ._request import WebhookRequest
from ._response import DeliveryRejectedError, answer, reject
from ._wsgi import _raw_path

if TYPE_CHECKING:
    from ._receiver import WebhookReceiver
    from ._response import WebhookResponse

__all__ = ["blueprint"]

#: The view takes every method, so the receiver, not Flask, answers the 405.
_METHODS = [method.value for method in HTTPMethod]


def blueprint(receiver: WebhookReceiver, path: str) -> Blueprint:
    """A blueprint serving ``receiver`` at exactly ``path``.

    Every answer is the receiver's JSON: a method other than POST gets its 405 with
    ``Allow: POST`` (the view takes every standard method, ``OPTIONS`` included, so Flask
    never answers its own HTML 405), and a body over the smaller of the receiver's
    ``max_body_bytes`` and the app's ``MAX_CONTENT_LENGTH`` gets its 413, by
    ``Content-Length`` before reading or as soon as a chunked body passes the limit.
    Handlers run in the request's thread (:meth:`WebhookReceiver.handle`).

    The blueprint is named ``eventbus_webhook``; register a second one on the same app
    with ``app.register_blueprint(bp, name="...")``. A ``url_prefix`` given at registration
    is part of the path the scheme verifies: the raw path as sent, from the WSGI server's
    ``RAW_URI`` or ``REQUEST_URI`` (werkzeug, gunicorn and uWSGI set one).

    :param receiver: the receiver to serve
    :param path: the route's path, starting with ``/``
    """

    def receive_webhook() -> Response:
        return _flask_response(_deliver(receiver))

    bp = Blueprint("eventbus_webhook", __name__)
    bp.add_url_rule(
        path, view_func=receive_webhook, methods=_METHODS, provide_automatic_options=False
    )
    return bp


def _deliver(receiver: WebhookReceiver) -> WebhookResponse:
    method = request.method
    path = request.script_root + request.path
    pairs = tuple(request.headers.items())
    try:
        size = steps.content_length(request.headers.get("Content-Length"))
        steps.precheck(method, dict(pairs), size, receiver.max_body_bytes)
        body = _read_body(receiver.max_body_bytes)
    except Exception as exc:
        return answer(exc, f"{method} {path}")
    delivery = WebhookRequest.of(
        body,
        pairs,
        method=method,
        path=path,
        query=request.query_string.decode("latin-1"),
        raw_path=_raw_path(request.environ, path),
    )
    return receiver.serve(delivery, prechecked=True)


def _read_body(max_body_bytes: int) -> bytes:
    """The body, within the smaller of ``max_body_bytes`` and the app's limit.

    :raises DeliveryRejectedError: 413, naming the limit that was passed
    """
    app_limit = request.max_content_length
    limit = max_body_bytes if app_limit is None else min(app_limit, max_body_bytes)
    # One byte over the limit: werkzeug cuts a chunked body at the limit without an error.
    request.max_content_length = limit + 1
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        body = None
    if body is not None and len(body) <= limit:
        return body
    if limit == max_body_bytes:
        raise DeliveryRejectedError(steps.too_large(max_body_bytes, request.content_length))
    raise reject(
        413,
        f"the body exceeds the app's MAX_CONTENT_LENGTH={app_limit}; raise it if the "
        "sender's events are this large",
    )


def _flask_response(response: WebhookResponse) -> Response:
    return Response(
        response.content,
        status=response.status,
        headers=dict(response.headers),
        content_type="application/json",
    )
