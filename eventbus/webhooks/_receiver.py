"""The receiver: a delivery in, verified, de-duplicated and published, a status out."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import anyio
import anyio.to_thread

from .._exceptions import EventValidationError, MalformedEventError
from .._loop import in_event_loop
from .._topics import compile_pattern
from ._delivery import event_fields, is_json_media_type
from ._errors import SignatureError
from ._idempotency import Claim, IdempotencyStore, MemoryIdempotencyStore
from ._response import DeliveryRejectedError, WebhookResponse, internal_error, reject, respond
from ._scheme import SignatureScheme, get_header

if TYPE_CHECKING:
    from starlette.routing import Route

    from .._bus import EventBus
    from .._envelope import Event
    from .._result import PublishResult
    from ._asgi import AsgiWebhookApp
    from ._wsgi import WsgiWebhookApp

T = TypeVar("T")


class HeadersLike(Protocol):
    """Request headers: a ``Mapping[str, str]`` or anything with ``get`` and ``items``
    (werkzeug's ``Headers``, which Flask's ``request.headers`` is, is not a ``Mapping``)."""

    def get(self, key: str, /) -> str | None: ...

    def items(self) -> Iterable[tuple[str, str]]: ...


class WebhookReceiver:
    """Turn verified webhook deliveries into events on ``bus``, each handled once.

    A delivery goes through, in order: method (405), size (413), content type (415),
    signature (401), body (400: not JSON, not an object, no type, no id), ``enabled_events``
    (200 ``ignored``), typed validation (422), de-duplication (200 ``duplicate``, or 409
    ``in_flight`` while another delivery of the event is being handled), then publishing
    with :meth:`EventBus.publish_async`: 200 ``handled`` when every handler succeeded, else
    500 ``failed`` naming the failed handlers. Completion is recorded per handler, so the
    sender's retry runs only the handlers that failed. Anything that goes wrong inside the
    adapter itself is logged with its traceback and answered 500.

    :param bus: the bus to publish on
    :param scheme: how deliveries are verified; :class:`Unverified` opts out explicitly
    :param idempotency: where handled events are remembered (default: a new
        :class:`MemoryIdempotencyStore`; use :class:`SqliteIdempotencyStore` across restarts
        and worker processes)
    :param enabled_events: patterns of the types to publish (as in the bus: ``invoice.*``,
        ``customer.**``); other types are answered 200 ``ignored`` (default: every type)
    :param max_body_bytes: larger bodies are refused with 413 before being read whole
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
    ) -> None:
        if isinstance(scheme, type) or not callable(getattr(scheme, "verify", None)):
            raise TypeError(
                f"scheme must be a signature scheme such as StandardWebhooks(secret), not "
                f"{scheme!r}; to accept unsigned deliveries in development pass Unverified()"
            )
        if max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be positive, not {max_body_bytes!r}")
        self.bus = bus
        self.scheme = scheme
        self.idempotency: IdempotencyStore = (
            MemoryIdempotencyStore() if idempotency is None else idempotency
        )
        self.max_body_bytes = max_body_bytes
        self._wanted = _type_filter(enabled_events)
        # The memory store never waits on I/O: calling it inline saves a thread hop.
        self._store_inline = isinstance(self.idempotency, MemoryIdempotencyStore)

    # -- entry points ------------------------------------------------------------------

    async def handle_async(
        self,
        body: bytes,
        headers: Mapping[str, str] | HeadersLike,
        *,
        method: str = "POST",
        path: str = "/",
        query: str = "",
    ) -> WebhookResponse:
        """Handle one delivery and return the answer for the sender.

        Nothing a sender sends makes this raise: every problem becomes a response.

        :param body: the raw request body, exactly as received
        :param headers: the request headers (names looked up case-insensitively); a
            mapping, or Flask's ``request.headers``
        :param method: the request method
        :param path: the full path the sender requested, mount prefix included
        :param query: the raw query string, without ``?``
        :raises TypeError: the calling code passed a body that is not bytes, or headers
            that are not a mapping
        """
        _check_call(body, headers)
        try:
            accepted = self._accept(bytes(body), _plain(headers), method, path, query)
            if isinstance(accepted, WebhookResponse):
                return accepted
            return await self._deliver(accepted)
        except DeliveryRejectedError as rejected:
            return rejected.response
        except Exception:
            return internal_error(f"{method} {path}")

    def handle(
        self,
        body: bytes,
        headers: Mapping[str, str] | HeadersLike,
        *,
        method: str = "POST",
        path: str = "/",
        query: str = "",
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
        _check_call(body, headers)
        try:
            accepted = self._accept(bytes(body), _plain(headers), method, path, query)
            if isinstance(accepted, WebhookResponse):
                return accepted
            return self._deliver_sync(accepted)
        except DeliveryRejectedError as rejected:
            return rejected.response
        except Exception:
            return internal_error(f"{method} {path}")

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

    # -- the pipeline ------------------------------------------------------------------

    def precheck(
        self, method: str, headers: Mapping[str, str], size: int | None
    ) -> WebhookResponse | None:
        """The 405, 413 or 415 answer a request gets before its body is read, if any.

        :param size: the body's length when known (``Content-Length``), else ``None``
        """
        if method.upper() != "POST":
            return respond(
                405,
                "rejected",
                None,
                f"method {method} is not allowed; webhooks are delivered with POST",
                {"Allow": "POST"},
            )
        if size is not None and size > self.max_body_bytes:
            return self.too_large(size)
        content_type = get_header(headers, "content-type")
        if not is_json_media_type(content_type):
            return respond(
                415,
                "rejected",
                None,
                f"content type {content_type!r} is not JSON; send application/json",
            )
        return None

    def too_large(self, size: int | None = None) -> WebhookResponse:
        """The 413 answer for a body over ``max_body_bytes``."""
        seen = "" if size is None else f" ({size} bytes)"
        return respond(
            413,
            "rejected",
            None,
            f"the body{seen} exceeds max_body_bytes={self.max_body_bytes}; raise "
            "WebhookReceiver(max_body_bytes=...) if the sender's events are this large",
        )

    def _accept(
        self, body: bytes, headers: Mapping[str, str], method: str, path: str, query: str
    ) -> WebhookResponse | Event[Any]:
        """Rules 1 to 5: the answer for a delivery refused or ignored, else its event."""
        early = self.precheck(method, headers, len(body))
        if early is not None:
            return early
        try:
            delivery_id = self.scheme.verify(
                body, headers, method=method.upper(), path=path, query=query
            )
        except SignatureError as exc:
            raise reject(401, f"signature verification failed: {exc}") from None
        fields = event_fields(body, delivery_id)
        if not self._wanted(fields["type"]):
            return respond(200, "ignored", fields["id"])
        return self._parse(fields)

    def _parse(self, fields: dict[str, Any]) -> Event[Any]:
        try:
            return self.bus.parse(fields)
        except EventValidationError as exc:
            raise reject(422, str(exc), fields["id"]) from None
        except MalformedEventError as exc:
            raise reject(400, str(exc), fields["id"]) from None

    async def _deliver(self, event: Event[Any]) -> WebhookResponse:
        claim = await self._store(self.idempotency.claim, event.id)
        refused = _refusal(claim)
        if refused is not None:
            return refused
        try:
            result = await self.bus.publish_async(event, raise_errors=False, skip=claim.completed)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._settle(claim, (), done=False)
            raise
        completed, response = _conclusion(claim, result)
        # The handlers ran: record it even if the caller is being cancelled meanwhile, or
        # every redelivery would get 409 until the lease ends and then run them again.
        with anyio.CancelScope(shield=True):
            await self._settle(claim, completed, done=result.ok)
        return response

    def _deliver_sync(self, event: Event[Any]) -> WebhookResponse:
        claim = self.idempotency.claim(event.id)
        refused = _refusal(claim)
        if refused is not None:
            return refused
        try:
            result = self.bus.publish(event, raise_errors=False, skip=claim.completed)
        except BaseException:
            self.idempotency.settle(claim, completed=(), done=False)
            raise
        completed, response = _conclusion(claim, result)
        self.idempotency.settle(claim, completed=completed, done=result.ok)
        return response

    async def _settle(self, claim: Claim, completed: Iterable[str], *, done: bool) -> None:
        settle = functools.partial(
            self.idempotency.settle, claim, completed=tuple(completed), done=done
        )
        await self._store(settle)

    async def _store(self, call: Callable[..., T], *args: Any) -> T:
        if self._store_inline:
            return call(*args)
        return await anyio.to_thread.run_sync(call, *args)

    def __repr__(self) -> str:
        return f"WebhookReceiver({self.bus!r}, {self.scheme!r}, idempotency={self.idempotency!r})"


def _check_call(body: object, headers: object) -> None:
    """Refuse mistakes in the calling code itself, which no retry by the sender could fix.

    :raises TypeError: the body is not bytes (a decoded ``str`` cannot be verified), or the
        headers are not a mapping
    """
    if not isinstance(body, bytes | bytearray | memoryview):
        raise TypeError(
            f"body must be the raw request bytes, not {type(body).__name__}; pass "
            "request.get_data() in Flask, request.body in Django, await request.body() in "
            "Starlette (signatures cover the exact bytes, so never a decoded or parsed body)"
        )
    if not callable(getattr(headers, "items", None)):
        raise TypeError(
            f"headers must be a mapping of names to values (or Flask's request.headers), "
            f"not {type(headers).__name__}"
        )


def _refusal(claim: Claim) -> WebhookResponse | None:
    """Rule 6: the answer when the event was handled already or is being handled now."""
    if claim.status == "done":
        return respond(200, "duplicate", claim.key)
    if claim.status == "in_flight":
        return respond(
            409,
            "in_flight",
            claim.key,
            "another delivery of this event is being handled right now; retry later",
        )
    return None


def _conclusion(claim: Claim, result: PublishResult) -> tuple[tuple[str, ...], WebhookResponse]:
    """Rule 7: the handlers to record as completed, and the answer for the sender."""
    failed = [failure.name for failure in result.errors]
    completed = tuple(sub.name for sub in result.called if sub.name not in failed)
    if result.ok:
        return completed, respond(200, "handled", claim.key)
    return completed, respond(
        500,
        "failed",
        claim.key,
        f"{len(failed)} handler(s) failed: {', '.join(failed)}; on the sender's retry only "
        "these run again (details in the server log)",
    )


def _plain(headers: Mapping[str, str] | HeadersLike) -> dict[str, str]:
    """Headers as a dict with lower-case names; a repeated header keeps its first value."""
    plain: dict[str, str] = {}
    for name, value in headers.items():
        plain.setdefault(name.lower(), value)
    return plain


def _type_filter(enabled_events: str | Iterable[str] | None) -> Callable[[str], bool]:
    if enabled_events is None:
        return lambda _event_type: True
    patterns = [enabled_events] if isinstance(enabled_events, str) else list(enabled_events)
    matchers = [compile_pattern(pattern) for pattern in patterns]
    return lambda event_type: any(match(event_type) for match in matchers)
