"""``eventbus.webhooks.flask.blueprint``: a real Flask app under werkzeug's WSGI server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import webhook_vectors as v
from flask import Blueprint, Flask
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
from webhook_support import InvoicePaid, body_of, serve_wsgi

from eventbus import Event, EventBus
from eventbus.webhooks import WebhookReceiver
from eventbus.webhooks.flask import blueprint

PATH = "/api/payment/callback"


def flask_app(receiver: WebhookReceiver, *, max_content_length: int | None = None) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = max_content_length
    app.register_blueprint(blueprint(receiver, "/payment/callback"), url_prefix="/api")
    return app


@pytest.fixture
def served(bus: EventBus) -> Iterator[str]:
    """The blueprint under /api in a Flask app served by werkzeug; its base URL."""
    with serve_wsgi(flask_app(WebhookReceiver(bus, SCHEME, max_body_bytes=2000))) as url:
        yield url


def chunks(size: int) -> Iterator[bytes]:
    """A body of ``size`` spaces sent chunked (no Content-Length)."""
    yield from (b" " * 500 for _ in range(size // 500))


def test_blueprint_is_a_flask_blueprint(bus: EventBus) -> None:
    """blueprint() returns a flask Blueprint."""
    assert isinstance(blueprint(WebhookReceiver(bus, SCHEME), PATH), Blueprint)


def test_post_is_handled_then_duplicate(served: str, bus: EventBus) -> None:
    """A signed POST is handled once; its redelivery is a duplicate."""
    seen: list[Event[Any]] = []
    bus.subscribe(seen.append)
    first = httpx.post(served + PATH, content=v.SW2_BODY, headers=signed(v.SW2_BODY))
    again = httpx.post(served + PATH, content=v.SW2_BODY, headers=signed(v.SW2_BODY, "m2"))
    assert receiver_answer(first) == (200, "handled")
    assert receiver_answer(again) == (200, "duplicate")
    assert [event.id for event in seen] == [v.SW2_ID]
    assert seen[0].data["object"]["description"] == "Caf\u00e9 \u2615"


@pytest.mark.parametrize("method", OTHER_METHODS)
def test_other_methods_get_the_receivers_405(served: str, method: str) -> None:
    """Other methods, OPTIONS included, get the receiver's JSON 405, not Flask's HTML."""
    assert_405(httpx.request(method, served + PATH))


def test_refusals_are_the_receivers_json(served: str, bus: EventBus) -> None:
    """413 (declared and chunked), 401, 415 and 422 are the receiver's answers."""
    bus.register(InvoicePaid)
    url = served + PATH
    big = body_of(object={"pad": "x" * 5000})
    declared = httpx.post(url, content=big, headers=signed(big))
    assert receiver_answer(declared) == (413, "rejected")
    assert "max_body_bytes=2000" in declared.json()["error"]
    assert receiver_answer(httpx.post(url, content=chunks(3000), headers=JSON))[0] == 413
    assert receiver_answer(httpx.post(url, content=b"{}", headers=signed(v.SW2_BODY)))[0] == 401
    text = {**signed(v.SW2_BODY), "content-type": "text/plain"}
    assert receiver_answer(httpx.post(url, content=v.SW2_BODY, headers=text))[0] == 415
    misfit = body_of(object={"id": "in_1", "amount_paid": "lots"})
    invalid = httpx.post(url, content=misfit, headers=signed(misfit))
    assert receiver_answer(invalid) == (422, "rejected")


def test_max_content_length_smaller_than_the_receivers_limit_is_respected(bus: EventBus) -> None:
    """The app's MAX_CONTENT_LENGTH, when smaller, refuses with the receiver's JSON 413
    naming it, declared or chunked; nothing is published."""
    seen: list[Event[Any]] = []
    bus.subscribe(seen.append)
    app = flask_app(WebhookReceiver(bus, SCHEME), max_content_length=1000)
    body = body_of(object={"pad": "x" * 1500})
    with serve_wsgi(app) as url:
        declared = httpx.post(url + PATH, content=body, headers=signed(body))
        chunked = httpx.post(url + PATH, content=chunks(2000), headers=signed(body))
        small = httpx.post(url + PATH, content=v.SW2_BODY, headers=signed(v.SW2_BODY))
    assert receiver_answer(declared) == (413, "rejected")
    assert "MAX_CONTENT_LENGTH=1000" in declared.json()["error"]
    assert receiver_answer(chunked) == (413, "rejected")
    assert receiver_answer(small) == (200, "handled")
    assert [event.id for event in seen] == [v.SW2_ID]


def test_the_scheme_sees_the_full_path_and_query(bus: EventBus) -> None:
    """The url_prefix is part of the path verified; the query is passed as sent."""
    app = flask_app(WebhookReceiver(bus, BLOCKLET))
    body, headers = component_signed(PATH, "a=1")
    with serve_wsgi(app) as url:
        handled = httpx.post(url + PATH + "?a=1", content=body, headers=headers)
        elsewhere = httpx.post(url + PATH + "?a=2", content=body, headers=headers)
    assert receiver_answer(handled) == (200, "handled")
    assert receiver_answer(elsewhere) == (401, "rejected")


def test_two_receivers_on_one_app_by_renaming(bus: EventBus) -> None:
    """A second blueprint registers under another name, as Flask asks."""
    app = Flask(__name__)
    app.register_blueprint(blueprint(WebhookReceiver(bus, SCHEME), "/a"))
    app.register_blueprint(blueprint(WebhookReceiver(bus, SCHEME), "/b"), name="second")
    with serve_wsgi(app) as url:
        assert (
            receiver_answer(httpx.post(url + "/b", content=v.SW2_BODY, headers=signed(v.SW2_BODY)))[
                0
            ]
            == 200
        )


def test_the_scheme_verifies_the_raw_path(bus: EventBus) -> None:
    """The path signed is the percent-encoded one as sent (werkzeug's REQUEST_URI), not the
    decoded route path."""
    app = Flask(__name__)
    app.register_blueprint(blueprint(WebhookReceiver(bus, BLOCKLET), DECODED_PATH))
    body, headers = component_signed(RAW_PATH)
    with serve_wsgi(app) as url:
        response = httpx.post(url + RAW_PATH, content=body, headers=headers)
    assert receiver_answer(response) == (200, "handled")


def test_public_names() -> None:
    """The module's surface is the blueprint factory."""
    import eventbus.webhooks.flask as module

    assert module.__all__ == ["blueprint"]
