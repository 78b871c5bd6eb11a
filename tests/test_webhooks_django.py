"""``eventbus.webhooks.django.webhook_view``: a minimal Django project configured here,
through Django's test client and through a real WSGI server (werkzeug serving Django)."""

from __future__ import annotations

import socket
import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import django
import httpx
import pytest
import uvicorn
import webhook_vectors as v
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.test import Client, override_settings
from django.urls import path
from framework_support import (
    BLOCKLET,
    DECODED_PATH,
    OTHER_METHODS,
    RAW_PATH,
    SCHEME,
    assert_405,
    component_signed,
    receiver_answer,
    signed,
)
from webhook_support import InvoicePaid, body_of, serve_wsgi

from eventbus import Event, EventBus
from eventbus.webhooks import WebhookReceiver
from eventbus.webhooks.django import webhook_view

PATH = "/api/payment/callback"

if not settings.configured:
    settings.configure(
        SECRET_KEY="eventbus-tests",
        ALLOWED_HOSTS=["*"],
        INSTALLED_APPS=[],
        MIDDLEWARE=[
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
        ],
    )
    django.setup()


@contextmanager
def urlconf(receiver: WebhookReceiver, route: str = PATH) -> Iterator[None]:
    """Route ``route`` to webhook_view(receiver) for the length of the block."""
    urls = types.ModuleType(f"eventbus_test_urls_{id(receiver)}")
    urls.urlpatterns = [path(route.lstrip("/"), webhook_view(receiver))]  # type: ignore[attr-defined]
    sys.modules[urls.__name__] = urls
    try:
        with override_settings(ROOT_URLCONF=urls.__name__):
            yield
    finally:
        del sys.modules[urls.__name__]


@pytest.fixture
def project(bus: EventBus) -> Iterator[WebhookReceiver]:
    """The project's URLconf routes PATH to webhook_view(receiver); yields the receiver."""
    receiver = WebhookReceiver(bus, SCHEME, max_body_bytes=2000)
    with urlconf(receiver):
        yield receiver


@pytest.fixture
def client(project: WebhookReceiver) -> Client:
    """Django's test client, enforcing CSRF checks as a browser request would meet them."""
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def served(project: WebhookReceiver) -> Iterator[str]:
    """The project's WSGI handler under werkzeug's server; its base URL."""
    with serve_wsgi(WSGIHandler()) as url:
        yield url


def post(client: Client, body: bytes, headers: dict[str, str], url: str = PATH) -> Any:
    content_type = headers.get("content-type", "application/json")
    rest = {name: value for name, value in headers.items() if name != "content-type"}
    return client.post(url, data=body, content_type=content_type, headers=rest)


def answer_of(response: Any) -> tuple[int, str]:
    """The test client's response as the receiver's answer: (status, outcome)."""
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"ok", "outcome", "event_id", "error"}
    return response.status_code, body["outcome"]


# -- Django's test client ---------------------------------------------------------------------


def test_client_post_is_handled_then_duplicate(client: Client, bus: EventBus) -> None:
    """A signed POST passes the CSRF middleware (exempt), is handled once, then duplicate."""
    seen: list[Event[Any]] = []
    bus.subscribe(seen.append)
    assert answer_of(post(client, v.SW2_BODY, signed(v.SW2_BODY))) == (200, "handled")
    assert answer_of(post(client, v.SW2_BODY, signed(v.SW2_BODY, "m2"))) == (200, "duplicate")
    assert [event.id for event in seen] == [v.SW2_ID]


@pytest.mark.parametrize("method", OTHER_METHODS)
def test_client_other_methods_get_405_with_allow(client: Client, method: str) -> None:
    """Other methods get the receiver's 405, with its Allow header."""
    response = client.generic(method, PATH)
    assert answer_of(response) == (405, "rejected")
    assert response["Allow"] == "POST"


def test_client_refusals_are_the_receivers_json(client: Client, bus: EventBus) -> None:
    """413 over max_body_bytes, 401, 415, 422: the receiver's answers."""
    bus.register(InvoicePaid)
    big = body_of(object={"pad": "x" * 5000})
    assert answer_of(post(client, big, signed(big))) == (413, "rejected")
    assert answer_of(post(client, b"{}", signed(v.SW2_BODY)))[0] == 401
    assert (
        answer_of(post(client, v.SW2_BODY, {**signed(v.SW2_BODY), "content-type": "text/plain"}))[0]
        == 415
    )
    misfit = body_of(object={"id": "in_1", "amount_paid": "lots"})
    assert answer_of(post(client, misfit, signed(misfit))) == (422, "rejected")


def test_client_body_over_data_upload_max_memory_size_is_413(client: Client) -> None:
    """Over DATA_UPLOAD_MAX_MEMORY_SIZE (below max_body_bytes): the receiver's JSON 413
    naming the setting, not Django's HTML 400."""
    body = body_of(object={"pad": "x" * 1500})
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
        response = post(client, body, signed(body))
    assert answer_of(response) == (413, "rejected")
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE=1000" in response.json()["error"]


def test_client_invalid_content_length_is_400(client: Client) -> None:
    """A Content-Length that is not a number is the receiver's 400, not a 500."""
    response = client.generic("POST", PATH, v.SW2_BODY, "application/json", CONTENT_LENGTH="x")
    assert answer_of(response) == (400, "rejected")


def test_client_the_scheme_sees_path_and_query(bus: EventBus) -> None:
    """The component signature signs path and query; the view passes both as received."""
    body, headers = component_signed(PATH, "a=1")
    with urlconf(WebhookReceiver(bus, BLOCKLET)):
        handled = post(Client(), body, headers, PATH + "?a=1")
        elsewhere = post(Client(), body, headers, PATH + "?a=2")
    assert answer_of(handled) == (200, "handled")
    assert answer_of(elsewhere) == (401, "rejected")


# -- a real server ----------------------------------------------------------------------------


def test_server_post_is_handled_then_duplicate(served: str, bus: EventBus) -> None:
    """Over real HTTP, the same answers."""
    seen: list[Event[Any]] = []
    bus.subscribe(seen.append)
    first = httpx.post(served + PATH, content=v.SW2_BODY, headers=signed(v.SW2_BODY))
    again = httpx.post(served + PATH, content=v.SW2_BODY, headers=signed(v.SW2_BODY, "m2"))
    assert receiver_answer(first) == (200, "handled")
    assert receiver_answer(again) == (200, "duplicate")
    assert [event.id for event in seen] == [v.SW2_ID]


def test_server_get_is_the_receivers_405(served: str) -> None:
    """Over real HTTP, GET gets the receiver's JSON 405 with Allow: POST."""
    assert_405(httpx.get(served + PATH))


def test_server_oversized_bodies_are_the_receivers_413(served: str) -> None:
    """Over real HTTP: over max_body_bytes, and over DATA_UPLOAD_MAX_MEMORY_SIZE."""
    big = body_of(object={"pad": "x" * 5000})
    assert receiver_answer(httpx.post(served + PATH, content=big, headers=signed(big)))[0] == 413
    body = body_of(object={"pad": "x" * 1500})
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
        response = httpx.post(served + PATH, content=body, headers=signed(body))
    assert receiver_answer(response) == (413, "rejected")
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE=1000" in response.json()["error"]


def test_server_the_scheme_verifies_the_raw_path(bus: EventBus) -> None:
    """The path signed is the percent-encoded one as sent (the server's REQUEST_URI), not
    the decoded one Django routes on."""
    body, headers = component_signed(RAW_PATH)
    with urlconf(WebhookReceiver(bus, BLOCKLET), DECODED_PATH), serve_wsgi(WSGIHandler()) as url:
        response = httpx.post(url + RAW_PATH, content=body, headers=headers)
    assert receiver_answer(response) == (200, "handled")


@contextmanager
def serve_django_asgi() -> Iterator[str]:
    """Django's ASGI handler under uvicorn in a thread (no lifespan: Django has none)."""
    sock = socket.create_server(("127.0.0.1", 0))
    config = uvicorn.Config(ASGIHandler(), lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_asgi_server_passes_the_raw_path_and_answers_405_and_413(bus: EventBus) -> None:
    """Under uvicorn and Django's ASGI handler: the raw path from the ASGI scope is what
    the scheme verifies, GET is the receiver's 405, and a chunked body over max_body_bytes
    (which Django read whole, with no Content-Length to check) its 413."""
    receiver = WebhookReceiver(bus, BLOCKLET, max_body_bytes=2000)
    body, headers = component_signed(RAW_PATH)

    def chunks() -> Iterator[bytes]:
        yield from (b" " * 1000 for _ in range(3))

    with urlconf(receiver, DECODED_PATH), serve_django_asgi() as url:
        response = httpx.post(url + RAW_PATH, content=body, headers=headers)
        not_allowed = httpx.get(url + RAW_PATH)
        chunked = httpx.post(url + RAW_PATH, content=chunks(), headers=headers)
    assert receiver_answer(response) == (200, "handled")
    assert_405(not_allowed)
    assert receiver_answer(chunked) == (413, "rejected")
    assert "max_body_bytes=2000" in chunked.json()["error"]


def test_public_names() -> None:
    """The module's surface is the view factory."""
    import eventbus.webhooks.django as module

    assert module.__all__ == ["webhook_view"]
