"""``WebhookReceiver.route(path)``: a Starlette route, tested under a real uvicorn."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import webhook_vectors as v
from framework_support import (
    BLOCKLET,
    DECODED_PATH,
    JSON,
    OTHER_METHODS,
    RAW_PATH,
    SCHEME,
    assert_405,
    component_signed,
    receiver_answer,
    signed,
)
from starlette.applications import Starlette
from starlette.routing import Mount, Route
from webhook_support import body_of, serve_asgi

from eventbus import Event, EventBus
from eventbus.webhooks import WebhookReceiver

PATH = "/api/payment/callback"


@pytest.fixture
def served(bus: EventBus) -> Iterator[str]:
    """A Starlette app with the receiver's route at PATH, under uvicorn; its base URL."""
    receiver = WebhookReceiver(bus, SCHEME, max_body_bytes=2000)
    with serve_asgi(Starlette(routes=[receiver.route(PATH)])) as url:
        yield url


def test_route_is_a_starlette_route_for_the_exact_path(bus: EventBus) -> None:
    """route() returns a starlette Route at that path that restricts no method itself."""
    route = WebhookReceiver(bus, SCHEME).route(PATH)
    assert isinstance(route, Route)
    assert route.path == PATH
    assert route.methods is None


def test_post_is_handled_then_duplicate(served: str, bus: EventBus) -> None:
    """A signed POST is handled; its redelivery is a duplicate; the event is published once."""
    seen: list[Event[Any]] = []
    bus.subscribe(seen.append)
    first = httpx.post(served + PATH, content=v.SW2_BODY, headers=signed(v.SW2_BODY))
    again = httpx.post(served + PATH, content=v.SW2_BODY, headers=signed(v.SW2_BODY, "m2"))
    assert receiver_answer(first) == (200, "handled")
    assert receiver_answer(again) == (200, "duplicate")
    assert [event.id for event in seen] == [v.SW2_ID]


@pytest.mark.parametrize("method", OTHER_METHODS)
def test_other_methods_get_the_receivers_405(served: str, method: str) -> None:
    """Every other method gets the receiver's JSON 405 with Allow: POST, not Starlette's."""
    assert_405(httpx.request(method, served + PATH))


def test_head_gets_405_with_allow(served: str) -> None:
    """HEAD (no body allowed in the answer) still gets 405 with Allow: POST."""
    response = httpx.head(served + PATH)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_oversized_body_is_the_receivers_413(served: str) -> None:
    """Over max_body_bytes, by Content-Length or while reading a chunked body: JSON 413."""
    big = body_of(object={"pad": "x" * 5000})
    declared = httpx.post(served + PATH, content=big, headers=signed(big))

    def chunks() -> Iterator[bytes]:
        yield from (b" " * 1000 for _ in range(3))

    chunked = httpx.post(served + PATH, content=chunks(), headers=JSON)
    assert receiver_answer(declared) == (413, "rejected")
    assert receiver_answer(chunked) == (413, "rejected")
    assert "max_body_bytes=2000" in chunked.json()["error"]


def test_only_the_exact_path_is_served(served: str) -> None:
    """A longer path is not the route's: the app's 404, and nothing reaches the receiver."""
    response = httpx.post(served + PATH + "/extra", content=v.SW2_BODY, headers=signed(v.SW2_BODY))
    assert response.status_code == 404


def test_route_in_a_mount_verifies_the_full_path(bus: EventBus) -> None:
    """Inside Mount("/api"), the scheme sees /api/... and the query (the component
    signature signs both), so a signature for another path is refused."""
    receiver = WebhookReceiver(bus, BLOCKLET)
    app = Starlette(routes=[Mount("/api", routes=[receiver.route("/payment/callback")])])
    body, headers = component_signed(PATH, "a=1")
    with serve_asgi(app) as url:
        handled = httpx.post(url + PATH + "?a=1", content=body, headers=headers)
        wrong_query = httpx.post(url + PATH + "?a=2", content=body, headers=headers)
    assert receiver_answer(handled) == (200, "handled")
    assert receiver_answer(wrong_query) == (401, "rejected")


def test_the_scheme_verifies_the_raw_path(bus: EventBus) -> None:
    """The path signed is the percent-encoded one as sent, not the decoded route path."""
    receiver = WebhookReceiver(bus, BLOCKLET)
    body, headers = component_signed(RAW_PATH)
    with serve_asgi(Starlette(routes=[receiver.route(DECODED_PATH)])) as url:
        response = httpx.post(url + RAW_PATH, content=body, headers=headers)
    assert receiver_answer(response) == (200, "handled")
