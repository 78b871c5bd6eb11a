"""The pipeline's own surface: the request value, serve/serve_async, and the answers the
framework adapters give before a body is read (each through the one mapping, so logged)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import webhook_vectors as v
from webhook_support import body_of

from eventbus import Event, EventBus
from eventbus.webhooks import StandardWebhooks, WebhookReceiver, WebhookRequest

SCHEME = StandardWebhooks(v.SW2_SECRET_NEW)
JSON = {"content-type": "application/json"}


def test_the_request_value_keeps_every_header_and_the_raw_path() -> None:
    request = WebhookRequest.of(
        b"{}", [("X-A", "1"), ("x-a", "2"), ("B", "3")], method="post", path="/a b", query="q=1"
    )
    assert request.header_pairs == (("x-a", "1"), ("x-a", "2"), ("b", "3"))
    assert request.headers == {"x-a": "1", "b": "3"}
    assert request.count("x-a") == 2
    assert (request.method, request.raw_path, request.where) == ("POST", "/a b", "POST /a b")
    assert WebhookRequest.of(b"", {"A": "1"}, raw_path="/a%20b").raw_path == "/a%20b"


@pytest.mark.anyio
async def test_serve_and_serve_async_take_a_request_value(bus: EventBus) -> None:
    seen: list[Event[Any]] = []
    bus.subscribe(seen.append)
    receiver = WebhookReceiver(bus, SCHEME, enabled_events="invoice.*")
    body = body_of("evt_s")
    request = WebhookRequest.of(body, {**JSON, **SCHEME.sign(body)})
    assert (await receiver.serve_async(request)).body["outcome"] == "handled"
    assert (await receiver.serve_async(request, prechecked=True)).body["outcome"] == "duplicate"
    ignored = body_of("evt_i", "refund.succeeded")
    request = WebhookRequest.of(ignored, {**JSON, **SCHEME.sign(ignored)})
    assert (await receiver.serve_async(request)).body["outcome"] == "ignored"
    assert [event.id for event in seen] == ["evt_s"]


def test_serve_is_the_sync_twin(bus: EventBus) -> None:
    receiver = WebhookReceiver(bus, SCHEME, enabled_events="invoice.*")
    ignored = body_of("evt_i", "refund.succeeded")
    request = WebhookRequest.of(ignored, {**JSON, **SCHEME.sign(ignored)})
    assert receiver.serve(request).body["outcome"] == "ignored"
    assert receiver.serve(WebhookRequest.of(b"{", JSON)).status == 401


def test_the_answers_adapters_give_before_reading_are_logged(
    bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = WebhookReceiver(bus, SCHEME, max_body_bytes=10)
    caplog.set_level(logging.INFO, logger="eventbus.webhooks")
    not_allowed = receiver.method_not_allowed("get", path="/hooks")
    assert (not_allowed.status, dict(not_allowed.headers)) == (405, {"Allow": "POST"})
    too_large = receiver.too_large(11, path="/hooks")
    assert too_large.status == 413
    assert "(11 bytes)" in too_large.body["error"]
    assert receiver.too_large().body["error"].startswith("the body exceeds max_body_bytes=10")
    assert receiver.precheck("PUT", JSON, None, path="/hooks") == receiver.method_not_allowed(
        "PUT", path="/hooks"
    )
    assert receiver.precheck("POST", JSON, 5) is None
    levels = [(record.levelno, record.getMessage().split(",")[0]) for record in caplog.records]
    assert levels[:3] == [
        (logging.INFO, "webhook GET /hooks answered 405 rejected"),
        (logging.WARNING, "webhook POST /hooks answered 413 rejected"),
        (logging.WARNING, "webhook POST / answered 413 rejected"),
    ]


@pytest.mark.parametrize("timeout", [0, -1.0])
def test_read_timeout_must_be_positive(bus: EventBus, timeout: float) -> None:
    with pytest.raises(ValueError, match="read_timeout must be a positive number"):
        WebhookReceiver(bus, SCHEME, read_timeout=timeout)


async def call_asgi(
    receiver: WebhookReceiver, scope: dict[str, Any], body: bytes
) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    messages = iter([{"type": "http.request", "body": body, "more_body": False}])

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await receiver.asgi_app()({"type": "http", "method": "POST", **scope}, receive, send)
    return sent


@pytest.mark.anyio
async def test_asgi_content_length_of_thousands_of_digits_is_413(bus: EventBus) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"9" * 5000)]
    sent = await call_asgi(WebhookReceiver(bus, SCHEME), {"path": "/", "headers": headers}, b"")
    assert sent[0]["status"] == 413


@pytest.mark.anyio
async def test_asgi_without_raw_path_signs_the_path_encoded_again(bus: EventBus) -> None:
    """A server that gives no ``raw_path`` (it is optional in ASGI): the decoded path is
    percent-encoded again for the scheme."""
    from eventbus.webhooks import BlockletComponentSignature

    receiver = WebhookReceiver(bus, BlockletComponentSignature(v.CS1_APP_PK))
    body = body_of()
    signed = BlockletComponentSignature.sign(body, private_key=v.CS1_APP_SK, path="/a%20b")
    headers = [(k.encode(), val.encode()) for k, val in {**JSON, **signed}.items()]
    sent = await call_asgi(receiver, {"path": "/a b", "headers": headers}, body)
    assert sent[0]["status"] == 200


def test_wsgi_path_already_decoded_by_the_server_is_kept(bus: EventBus) -> None:
    """A server that is not PEP 3333-strict may hand over a path with characters past
    latin-1; it is taken as it is, never a 500."""
    import io
    from wsgiref.util import setup_testing_defaults

    body = body_of()
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/caf\u00e9/\u2615",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        **{f"HTTP_{k.upper().replace('-', '_')}": val for k, val in SCHEME.sign(body).items()},
    }
    setup_testing_defaults(environ)
    statuses: list[str] = []
    receiver = WebhookReceiver(bus, SCHEME)
    receiver.wsgi_app()(environ, lambda status, headers: statuses.append(status))
    assert statuses == ["200 OK"]
