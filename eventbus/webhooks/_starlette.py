"""The receiver as a Starlette route (needs Starlette, which FastAPI includes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import Route

if TYPE_CHECKING:
    from ._receiver import WebhookReceiver


def webhook_route(receiver: WebhookReceiver, path: str) -> Route:
    """A route serving ``receiver`` at exactly ``path``, for every method.

    The route does not restrict methods itself: a method Starlette would refuse with its
    plain-text 405 reaches the receiver, which answers its own JSON 405 with
    ``Allow: POST``. The endpoint is the receiver's ASGI app, so the body is read once,
    within ``max_body_bytes``, and the scheme sees the full path, mount prefix included.
    """
    return Route(path, receiver.asgi_app(), name="eventbus_webhook")
