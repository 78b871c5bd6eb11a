"""The receiver: a delivery in, verified, de-duplicated and published, an answer out.

A delivery is a :class:`WebhookRequest` that goes through the pure steps of
:mod:`._steps` to an event, then through :meth:`WebhookReceiver._handling`, the one place
that claims it in the store, publishes it and settles the claim. That place is written once
as a generator of effects; :meth:`WebhookReceiver.handle` and
:meth:`WebhookReceiver.handle_async` differ only in how they carry the effects out.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator, Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import anyio
import anyio.to_thread

from .._loop import in_event_loop
from . import _steps as steps
from ._idempotency import Claim, IdempotencyStore, MemoryIdempotencyStore
from ._request import Headers, WebhookRequest
from ._response import DeliveryRejectedError, Outcome, WebhookResponse, answer
from ._scheme import SignatureScheme

if TYPE_CHECKING:
    from starlette.routing import Route

    from .._bus import EventBus
    from .._envelope import Event
    from .._result import PublishResult
    from ._asgi import AsgiWebhookApp
    from ._wsgi import WsgiWebhookApp


class _Store(NamedTuple):
    """Effect: call the idempotency store (``settle`` runs even while being cancelled)."""

    call: Callable[[], Any]
    shielded: bool = False


class _Publish(NamedTuple):
    """Effect: publish ``event`` on the bus, skipping the handlers already completed."""

    event: Event[Any]
    skip: frozenset[str]


_Effect = _Store | _Publish
_Handling = Generator[_Effect, Any, Outcome]


class WebhookReceiver:
    """Turn verified webhook deliveries into events on ``bus``, each handled once.

    A delivery goes through, in order: method (405), size (413), content type (415),
    signature (401, also for a signature header given twice), body (400: not JSON, not an
    object, no type, no id), ``enabled_events`` (200 ``ignored``), envelope (400: a field
    such as ``created_at`` of the wrong kind) and typed validation (422: the data does not
    fit the model registered for the type), de-duplication (200 ``duplicate``, or 409
    ``in_flight`` while another delivery of the event is being handled), then publishing:
    200 ``handled`` when every handler succeeded, else 500 ``failed`` naming the failed
    handlers. Completion is recorded per handler, so the sender's retry runs only the
    handlers that failed. Every refusal is logged as one line on the ``eventbus.webhooks``
    logger; anything that goes wrong inside the adapter itself is logged with its
    traceback and answered 500.

    :param bus: the bus to publish on
    :param scheme: how deliveries are verified; :class:`Unverified` opts out explicitly
    :param idempotency: where handled events are remembered (default: a new
        :class:`MemoryIdempotencyStore`; use :class:`SqliteIdempotencyStore` across restarts
        and worker processes)
    :param enabled_events: patterns of the types to publish (as in the bus: ``invoice.*``,
        ``customer.**``); other types are answered 200 ``ignored`` (default: every type)
    :param max_body_bytes: larger bodies are refused with 413 before being read whole
    :param read_timeout: seconds from the start of a request within which the ASGI app
        must have received the whole body (a total deadline, not an idle timer); a slower
        sender gets 408 and nothing is published
    :raises InvalidPatternError: a pattern in ``enabled_events`` is malformed
    """

    def __init__(
        self,
        bus: EventBus,
        scheme: SignatureScheme,
        *,
        idempotency: IdempotencyStore | None = None,
        enabled_events: str | Iterable[str] | None = None,
        max_body_bytes: int = 1_048_576,
        read_timeout: float = 10.0,
    ) -> None:
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
        self.idempotency: IdempotencyStore = (
            MemoryIdempotencyStore() if idempotency is None else idempotency
        )
        self.max_body_bytes = max_body_bytes
        self.read_timeout = float(read_timeout)
        self._wanted = steps.type_filter(enabled_events)
        # The memory store never waits on I/O: calling it inline saves a thread hop.
        self._store_inline = isinstance(self.idempotency, MemoryIdempotencyStore)

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
        directly, and the event is published with :meth:`EventBus.publish`, which runs any
        async handlers on a fresh loop (or on the host loop from an anyio worker thread).

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
            return answer(await self._run_async(self._handling(admitted)), request.where)
        except Exception as exc:
            return answer(exc, request.where)

    def serve(self, request: WebhookRequest, *, prechecked: bool = False) -> WebhookResponse:
        """The sync twin of :meth:`serve_async` (no event-loop check: adapters know)."""
        try:
            admitted = self._admit(request, prechecked=prechecked)
            if isinstance(admitted, Outcome):
                return answer(admitted, request.where)
            return answer(self._run_sync(self._handling(admitted)), request.where)
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
            return Outcome(200, "ignored", fields["id"])
        return steps.build(self.bus, fields)

    def _handling(self, event: Event[Any]) -> _Handling:
        """Claim, publish, settle: the one place the store and the handlers are reached."""
        store = self.idempotency
        claim: Claim = yield _Store(functools.partial(store.claim, event.id))
        refused = _refusal(claim)
        if refused is not None:
            return refused
        try:
            result: PublishResult = yield _Publish(event, claim.completed)
        except BaseException:
            yield _Store(functools.partial(store.settle, claim, completed=(), done=False), True)
            raise
        completed, outcome = _conclusion(claim, result)
        # The handlers ran: record it even if the caller is being cancelled meanwhile, or
        # every redelivery would get 409 until the lease ends and then run them again.
        settle = functools.partial(store.settle, claim, completed=completed, done=result.ok)
        yield _Store(settle, True)
        return outcome

    def _run_sync(self, handling: _Handling) -> Outcome:
        reply: Any = None
        error: BaseException | None = None
        while True:
            try:
                effect = handling.send(reply) if error is None else handling.throw(error)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            try:
                reply, error = self._apply_sync(effect), None
            except BaseException as exc:
                reply, error = None, exc

    async def _run_async(self, handling: _Handling) -> Outcome:
        reply: Any = None
        error: BaseException | None = None
        while True:
            try:
                effect = handling.send(reply) if error is None else handling.throw(error)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            try:
                reply, error = await self._apply_async(effect), None
            except BaseException as exc:
                reply, error = None, exc

    def _apply_sync(self, effect: _Effect) -> Any:
        if isinstance(effect, _Publish):
            return self.bus.publish(effect.event, raise_errors=False, skip=effect.skip)
        return effect.call()

    async def _apply_async(self, effect: _Effect) -> Any:
        if isinstance(effect, _Publish):
            return await self.bus.publish_async(effect.event, raise_errors=False, skip=effect.skip)
        if self._store_inline:
            return effect.call()
        with anyio.CancelScope(shield=effect.shielded):
            return await anyio.to_thread.run_sync(effect.call)

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


def _refusal(claim: Claim) -> Outcome | None:
    """The outcome when the event was handled already or is being handled now."""
    if claim.status == "done":
        return Outcome(200, "duplicate", claim.key)
    if claim.status == "in_flight":
        return Outcome(
            409,
            "in_flight",
            claim.key,
            "another delivery of this event is being handled right now; retry later",
        )
    return None


def _conclusion(claim: Claim, result: PublishResult) -> tuple[tuple[str, ...], Outcome]:
    """The handlers to record as completed, and the outcome for the sender."""
    failed = [failure.name for failure in result.errors]
    completed = tuple(sub.name for sub in result.called if sub.name not in failed)
    if result.ok:
        return completed, Outcome(200, "handled", claim.key)
    return completed, Outcome(
        500,
        "failed",
        claim.key,
        f"{len(failed)} handler(s) failed: {', '.join(failed)}; on the sender's retry only "
        "these run again (details in the server log)",
    )
