"""The receiver in a Django project: ``path("api/payment/callback", webhook_view(receiver))``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from ._response import reject

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
    the thread Django runs sync views in.

    :param receiver: the receiver to serve
    """

    @csrf_exempt
    def receive_webhook(request: HttpRequest) -> HttpResponse:
        answer = _deliver(receiver, request)
        return HttpResponse(
            answer.content,
            status=answer.status,
            content_type="application/json",
            headers=dict(answer.headers),
        )

    return receive_webhook


def _deliver(receiver: WebhookReceiver, request: HttpRequest) -> WebhookResponse:
    method = request.method or "GET"
    length = request.META.get("CONTENT_LENGTH") or None
    if length is not None and not (length.isascii() and length.isdigit()):
        return reject(400, f"invalid Content-Length header {length!r}").response
    early = receiver.precheck(
        method, dict(request.headers), None if length is None else int(length)
    )
    if early is not None:
        return early
    try:
        body = request.body
    except RequestDataTooBig:
        return reject(
            413,
            f"the body exceeds Django's DATA_UPLOAD_MAX_MEMORY_SIZE="
            f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE}; raise it if the sender's events are "
            "this large",
        ).response
    return receiver.handle(
        body,
        request.headers,
        method=method,
        path=request.path,
        query=request.META.get("QUERY_STRING", ""),
    )
