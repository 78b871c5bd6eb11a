"""Running ``eventbus listen``: forwarding, the socket and uvicorn (needs the ``cli`` extra)."""

from __future__ import annotations

import errno
import json
import logging
import signal
import socket
from collections.abc import Callable, Collection, Mapping
from types import FrameType
from typing import Any

import httpx
import uvicorn

from .._envelope import Event
from ..inbox import Claim, DeadLetter
from ..inbox._store import new_token
from ._errors import CliError
from ._signing import Scheme, sign
from ._tap import ASGIApp, Relayed, current_delivery

FORWARD_TIMEOUT = 30.0


class ForwardError(Exception):
    """The ``--forward-to`` endpoint could not be reached; the listener answers 500 so the
    sender retries, as a real platform would, its error naming the application's URL."""


class Forwarder:
    """A bus handler re-sending each verified delivery to the application's endpoint.

    The exact bytes received are re-sent, signed anew with the listener's scheme and secret
    (Standard Webhooks keeps the delivery's ``webhook-id``), so the application verifies them
    just as it would verify the real sender's. Its answer, whatever the status, is relayed
    to the sender (:class:`Relayed`).
    """

    def __init__(self, url: str, scheme: Scheme) -> None:
        self.url = url
        self.scheme = scheme
        self._client: httpx.AsyncClient | None = None

    def _connection(self) -> httpx.AsyncClient:
        # Made on first use, inside the server's event loop, then kept for keep-alive. The CA
        # bundle (half a second to load) is only needed for https.
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=FORWARD_TIMEOUT, verify=self.url.startswith("https://")
            )
        return self._client

    async def __call__(self, event: Event[Any]) -> None:
        delivery = current_delivery.get()  # the listener's bus publishes only deliveries
        body = bytes(delivery.body)
        msg_id = delivery.headers.get("webhook-id") or event.id
        try:
            response = await self._connection().post(
                self.url, content=body, headers=sign(self.scheme, body, msg_id=msg_id)
            )
        except httpx.HTTPError as exc:
            delivery.forwarded = f"failed ({_describe(exc)})"
            delivery.relayed = _unreachable(self.url, event.id, _describe(exc))
            raise ForwardError(f"{self.url} unreachable: {_describe(exc)}") from None
        delivery.forwarded = f"{response.status_code} {response.reason_phrase}".strip()
        content_type = response.headers.get("content-type", "application/octet-stream")
        delivery.relayed = Relayed(response.status_code, content_type, response.content)


class PassThroughStore:
    """An idempotency store that remembers nothing: with ``--forward-to`` every delivery
    reaches the application, whose own store decides what is a duplicate."""

    def claim(self, key: str, /, *, handlers: Collection[str]) -> Claim:
        return Claim(key, "claimed", new_token(), attempt=1)

    def complete(self, claim: Claim, handler: str, /) -> bool:
        """Nothing to record."""
        return True

    def extend(self, claim: Claim, lease: float, /) -> bool:
        """No lease to extend."""
        return True

    def settle(
        self,
        claim: Claim,
        /,
        *,
        completed: Collection[str],
        failed: Mapping[str, str],
        dead_letter: tuple[str, bytes] | None = None,
    ) -> bool:
        """Nothing to record."""
        return True

    def dead_letters(self) -> list[DeadLetter]:
        return []

    def revive(self, key: str, /) -> DeadLetter | None:
        return None


def _unreachable(url: str, event_id: str, reason: str) -> Relayed:
    """The 500 the sender gets when the application at ``url`` could not be reached (in
    place of the receiver's "1 handler(s) failed: forward", which means nothing to it)."""
    error = f"the application at {url} could not be reached ({reason}); retry later"
    body = {"ok": False, "outcome": "failed", "event_id": event_id, "error": error}
    return Relayed(500, "application/json", json.dumps(body).encode())


def _describe(exc: httpx.HTTPError) -> str:
    return str(exc) or type(exc).__name__


class _HideForwardTracebacks(logging.Filter):
    """The listener prints a forwarding failure on its delivery line; no traceback needed."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ForwardError)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (0 picks a free port).

    Bound here rather than by uvicorn so a busy port is one clear error, and the real port
    is known before serving.

    :raises CliError: the address cannot be resolved or bound
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        in_use = exc.errno == errno.EADDRINUSE
        reason = "port already in use" if in_use else exc.strerror or str(exc)
        raise CliError(f"cannot listen on {host}:{port}: {reason}") from None
    return sock


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_started()


def serve(app: ASGIApp, sock: socket.socket, *, on_started: Callable[[], None]) -> None:
    """Serve ``app`` on ``sock`` until SIGINT or SIGTERM, then return (no traceback)."""
    logging.getLogger("eventbus").addFilter(_HideForwardTracebacks())
    # Each refusal is on its delivery line already; the receiver's own errors still show.
    logging.getLogger("eventbus.webhooks").setLevel(logging.ERROR)
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    server = _Server(config, on_started)

    def stop(signum: int, frame: FrameType | None) -> None:
        # Covers a signal arriving before uvicorn installs its own handlers, and takes the
        # signal uvicorn re-raises once it has shut down (by default SIGINT would become a
        # KeyboardInterrupt traceback, SIGTERM a kill).
        server.should_exit = True

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    server.run(sockets=[sock])
