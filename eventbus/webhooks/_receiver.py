"""The receiver: a delivery in, verified, de-duplicated and published, an answer out.

A delivery is a :class:`WebhookRequest` that goes through the pure steps of
:mod:`._steps` to an event, which the receiver's :class:`~eventbus.inbox.Inbox` delivers
(claim, publish skipping completed handlers, settle); :func:`_outcome` maps the inbox's
:class:`~eventbus.inbox.Delivery` to the answer. :meth:`WebhookReceiver.handle` and
:meth:`WebhookReceiver.handle_async` differ only in calling ``deliver_sync`` or ``deliver``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .._loop import in_event_loop
from ..inbox import AsyncIdempotencyStore, Delivery, IdempotencyStore, Inbox
from . import _steps as steps
from ._queue import EventQueue, check_queue, queued
from ._request import Headers, WebhookRequest
from ._response import OUTCOMES, DeliveryRejectedError, Outcome, WebhookResponse, answer, ended
from ._scheme import SignatureScheme

if TYPE_CHECKING:
    from starlette.routing import Route

    from .._bus import EventBus
    from .._envelope import Event
    from ._asgi import AsgiWebhookApp
    from ._wsgi import WsgiWebhookApp


class WebhookReceiver:
    """Turn verified webhook deliveries into events on ``bus``, each handled once.

    A delivery goes through, in order: method (405), size (413), content type (415),
    signature (401, also for a signature header given twice), body (400: not JSON, not an
    object, no type, no id), ``enabled_events`` (200 ``ignored``), envelope (400: a field
    such as ``created_at`` of the wrong kind) and typed validation (422: the data does not
    fit the model registered for the type), then delivery through an
    :class:`~eventbus.inbox.Inbox`: 200 ``duplicate`` when every handler has already
    succeeded, 409 ``in_flight`` while another delivery of the event is being handled, 200
    ``handled`` when every handler succeeded, 500 ``failed`` naming the failed handlers (the
    sender's retry runs only those), and 200 ``dead_letter`` once ``max_attempts`` attempts
    have failed (so the sender stops; :meth:`Inbox.retry_dead_letter` runs it again). A store
    whose file vanished is answered 500 naming the file, logged at ERROR. Every refusal is
    logged as one line on the ``eventbus.webhooks`` logger; anything that goes wrong inside
    the adapter itself is logged with its traceback and answered 500.

    :param bus: the bus to publish on
    :param scheme: how deliveries are verified; :class:`Unverified` opts out explicitly
    :param idempotency: the inbox's store (default: a new :class:`MemoryIdempotencyStore`;
        use :class:`SqliteIdempotencyStore` across restarts and the worker processes of one
        machine, :class:`eventbus.redis.RedisIdempotencyStore` across machines)
    :param max_attempts: give an event up as a dead letter when its ``max_attempts``-th
        attempt fails (default ``None``: the sender's retries decide)
    :param enabled_events: patterns of the types to publish (as in the bus: ``invoice.*``,
        ``customer.**``); other types are answered 200 ``ignored`` (default: every type)
    :param max_body_bytes: larger bodies are refused with 413 before being read whole
    :param read_timeout: seconds from the start of a request within which the ASGI app
        must have received the whole body (a total deadline, not an idle timer); a slower
        sender gets 408 and nothing is published
    :param queue: answer 202 ``queued`` once the event is on this queue (a
        :class:`~eventbus.redis.RedisStreams`), or 200 ``duplicate`` for an id queued
        already, instead of running the handlers: the queue's consumers run them
    :raises InvalidPatternError: a pattern in ``enabled_events`` is malformed
    :raises TypeError: ``queue`` with ``idempotency`` or ``max_attempts``
    """

    def __init__(
        self,
        bus: EventBus,
        scheme: SignatureScheme,
        *,
        idempotency: IdempotencyStore | AsyncIdempotencyStore | None = None,
        max_attempts: int | None = None,
        enabled_events: str | Iterable[str] | None = None,
        max_body_bytes: int = 1_048_576,
        read_timeout: float = 10.0,
        queue: EventQueue | None = None,
    ) -> None:
        self.queue = check_queue(queue, idempotency, max_attempts)
        if isinstance(scheme, type) or not callable(getattr(scheme, "verify", None)):
            raise TypeError(
                f"scheme must be a signature scheme such as StandardWebhooks(secret), not "
                f"{scheme!r}; to accept unsigned deliveries in development pass Unverified()"
            )
        if max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be positive, not {max_body_bytes!r}")
        if not read_timeout > 0:
            raise ValueError(
                f"read_timeout must be a positive number of seconds, not {read_timeout!r}"
            )
        self.bus = bus
        self.scheme = scheme
        self.inbox = Inbox(bus, idempotency, max_attempts=max_attempts)
        self.idempotency = self.inbox.store
        self.max_body_bytes = max_body_bytes
        self.read_timeout = float(read_timeout)
        self._wanted = steps.type_filter(enabled_events)

    # -- entry points ------------------------------------------------------------------

    async def handle_async(
        self,
        body: bytes,
        headers: Headers,
        *,
        method: str = "POST",
        path: str = "/",
        query: str = "",
        raw_path: str | None = None,
    ) -> WebhookResponse:
        """Handle one delivery and return the answer for the sender.

        Nothing a sender sends makes this raise: every problem becomes a response.

        :param body: the raw request body, exactly as received
        :param headers: the request headers (names looked up case-insensitively): a
            mapping, Flask's ``request.headers``, or a sequence of ``(name, value)`` pairs,
            the form in which a repeated header is seen (and refused, for a signature
            header)
        :param method: the request method
        :param path: the full decoded path the sender requested, mount prefix included
        :param query: the raw query string, without ``?``
        :param raw_path: the path percent-encoded as sent (ASGI's ``raw_path``), which
            schemes that sign the URL check (default: ``path``)
        :raises TypeError: the calling code passed a body that is not bytes, or headers
            that are neither a mapping nor pairs
        """
        request = _request(body, headers, method, path, query, raw_path)
        return await self.serve_async(request)

    def handle(
        self,
        body: bytes,
        headers: Headers,
        *,
        method: str = "POST",
        path: str = "/",
        query: str = "",
        raw_path: str | None = None,
    ) -> WebhookResponse:
        """The sync twin of :meth:`handle_async`, for Flask and Django views; never raises.

        Runs in the calling thread with no event loop of its own: the store is called
        directly, and the event is published with :meth:`EventBus.publish`. A route without
        async handlers runs in this thread; one with an async handler runs, its sync handlers
        too, on the bus's own long-lived loop thread (``eventbus-loop``) while this thread
        waits, or on the host loop from an anyio worker thread.

        :raises RuntimeError: called inside a running event loop; await
            :meth:`handle_async` there
        :raises TypeError: as for :meth:`handle_async`
        """
        if in_event_loop():
            raise RuntimeError(
                "WebhookReceiver.handle() was called inside a running event loop; "
                "use 'await receiver.handle_async(...)' there"
            )
        return self.serve(_request(body, headers, method, path, query, raw_path))

    async def serve_async(
        self, request: WebhookRequest, *, prechecked: bool = False
    ) -> WebhookResponse:
        """Handle a delivery given as a :class:`WebhookRequest`; what adapters call.

        :param prechecked: the adapter already ran :meth:`precheck` on it
        """
        try:
            admitted = self._admit(request, prechecked=prechecked)
            if isinstance(admitted, Outcome):
                return answer(admitted, request.where)
            if self.queue is not None:
                return answer(queued(admitted, await self.queue.enqueue(admitted)), request.where)
            return answer(_outcome(await self.inbox.deliver(admitted)), request.where)
        except Exception as exc:
            return answer(exc, request.where)

    def serve(self, request: WebhookRequest, *, prechecked: bool = False) -> WebhookResponse:
        """The sync twin of :meth:`serve_async` (no event-loop check: adapters know)."""
        try:
            admitted = self._admit(request, prechecked=prechecked)
            if isinstance(admitted, Outcome):
                return answer(admitted, request.where)
            if self.queue is not None:
                return answer(queued(admitted, self.queue.enqueue_sync(admitted)), request.where)
            return answer(_outcome(self.inbox.deliver_sync(admitted)), request.where)
        except Exception as exc:
            return answer(exc, request.where)

    def asgi_app(self) -> AsgiWebhookApp:
        """An ASGI application serving this receiver at whatever path it is mounted on."""
        from ._asgi import AsgiWebhookApp

        return AsgiWebhookApp(self)

    def route(self, path: str) -> Route:
        """A Starlette route serving this receiver at exactly ``path`` (needs Starlette).

        Put it in ``Starlette(routes=[...])`` or a ``Mount``; every answer, 405 (with
        ``Allow: POST``) and 413 included, is the receiver's JSON. For FastAPI use
        :func:`eventbus.webhooks.fastapi.router`, which also documents the operation.
        """
        from ._starlette import webhook_route

        return webhook_route(self, path)

    def wsgi_app(self) -> WsgiWebhookApp:
        """A WSGI application serving this receiver, for WSGI servers, Flask and Django."""
        from ._wsgi import WsgiWebhookApp

        return WsgiWebhookApp(self)

    # -- answers adapters give before the body is read ---------------------------------

    def precheck(
        self, method: str, headers: Mapping[str, str], size: int | None, *, path: str = "/"
    ) -> WebhookResponse | None:
        """The 405, 413 or 415 answer a request gets before its body is read, if any.

        :param size: the body's length when known (``Content-Length``), else ``None``
        :param path: the request's path, for the log line of a refusal
        """
        try:
            steps.precheck(method, headers, size, self.max_body_bytes)
        except DeliveryRejectedError as rejected:
            return answer(rejected, f"{method.upper()} {path}")
        return None

    def method_not_allowed(self, method: str, *, path: str = "/") -> WebhookResponse:
        """The 405 answer (with ``Allow: POST``) for any method but POST."""
        return answer(steps.method_not_allowed(method), f"{method.upper()} {path}")

    def too_large(self, size: int | None = None, *, path: str = "/") -> WebhookResponse:
        """The 413 answer for a body over ``max_body_bytes`` (``size`` bytes when known)."""
        return answer(steps.too_large(self.max_body_bytes, size), f"POST {path}")

    # -- the pipeline ------------------------------------------------------------------

    def _admit(self, request: WebhookRequest, *, prechecked: bool) -> Outcome | Event[Any]:
        """Precheck, verify, decode, filter, build: the ignored outcome, else the event."""
        headers = request.headers
        if not prechecked:
            steps.precheck(request.method, headers, len(request.body), self.max_body_bytes)
        delivery_id = steps.verify(self.scheme, request, headers)
        fields = steps.decode(request.body, delivery_id, headers.get("traceparent"))
        if not self._wanted(fields["type"]):
            return ended("ignored", fields["id"])
        return steps.build(self.bus, fields)

    def __repr__(self) -> str:
        return f"WebhookReceiver({self.bus!r}, {self.scheme!r}, idempotency={self.idempotency!r})"


def _request(
    body: object,
    headers: object,
    method: str,
    path: str,
    query: str,
    raw_path: str | None,
) -> WebhookRequest:
    """The request value of a ``handle`` call, refusing mistakes in the calling code itself,
    which no retry by the sender could fix.

    :raises TypeError: the body is not bytes (a decoded ``str`` cannot be verified), or the
        headers are neither a mapping nor ``(name, value)`` pairs
    """
    if not isinstance(body, bytes | bytearray | memoryview):
        raise TypeError(
            f"body must be the raw request bytes, not {type(body).__name__}; pass "
            "request.get_data() in Flask, request.body in Django, await request.body() in "
            "Starlette (signatures cover the exact bytes, so never a decoded or parsed body)"
        )
    if not callable(getattr(headers, "items", None)) and not _is_pairs(headers):
        raise TypeError(
            f"headers must be a mapping of names to values, Flask's request.headers or a "
            f"sequence of (name, value) pairs, not {type(headers).__name__}"
        )
    pairs: Headers = headers  # type: ignore[assignment]
    return WebhookRequest.of(
        bytes(body), pairs, method=method, path=path, query=query, raw_path=raw_path
    )


def _is_pairs(headers: object) -> bool:
    return isinstance(headers, list | tuple) and all(
        isinstance(pair, tuple | list) and len(pair) == 2 for pair in headers
    )


#: Each delivery status's error text (``str.format`` fields: ``count`` and ``names`` of the
#: failed handlers, ``attempt``); its HTTP status is in :data:`OUTCOMES`.
_ERRORS: dict[str, str] = {
    "in_flight": OUTCOMES["in_flight"][1],
    "failed": "{count} handler(s) failed: {names}; on the sender's retry only these run again "
    "(details in the server log)",
    "dead_letter": "given up as a dead letter after {attempt} attempt(s); nothing runs on "
    "redelivery (list them with inbox.dead_letters(), retry with inbox.retry_dead_letter)",
}


def _outcome(delivery: Delivery) -> Outcome:
    """The answer for what the inbox did with the event."""
    error = _ERRORS.get(delivery.status)
    if error is not None:
        names = ", ".join(delivery.failed)
        error = error.format(count=len(delivery.failed), names=names, attempt=delivery.attempt)
    return ended(delivery.status, delivery.event_id, error)
