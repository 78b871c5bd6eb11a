"""The receiver in a FastAPI app: ``app.include_router(router(receiver, "/path"))``.

The router holds two routes at the path: a documented ``POST`` operation (it shows in
``app.openapi()`` and ``/docs`` with the answer's schema, and runs the router's
dependencies, as any FastAPI operation does) and, behind it, the receiver's own route for
every other method, so a ``GET`` gets the receiver's JSON 405 with ``Allow: POST`` instead
of FastAPI's ``{"detail": ...}``. Both hand the request to the receiver's ASGI app, which
reads the body itself, once, within ``max_body_bytes``: declare no body parameter and no
middleware that reads the body before it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from ._response import OutcomeName
from ._starlette import webhook_route

if TYPE_CHECKING:
    from ._receiver import WebhookReceiver

__all__ = ["WebhookAnswer", "router"]

SUMMARY = "Receive a webhook delivery"
DESCRIPTION = (
    "A signed event from the sender, verified against the raw body, de-duplicated by its "
    "id and published. 2xx means handled (or already handled, or ignored): do not retry. "
    "Any other status is worth a retry except 400, 401, 405, 413, 415 and 422, which "
    "repeat until the request changes."
)
#: Each status the receiver answers besides 200, with when (the same table as the README).
STATUSES = {
    400: "The body is not JSON, not an object, or an envelope field (id, type, times) is wrong",
    401: "The signature check failed; nothing was parsed or published",
    405: "Not a POST (the answer has Allow: POST)",
    408: "The body did not arrive in time",
    409: "Another delivery of this event is being handled right now; retry later",
    413: "The body is larger than the receiver's max_body_bytes",
    415: "The content type is not JSON",
    422: "The data does not fit the event type's registered model",
    500: "A handler failed (the error names which); on the retry only the failed ones run",
}


class WebhookAnswer(BaseModel):
    """The JSON body of every answer: :attr:`eventbus.webhooks.WebhookResponse.body`."""

    ok: bool = Field(description="true exactly for a 2xx status: the sender should not retry")
    outcome: OutcomeName = Field(
        description="handled, ignored or duplicate (200), in_flight (409), failed (500), "
        "rejected (any other status)"
    )
    event_id: str | None = Field(description="the event's id once known")
    error: str | None = Field(description="what went wrong and what to do about it")


def router(receiver: WebhookReceiver, path: str) -> APIRouter:
    """A router serving ``receiver`` at exactly ``path``; include it in a FastAPI app.

    ``app.include_router(router(receiver, "/callback"), prefix="/api")`` serves
    ``/api/callback``; the scheme sees that full path. Every answer is the receiver's JSON.
    ``path + "/"`` is not served: FastAPI redirects it with a 307, which senders count as a
    failed delivery, so give senders the path exactly.

    :param receiver: the receiver to serve
    :param path: the operation's path, starting with ``/``
    """
    app = receiver.asgi_app()

    async def receive_webhook() -> Response:
        return _Delegate(app)

    api = APIRouter()
    api.add_api_route(
        path,
        receive_webhook,
        methods=["POST"],
        summary=SUMMARY,
        description=DESCRIPTION,
        response_model=WebhookAnswer,
        response_description="Handled, already handled (duplicate) or ignored",
        responses={
            status: {"model": WebhookAnswer, "description": text}
            for status, text in STATUSES.items()
        },
        openapi_extra={"requestBody": _REQUEST_BODY},
    )
    api.routes.append(webhook_route(receiver, path))
    return api


_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "description": "The event as the sender signed it (any JSON object with a type)",
    "content": {"application/json": {"schema": {"type": "object"}}},
}


class _Delegate(Response):
    """What the documented operation returns: sending it runs the receiver's ASGI app on
    the request, which has not been read yet (the operation declares no body), then any
    background tasks the router's dependencies added."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__()
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)
        if self.background is not None:
            await self.background()
