"""Over real HTTP: uvicorn serving the ASGI app, werkzeug serving Flask, httpx posting."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest
import webhook_vectors as v
from flask import Flask, request
from starlette.applications import Starlette
from starlette.routing import Mount, Route
from webhook_support import InvoicePaid, body_of, serve_asgi, serve_wsgi
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from eventbus import Event, EventBus
from eventbus.webhooks import (
    BlockletComponentSignature,
    SqliteIdempotencyStore,
    StandardWebhooks,
    WebhookReceiver,
)

SCHEME = StandardWebhooks(v.SW2_SECRET_NEW)
BLOCKLET = BlockletComponentSignature(v.CS1_APP_PK)
JSON = {"content-type": "application/json"}


def signed(body: bytes, msg_id: str = "msg_1") -> dict[str, str]:
    return {**JSON, **SCHEME.sign(body, msg_id=msg_id)}


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    headers = signed(body) if headers is None else headers
    return httpx.post(url, content=body, headers=headers, follow_redirects=False, timeout=30)


def outcome(response: httpx.Response) -> tuple[int, str]:
    assert response.headers["content-type"] == "application/json"
    return response.status_code, response.json()["outcome"]


@pytest.fixture
def served(bus: EventBus) -> Iterator[tuple[str, WebhookReceiver]]:
    """The receiver's ASGI app as the whole application under uvicorn."""
    receiver = WebhookReceiver(bus, SCHEME, enabled_events=["invoice.*", "customer.**"])
    with serve_asgi(receiver.asgi_app()) as url:
        yield url, receiver


# -- every status -----------------------------------------------------------------------------


def test_http_handled_then_duplicate(served: tuple[str, WebhookReceiver], bus: EventBus) -> None:
    """200 handled, then 200 duplicate for the redelivery; the body is the contract's JSON."""
    url, _ = served
    seen: list[Event[Any]] = []
    bus.subscribe(seen.append)
    first = post(url + "/", v.SW2_BODY)
    assert outcome(first) == (200, "handled")
    assert first.json() == {"ok": True, "outcome": "handled", "event_id": v.SW2_ID, "error": None}
    assert outcome(post(url + "/", v.SW2_BODY, signed(v.SW2_BODY, "m2"))) == (200, "duplicate")
    assert [event.id for event in seen] == [v.SW2_ID]
    assert seen[0].data["object"]["description"] == "Caf\u00e9 \u2615"


@pytest.mark.parametrize(
    ("body", "headers", "status", "reason"),
    [
        pytest.param(
            body_of(event_type="refund.succeeded"), None, 200, "ignored", id="200-ignored"
        ),
        pytest.param(b"{oops", None, 400, "not valid JSON", id="400-not-json"),
        pytest.param(body_of(), {**JSON, "webhook-id": "x"}, 401, "missing header", id="401"),
        pytest.param(body_of(), {"content-type": "text/plain"}, 415, "not JSON", id="415"),
        pytest.param(
            body_of(object={"id": "in_1", "amount_paid": "x"}), None, 422, "amount_paid", id="422"
        ),
    ],
)
def test_http_statuses(
    served: tuple[str, WebhookReceiver],
    bus: EventBus,
    body: bytes,
    headers: dict[str, str] | None,
    status: int,
    reason: str,
) -> None:
    """Each rule's status arrives over HTTP with an actionable error."""
    bus.register(InvoicePaid)
    url, _ = served
    response = post(url + "/hooks", body, headers)
    assert response.status_code == status, response.text
    if status != 200:
        assert reason in response.json()["error"]
        assert response.json()["outcome"] == "rejected"


def test_http_405_with_allow(served: tuple[str, WebhookReceiver]) -> None:
    """GET is 405 with Allow: POST."""
    url, _ = served
    response = httpx.get(url + "/")
    assert outcome(response) == (405, "rejected")
    assert response.headers["allow"] == "POST"


def test_http_413_by_content_length_before_reading(bus: EventBus) -> None:
    """A declared Content-Length over the limit is refused without reading the body."""
    receiver = WebhookReceiver(bus, SCHEME, max_body_bytes=1000)
    body = body_of(object={"pad": "x" * 5000})
    with serve_asgi(receiver.asgi_app()) as url:
        response = post(url + "/", body)
    assert outcome(response) == (413, "rejected")
    assert "max_body_bytes=1000" in response.json()["error"]


def test_http_413_by_running_count_for_chunked_bodies(bus: EventBus) -> None:
    """A chunked body (no Content-Length) is refused once the bytes read pass the limit."""
    receiver = WebhookReceiver(bus, SCHEME, max_body_bytes=100)

    def chunks() -> Iterator[bytes]:
        for _ in range(3):
            yield b" " * 64

    with serve_asgi(receiver.asgi_app()) as url:
        response = httpx.post(url + "/", content=chunks(), headers=JSON)
    assert outcome(response) == (413, "rejected")


def test_http_500_names_the_failed_handler_and_retry_runs_only_it(
    served: tuple[str, WebhookReceiver], bus: EventBus
) -> None:
    """500 names the failing handler; the retry over HTTP runs only it."""
    url, _ = served
    calls: list[str] = []
    state = {"broken": True}

    def ok(event: Event[Any]) -> None:
        calls.append("ok")

    def flaky(event: Event[Any]) -> None:
        calls.append("flaky")
        if state["broken"]:
            raise RuntimeError("down")

    bus.subscribe(ok, name="ok")
    bus.subscribe(flaky, name="flaky")
    response = post(url + "/", body_of())
    assert outcome(response) == (500, "failed")
    assert "flaky" in response.json()["error"]
    state["broken"] = False
    calls.clear()
    assert outcome(post(url + "/", body_of())) == (200, "handled")
    assert calls == ["flaky"]


def test_http_409_while_the_first_delivery_is_being_handled(
    served: tuple[str, WebhookReceiver], bus: EventBus
) -> None:
    """A second delivery arriving while a handler is held gets 409; the handler runs once."""
    url, _ = served
    started = threading.Event()
    release = threading.Event()
    calls: list[str] = []

    async def held(event: Event[Any]) -> None:
        calls.append(event.id)
        started.set()
        await anyio.to_thread.run_sync(release.wait)

    bus.subscribe(held)
    answers: list[httpx.Response] = []
    first = threading.Thread(target=lambda: answers.append(post(url + "/", body_of())))
    first.start()
    assert started.wait(10)
    second = post(url + "/", body_of(), signed(body_of(), "m2"))
    release.set()
    first.join(10)
    assert outcome(second) == (409, "in_flight")
    assert outcome(answers[0]) == (200, "handled")
    assert calls == ["evt_1"]


@pytest.mark.anyio
async def test_http_fifty_concurrent_deliveries_run_handlers_once(bus: EventBus) -> None:
    """50 simultaneous posts of one event over HTTP: the handler runs once."""
    calls: list[str] = []

    async def handler(event: Event[Any]) -> None:
        calls.append(event.id)
        await anyio.sleep(0.1)

    bus.subscribe(handler)
    receiver = WebhookReceiver(bus, SCHEME)
    statuses: list[int] = []
    body = body_of()
    with serve_asgi(receiver.asgi_app()) as url:
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:

            async def one(index: int) -> None:
                response = await client.post(
                    url + "/", content=body, headers=signed(body, f"m{index}")
                )
                statuses.append(response.status_code)

            async with anyio.create_task_group() as group:
                for index in range(50):
                    group.start_soon(one, index)
    assert calls == ["evt_1"]
    assert statuses.count(200) >= 1
    assert set(statuses) <= {200, 409}


def test_http_restart_with_the_same_sqlite_file_is_duplicate(bus: EventBus, tmp_path: Path) -> None:
    """A second server process-alike on the same SQLite file answers duplicate."""
    path = tmp_path / "events.db"
    calls: list[str] = []
    bus.subscribe(lambda event: calls.append(event.id))
    for expected in ("handled", "duplicate"):
        receiver = WebhookReceiver(bus, SCHEME, idempotency=SqliteIdempotencyStore(path))
        with serve_asgi(receiver.asgi_app()) as url:
            assert outcome(post(url + "/", v.SW2_BODY)) == (200, expected)
    assert calls == [v.SW2_ID]


# -- Starlette: mount and exact-path route ----------------------------------------------------


def test_starlette_mount_passes_the_full_path_to_the_scheme(bus: EventBus) -> None:
    """Mounted at /hooks, a delivery to /hooks/payment verifies against the full path
    (the component signature signs it), and the query string."""
    receiver = WebhookReceiver(bus, BLOCKLET)
    app = Starlette(routes=[Mount("/hooks", app=receiver.asgi_app())])
    body = json.dumps(v.CS1_OBJECT).encode()
    headers = {
        **JSON,
        **BLOCKLET.sign(body, private_key=v.CS1_APP_SK, path="/hooks/payment", query="a=1"),
    }
    with serve_asgi(app) as url:
        response = post(url + "/hooks/payment?a=1", body, headers)
        assert outcome(response) == (200, "handled"), response.text
        wrong = post(url + "/hooks/other?a=1", body, headers)
    assert outcome(wrong) == (401, "rejected")


def test_starlette_exact_path_route_answers_without_redirect(bus: EventBus) -> None:
    """As the endpoint of Route("/api/payment/callback", ..., methods=["POST"]) it answers
    directly: no 3xx, which senders count as failure."""
    seen: list[Event[Any]] = []
    bus.subscribe(seen.append)
    receiver = WebhookReceiver(bus, BLOCKLET)
    app = Starlette(routes=[Route(v.CS1_PATH, receiver.asgi_app(), methods=["POST"])])
    body = json.dumps(v.CS1_OBJECT).encode()
    headers = {**JSON, **BLOCKLET.sign(body, private_key=v.CS1_APP_SK, path=v.CS1_PATH)}
    with serve_asgi(app) as url:
        response = post(url + v.CS1_PATH, body, headers)
        not_allowed = httpx.get(url + v.CS1_PATH)
    assert outcome(response) == (200, "handled")
    assert [event.id for event in seen] == ["evt_1"]
    assert not_allowed.status_code == 405


def test_starlette_route_with_standard_webhooks(bus: EventBus) -> None:
    """The same route form with the default scheme, SW-2's real body."""
    receiver = WebhookReceiver(bus, SCHEME)
    app = Starlette(routes=[Route("/webhooks/payment", receiver.asgi_app(), methods=["POST"])])
    with serve_asgi(app) as url:
        assert outcome(post(url + "/webhooks/payment", v.SW2_BODY)) == (200, "handled")


# -- Flask (WSGI) -----------------------------------------------------------------------------


def test_flask_route_calling_handle(bus: EventBus) -> None:
    """A Flask view passes the raw body and headers to handle() and returns its answer."""
    seen: list[Event[Any]] = []
    bus.subscribe(seen.append)
    receiver = WebhookReceiver(bus, SCHEME)
    app = Flask(__name__)

    @app.post("/webhooks/payment")
    def payment_webhook() -> tuple[dict[str, Any], int]:
        answer = receiver.handle(
            request.get_data(),
            request.headers,
            method=request.method,
            path=request.path,
            query=request.query_string.decode("latin-1"),
        )
        return answer.body, answer.status

    with serve_wsgi(app) as url:
        first = post(url + "/webhooks/payment", v.SW2_BODY)
        again = post(url + "/webhooks/payment", v.SW2_BODY, signed(v.SW2_BODY, "m2"))
        bad = post(url + "/webhooks/payment", b"{}", signed(v.SW2_BODY))
    assert outcome(first) == (200, "handled")
    assert outcome(again) == (200, "duplicate")
    assert outcome(bad) == (401, "rejected")
    assert [event.id for event in seen] == [v.SW2_ID]


def test_flask_with_wsgi_app_mounted_by_dispatcher(bus: EventBus) -> None:
    """wsgi_app() mounted under /hooks in a Flask app sees the full path (signed by the
    component signature) and answers every rule over HTTP."""
    receiver = WebhookReceiver(bus, BLOCKLET, max_body_bytes=2000)
    app = Flask(__name__)
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/hooks": receiver.wsgi_app()})  # type: ignore[method-assign]
    body = json.dumps(v.CS1_OBJECT).encode()
    headers = {**JSON, **BLOCKLET.sign(body, private_key=v.CS1_APP_SK, path="/hooks/payment")}
    with serve_wsgi(app) as url:
        handled = post(url + "/hooks/payment", body, headers)
        duplicate = post(url + "/hooks/payment", body, headers)
        wrong_path = post(url + "/hooks/elsewhere", body, headers)
        too_big = post(url + "/hooks/payment", b" " * 3000, headers)
        get = httpx.get(url + "/hooks/payment")
        text = post(url + "/hooks/payment", body, {**headers, "content-type": "text/plain"})
    assert outcome(handled) == (200, "handled"), handled.text
    assert outcome(duplicate) == (200, "duplicate")
    assert outcome(wrong_path) == (401, "rejected")
    assert outcome(too_big) == (413, "rejected")
    assert outcome(get) == (405, "rejected")
    assert get.headers["allow"] == "POST"
    assert outcome(text) == (415, "rejected")


def test_wsgi_app_served_alone_handles_failures_and_retries(bus: EventBus) -> None:
    """Served directly by a WSGI server, a failing handler gives 500 and the retry runs it."""
    calls: list[str] = []
    state = {"broken": True}

    def flaky(event: Event[Any]) -> None:
        calls.append("flaky")
        if state["broken"]:
            raise RuntimeError("down")

    bus.subscribe(flaky, name="flaky")
    receiver = WebhookReceiver(bus, SCHEME)
    with serve_wsgi(receiver.wsgi_app()) as url:
        assert outcome(post(url + "/", body_of())) == (500, "failed")
        state["broken"] = False
        assert outcome(post(url + "/", body_of())) == (200, "handled")
        assert outcome(post(url + "/", body_of())) == (200, "duplicate")
    assert calls == ["flaky", "flaky"]


def test_uvicorn_lifespan_is_acknowledged(bus: EventBus) -> None:
    """Served alone under uvicorn with lifespan="on", start-up and shut-down complete."""
    receiver = WebhookReceiver(bus, SCHEME)
    with serve_asgi(receiver.asgi_app()) as url:
        assert httpx.get(url + "/").status_code == 405


@pytest.mark.anyio
async def test_websocket_connections_are_closed(bus: EventBus) -> None:
    """A websocket connection is closed at once: webhooks are plain HTTP."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    await WebhookReceiver(bus, SCHEME).asgi_app()({"type": "websocket"}, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1003}]


@pytest.mark.parametrize(
    ("scope", "path"),
    [
        pytest.param({"path": "/hooks/pay", "root_path": "/hooks"}, "/hooks/pay", id="starlette"),
        pytest.param({"path": "/pay", "root_path": "/hooks"}, "/hooks/pay", id="stripped"),
        pytest.param({"path": "/hooks", "root_path": "/hooks"}, "/hooks", id="mount-root"),
        pytest.param({"path": "/pay", "root_path": ""}, "/pay", id="no-mount"),
    ],
)
def test_full_path_from_scope(scope: dict[str, str], path: str) -> None:
    """The full path, whether the server keeps the prefix in path (Starlette 1.x, uvicorn) or
    strips it (older servers)."""
    from eventbus.webhooks._asgi import full_path

    assert full_path(scope) == path


async def _drive(app: Any, scope: dict[str, Any], messages: list[dict[str, Any]]) -> list[Any]:
    sent: list[Any] = []
    pending = list(messages)

    async def receive() -> dict[str, Any]:
        return pending.pop(0)

    async def send(message: Any) -> None:
        sent.append(dict(message))

    await app(scope, receive, send)
    return sent


def http_scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http", "method": "POST", "path": "/", "headers": headers, "query_string": b""}


@pytest.mark.anyio
async def test_asgi_invalid_content_length_is_400(bus: EventBus) -> None:
    """A Content-Length that is not a number is refused with 400 (servers usually catch it)."""
    app = WebhookReceiver(bus, SCHEME).asgi_app()
    sent = await _drive(app, http_scope([(b"content-length", b"lots")]), [])
    assert sent[0]["status"] == 400
    assert b"Content-Length" in sent[1]["body"]


@pytest.mark.anyio
async def test_asgi_client_gone_before_the_body_gets_no_answer(bus: EventBus) -> None:
    """When the client disconnects mid-body nothing is published and nothing is sent."""
    seen: list[Event[Any]] = []
    bus.subscribe(seen.append)
    app = WebhookReceiver(bus, SCHEME).asgi_app()
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b'{"id":', "more_body": True},
        {"type": "http.disconnect"},
    ]
    assert await _drive(app, http_scope([]), messages) == []
    assert seen == []
