"""The HTTP side of the sender (needs httpx): connections pinned to checked addresses, and
one POST bounded by the timeout. Imported by the worker only, so the rest of
:mod:`eventbus.webhooks` works without httpx.
"""

from __future__ import annotations

import select
import socket
import ssl
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import anyio
import anyio.to_thread
import httpcore
import httpx

from ._addresses import AddressPolicy
from ._attempt import BODY_LIMIT, RETRY_AFTER_STATUSES, Answer, retry_after, signature_headers
from ._sender_errors import EndpointURLError

if TYPE_CHECKING:
    from ._outbox import Lease


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """A network backend that connects only to addresses the policy allows, at connect time.

    The host is resolved here, each address checked, and the connection made to the first
    checked address that accepts it: what was checked is what is connected to.
    """

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        # A resolver thread cannot be interrupted: abandon it when the attempt's timeout
        # passes, so the timeout bounds name resolution too.
        addresses = await anyio.to_thread.run_sync(
            self._policy.addresses, host, port, abandon_on_cancel=True
        )
        for address in addresses[:-1]:
            try:
                return _Stream(
                    await self._inner.connect_tcp(
                        str(address), port, timeout, local_address, socket_options
                    )
                )
            except httpcore.ConnectError:
                continue
        return _Stream(
            await self._inner.connect_tcp(
                str(addresses[-1]), port, timeout, local_address, socket_options
            )
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("the webhook sender never connects to unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _Stream(httpcore.AsyncNetworkStream):
    """A connected stream whose raw socket is looked up once: the pool asks whether each
    idle connection is readable before every request, and anyio rebuilds all of a socket's
    attributes (``getpeername`` included) to answer each time."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return self._socket is None or _readable(self._socket)
        return self._inner.get_extra_info(info)


def _readable(sock: socket.socket) -> bool:
    """Data (or the peer's close) is waiting: an idle connection the server has closed."""
    if sock.fileno() == -1:
        return True
    if not hasattr(select, "poll"):  # pragma: no cover - Windows: select() has no fd limit
        return bool(select.select([sock], [], [], 0)[0])
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class PinnedTransport(httpx.AsyncBaseTransport):
    """An httpx transport over an :class:`httpcore.AsyncConnectionPool` that connects through
    :class:`PinnedBackend`: keep-alive connections per origin, up to ``connections``.

    httpx has no public seam for the network backend, so this maps requests, responses and
    errors between httpx and httpcore with their public APIs only.
    """

    def __init__(self, policy: AddressPolicy, connections: int) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl.create_default_context(),
            max_connections=connections,
            max_keepalive_connections=connections,
            network_backend=PinnedBackend(policy),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=cast("AsyncIterable[bytes]", request.stream),
            extensions=request.extensions,
        )
        with _httpx_errors(request):
            answer = await self._pool.handle_async_request(core)
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=_ResponseStream(cast("AsyncIterable[bytes]", answer.stream), request),
            extensions=answer.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: AsyncIterable[bytes], request: httpx.Request) -> None:
        self._stream = stream
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors(self._request):
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            await close()


@contextmanager
def _httpx_errors(request: httpx.Request) -> Iterator[None]:
    """Raise httpcore's errors as httpx's namesakes (``ConnectError``, ``ReadTimeout``...)."""
    try:
        yield
    except _HTTPCORE_ERRORS as exc:
        kind = getattr(httpx, type(exc).__name__, httpx.TransportError)
        raise kind(str(exc), request=request) from exc


_HTTPCORE_ERRORS = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
)


def client_for(policy: AddressPolicy, connections: int, timeout: float) -> httpx.AsyncClient:
    """The worker's client: never follows redirects, ignores proxy settings from the
    environment (a proxy would connect for us, unchecked), and connects only through
    :class:`PinnedBackend`."""
    return httpx.AsyncClient(
        transport=PinnedTransport(policy, connections),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
    )


async def post(client: httpx.AsyncClient, claim: Lease, now: datetime, *, timeout: float) -> Answer:
    """POST the claimed message once; every failure becomes a failed :class:`Answer`."""
    headers = {
        "content-type": "application/json",
        **claim.message.headers,
        **signature_headers(claim, now),
    }
    started = time.perf_counter()
    try:
        with anyio.fail_after(timeout):
            async with client.stream(
                "POST", claim.endpoint.url, content=claim.message.body, headers=headers
            ) as response:
                body = await _head(response)
    except (TimeoutError, httpx.TimeoutException):
        return Answer(False, None, None, f"timed out after {timeout:g} s", _since(started))
    except (httpx.HTTPError, EndpointURLError, OSError) as exc:
        return Answer(False, None, None, _describe(exc), _since(started))
    return _judge(response, body, _since(started))


async def _head(response: httpx.Response) -> str:
    # Read to the end, keeping the first 4 KB: leaving httpx's nested stream generators
    # half-read leaves them to the garbage collector (trio warns). The timeout bounds it.
    kept = bytearray()
    async for chunk in response.aiter_bytes():
        if len(kept) < BODY_LIMIT:
            kept += chunk[: BODY_LIMIT - len(kept)]
    return kept[:BODY_LIMIT].decode("utf-8", "replace")


def _judge(response: httpx.Response, body: str, duration: float) -> Answer:
    status = response.status_code
    if 200 <= status < 300:
        return Answer(True, status, body, None, duration)
    error = f"HTTP {status}"
    if 300 <= status < 400:
        location = response.headers.get("location", "")
        error += f": redirects are not followed (Location: {location!r})"
    wait = retry_after(response.headers.get("retry-after"))
    return Answer(
        False,
        status,
        body,
        error,
        duration,
        retry_after=wait if status in RETRY_AFTER_STATUSES else None,
        gone=status == 410,
    )


def _describe(exc: BaseException) -> str:
    text = str(exc) or repr(exc)
    return text if isinstance(exc, EndpointURLError) else f"{type(exc).__name__}: {text}"


def _since(started: float) -> float:
    return time.perf_counter() - started
