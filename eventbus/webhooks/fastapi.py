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

from ._response import OUTCOMES, REFUSALS, OutcomeName
from ._starlette import webhook_route

if TYPE_CHECKING:
    from ._receiver import WebhookReceiver

__all__ = ["WebhookAnswer", "router"]

SUMMARY = "Receive a webhook delivery"
DESCRIPTION = (
    "A signed event from the sender, verified against the raw body, de-duplicated by its "
    "id and published. 2xx means handled, queued, already handled, ignored or given up as "
    "a dead letter: do not retry. "
    "Any other status is worth a retry except 400, 401, 405, 413, 415 and 422, which "
    "repeat until the request changes."
)


def _documented_statuses() -> dict[int, str]:
    """Each status the receiver answers, with its outcomes and when, from the one table in
    :mod:`eventbus.webhooks._response` (so the documented responses cannot drift from it)."""
    whens: dict[int, list[str]] = {}
    for outcome, (status, when) in OUTCOMES.items():
        whens.setdefault(status, []).append(f"- `{outcome}`: {when}")
    for status, when in REFUSALS.items():
        whens.setdefault(status, []).append(f"- `rejected`: {when}")
    return {status: "\n".join(whens[status]) for status in sorted(whens)}


def _outcome_description() -> str:
    by_status: dict[int, list[str]] = {}
    for outcome, (status, _) in OUTCOMES.items():
        by_status.setdefault(status, []).append(outcome)
    parts = [f"{_either(names)} ({status})" for status, names in sorted(by_status.items())]
    return ", ".join(parts) + ", rejected (" + ", ".join(map(str, sorted(REFUSALS))) + ")"


def _either(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


#: Each status the receiver answers, with its outcomes and when.
STATUSES = _documented_statuses()


class WebhookAnswer(BaseModel):
    """The JSON body of every answer: :attr:`eventbus.webhooks.WebhookResponse.body`."""

    ok: bool = Field(description="true exactly for a 2xx status: the sender should not retry")
    outcome: OutcomeName = Field(description=_outcome_description())
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
        response_description=STATUSES[200],
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
