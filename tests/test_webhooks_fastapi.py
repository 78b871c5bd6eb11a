"""``eventbus.webhooks.fastapi.router``: FastAPI under a real uvicorn, posted to with httpx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import webhook_vectors as v
from fastapi import BackgroundTasks, Depends, FastAPI, Request
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
from webhook_support import InvoicePaid, body_of, serve_asgi

from eventbus import Event, EventBus
from eventbus.webhooks import WebhookReceiver
from eventbus.webhooks.fastapi import WebhookAnswer, router

PATH = "/api/payment/callback"


@pytest.fixture
def app(bus: EventBus) -> FastAPI:
    """A FastAPI app including the receiver's router under the /api prefix."""
    app = FastAPI()
    receiver = WebhookReceiver(bus, SCHEME, max_body_bytes=2000)
    app.include_router(router(receiver, "/payment/callback"), prefix="/api")
    return app


@pytest.fixture
def served(app: FastAPI) -> Iterator[str]:
    with serve_asgi(app) as url:
        yield url


def test_post_operation_is_documented(app: FastAPI) -> None:
    """app.openapi() shows the POST operation, its summary and the answer's schema for
    200 and the refusals; no other method is documented."""
    spec = app.openapi()
    operations = spec["paths"][PATH]
    assert set(operations) == {"post"}
    post = operations["post"]
    assert post["summary"] == "Receive a webhook delivery"
    ref = {"$ref": "#/components/schemas/WebhookAnswer"}
    for status in ("200", "400", "401", "405", "409", "413", "415", "422", "500"):
        assert post["responses"][status]["content"]["application/json"]["schema"] == ref
    assert "requestBody" in post
    schema = spec["components"]["schemas"]["WebhookAnswer"]
    assert set(schema["properties"]) == {"ok", "outcome", "event_id", "error"}
    assert "rejected" in schema["properties"]["outcome"]["enum"]


def test_every_answer_of_the_receiver_is_documented(app: FastAPI) -> None:
    """Each outcome the receiver can answer shows in app.openapi(): under its status, and
    in the answer's outcome field, from the receiver's one table of answers."""
    from typing import get_args

    from eventbus.webhooks._response import OUTCOMES, REFUSALS, OutcomeName

    spec = app.openapi()
    responses = spec["paths"][PATH]["post"]["responses"]
    outcome = spec["components"]["schemas"]["WebhookAnswer"]["properties"]["outcome"]
    for name in get_args(OutcomeName):
        assert name in outcome["enum"]
        assert name in outcome["description"]
        statuses = [OUTCOMES[name][0]] if name != "rejected" else list(REFUSALS)
        for status in statuses:
            assert f"`{name}`" in responses[str(status)]["description"]
    assert "`queued`" in responses["202"]["description"]
    assert "`dead_letter`" in responses["200"]["description"]
    assert set(responses) == {str(s) for s, _ in OUTCOMES.values()} | {str(s) for s in REFUSALS}


def test_answer_model_matches_the_receivers_body(bus: EventBus) -> None:
    """The documented model validates what the receiver actually answers."""
    receiver = WebhookReceiver(bus, SCHEME)
    answer = receiver.handle(v.SW2_BODY, signed(v.SW2_BODY))
    assert WebhookAnswer.model_validate(answer.body).model_dump() == answer.body


def test_post_is_handled_then_duplicate(served: str, bus: EventBus) -> None:
    """Under the prefix, a signed POST is handled once, its redelivery is a duplicate."""
    seen: list[Event[Any]] = []
    bus.subscribe(seen.append)
    first = httpx.post(served + PATH, content=v.SW2_BODY, headers=signed(v.SW2_BODY))
    again = httpx.post(served + PATH, content=v.SW2_BODY, headers=signed(v.SW2_BODY, "m2"))
    assert receiver_answer(first) == (200, "handled")
    assert receiver_answer(again) == (200, "duplicate")
    assert [event.id for event in seen] == [v.SW2_ID]


@pytest.mark.parametrize("method", OTHER_METHODS)
def test_other_methods_get_the_receivers_405(served: str, method: str) -> None:
    """Other methods get the receiver's JSON 405 with Allow: POST, not {"detail": ...}."""
    assert_405(httpx.request(method, served + PATH))


def test_refusals_are_the_receivers_json(served: str, bus: EventBus) -> None:
    """413 (declared and chunked), 401, 415 and 422 are the receiver's answers."""
    bus.register(InvoicePaid)
    big = body_of(object={"pad": "x" * 5000})

    def chunks() -> Iterator[bytes]:
        yield from (b" " * 1000 for _ in range(3))

    misfit = body_of(object={"id": "in_1", "amount_paid": "lots"})
    url = served + PATH
    assert receiver_answer(httpx.post(url, content=big, headers=signed(big))) == (413, "rejected")
    assert receiver_answer(httpx.post(url, content=chunks(), headers=JSON))[0] == 413
    assert receiver_answer(httpx.post(url, content=b"{}", headers=signed(v.SW2_BODY)))[0] == 401
    text = {**signed(v.SW2_BODY), "content-type": "text/plain"}
    assert receiver_answer(httpx.post(url, content=v.SW2_BODY, headers=text))[0] == 415
    invalid = httpx.post(url, content=misfit, headers=signed(misfit))
    assert receiver_answer(invalid) == (422, "rejected")
    assert "amount_paid" in invalid.json()["error"]


def test_the_scheme_sees_the_full_path_and_query(bus: EventBus) -> None:
    """The component signature signs path and query: the prefix is part of the path."""
    app = FastAPI()
    app.include_router(router(WebhookReceiver(bus, BLOCKLET), "/callback"), prefix="/api/payment")
    body, headers = component_signed(PATH, "a=1")
    with serve_asgi(app) as url:
        handled = httpx.post(url + PATH + "?a=1", content=body, headers=headers)
        elsewhere = httpx.post(url + PATH + "?a=2", content=body, headers=headers)
    assert receiver_answer(handled) == (200, "handled")
    assert receiver_answer(elsewhere) == (401, "rejected")


def test_router_dependencies_run_before_the_receiver(bus: EventBus) -> None:
    """Dependencies given to include_router run for the operation, as for any other."""
    seen: list[str] = []

    def audit(request: Request) -> None:
        seen.append(request.url.path)

    app = FastAPI()
    receiver = WebhookReceiver(bus, SCHEME)
    app.include_router(router(receiver, PATH), dependencies=[Depends(audit)])
    with serve_asgi(app) as url:
        response = httpx.post(url + PATH, content=v.SW2_BODY, headers=signed(v.SW2_BODY))
    assert receiver_answer(response) == (200, "handled")
    assert seen == [PATH]


def test_other_routes_of_the_app_keep_working(bus: EventBus) -> None:
    """The router takes its path only; the app's own operations answer as before."""
    app = FastAPI()

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(router(WebhookReceiver(bus, SCHEME), PATH))
    with serve_asgi(app) as url:
        assert httpx.get(url + "/health").json() == {"status": "ok"}
        assert_405(httpx.get(url + PATH))


def test_background_tasks_of_dependencies_run_after_the_answer(bus: EventBus) -> None:
    """A dependency's background task runs once the receiver has answered."""
    done: list[str] = []

    def schedule(tasks: BackgroundTasks) -> None:
        tasks.add_task(done.append, "after")

    app = FastAPI()
    app.include_router(router(WebhookReceiver(bus, SCHEME), PATH), dependencies=[Depends(schedule)])
    with serve_asgi(app) as url:
        response = httpx.post(url + PATH, content=v.SW2_BODY, headers=signed(v.SW2_BODY))
    assert receiver_answer(response) == (200, "handled")
    assert done == ["after"]


def test_the_scheme_verifies_the_raw_path(bus: EventBus) -> None:
    """The path signed is the percent-encoded one as sent, not the decoded route path."""
    app = FastAPI()
    app.include_router(router(WebhookReceiver(bus, BLOCKLET), DECODED_PATH))
    body, headers = component_signed(RAW_PATH)
    with serve_asgi(app) as url:
        response = httpx.post(url + RAW_PATH, content=body, headers=headers)
    assert receiver_answer(response) == (200, "handled")


def test_public_names() -> None:
    """The module's surface: the router factory and the answer's model."""
    import eventbus.webhooks.fastapi as module

    assert module.__all__ == ["WebhookAnswer", "router"]
