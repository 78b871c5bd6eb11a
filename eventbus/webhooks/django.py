"""The receiver in a Django project: ``path("api/payment/callback", webhook_view(receiver))``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from . import _steps as steps
from ._asgi import _raw_path as asgi_raw_path
from ._request import WebhookRequest
from ._response import DeliveryRejectedError, answer, reject
from ._wsgi import _raw_path as wsgi_raw_path

if TYPE_CHECKING:
    from ._receiver import WebhookReceiver
    from ._response import WebhookResponse

__all__ = ["webhook_view"]


def webhook_view(receiver: WebhookReceiver) -> Callable[[HttpRequest], HttpResponse]:
    """A view serving ``receiver``, for a ``path()`` in your URLconf.

    It is exempt from CSRF checks (senders cannot send your CSRF token; the signature is
    what authenticates them), takes every method (the receiver answers 405 with
    ``Allow: POST``) and passes the method, path, query and headers as received. Every
    answer is the receiver's JSON with its headers: a body over ``max_body_bytes`` or over
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` gets its 413, not Django's HTML 400. The view is sync:
    handlers run in the request's thread (:meth:`WebhookReceiver.handle`), under ASGI in
    the thread Django runs sync views in. The path verified is the raw path as sent:
    ASGI's ``raw_path``, or under WSGI the server's ``RAW_URI`` or ``REQUEST_URI``
    (gunicorn, uWSGI, werkzeug).

    :param receiver: the receiver to serve
    """

    @csrf_exempt
    def receive_webhook(request: HttpRequest) -> HttpResponse:
        response = _deliver(receiver, request)
        return HttpResponse(
            response.content,
            status=response.status,
            content_type="application/json",
            headers=dict(response.headers),
        )

    return receive_webhook


def _deliver(receiver: WebhookReceiver, request: HttpRequest) -> WebhookResponse:
    method = request.method or "GET"
    pairs = tuple(request.headers.items())
    try:
        size = steps.content_length(request.META.get("CONTENT_LENGTH") or None)
        steps.precheck(method, dict(pairs), size, receiver.max_body_bytes)
        body = _read_body(request, receiver.max_body_bytes)
    except Exception as exc:
        return answer(exc, f"{method} {request.path}")
    delivery = WebhookRequest.of(
        body,
        pairs,
        method=method,
        path=request.path,
        query=request.META.get("QUERY_STRING", ""),
        raw_path=_raw_path(request),
    )
    return receiver.serve(delivery, prechecked=True)


def _read_body(request: HttpRequest, limit: int) -> bytes:
    """The body, as Django reads it (under ASGI Django has read it before the view, also
    when it came chunked, without a ``Content-Length`` to check first).

    :raises DeliveryRejectedError: 413 over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` or ``limit``
    """
    try:
        body = request.body
    except RequestDataTooBig:
        raise reject(
            413,
            f"the body exceeds Django's DATA_UPLOAD_MAX_MEMORY_SIZE="
            f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE}; raise it if the sender's events are "
            "this large",
        ) from None
    if len(body) > limit:
        raise DeliveryRejectedError(steps.too_large(limit, len(body)))
    return body


def _raw_path(request: HttpRequest) -> str:
    """The path percent-encoded as sent: ASGI's ``raw_path``, or the WSGI server's."""
    if isinstance(request, ASGIRequest):
        return asgi_raw_path(dict(request.scope), request.path)
    return wsgi_raw_path(request.META, request.path)
