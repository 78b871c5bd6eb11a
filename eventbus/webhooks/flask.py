"""The receiver in a Flask app: ``app.register_blueprint(blueprint(receiver, "/path"))``.

Needs Flask 3.1 or later (for the per-request body limit).
"""

from __future__ import annotations

from http import HTTPMethod
from typing import TYPE_CHECKING

from flask import Blueprint, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from ._response import reject

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
    is part of the path the scheme verifies.

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
    headers = dict(request.headers.items())
    early = receiver.precheck(request.method, headers, request.content_length)
    if early is not None:
        return early
    app_limit = request.max_content_length
    limit = (
        receiver.max_body_bytes if app_limit is None else min(app_limit, receiver.max_body_bytes)
    )
    # One byte over the limit: werkzeug cuts a chunked body at the limit without an error.
    request.max_content_length = limit + 1
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        body = None
    if body is None or len(body) > limit:
        return _too_large(receiver, app_limit)
    return receiver.handle(
        body,
        request.headers,
        method=request.method,
        path=request.script_root + request.path,
        query=request.query_string.decode("latin-1"),
    )


def _too_large(receiver: WebhookReceiver, app_limit: int | None) -> WebhookResponse:
    if app_limit is None or app_limit >= receiver.max_body_bytes:
        return receiver.too_large(request.content_length)
    return reject(
        413,
        f"the body exceeds the app's MAX_CONTENT_LENGTH={app_limit}; raise it if the "
        "sender's events are this large",
    ).response


def _flask_response(answer: WebhookResponse) -> Response:
    return Response(
        answer.content,
        status=answer.status,
        headers=dict(answer.headers),
        content_type="application/json",
    )
