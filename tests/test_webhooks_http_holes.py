"""Holes about HTTP itself, over real servers on 127.0.0.1: slow senders under uvicorn
(hole 5) and repeated signature headers under uvicorn, werkzeug and wsgiref (hole 6)."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import webhook_vectors as v
from webhook_support import (
    body_of,
    open_request,
    read_response,
    serve_asgi,
    serve_wsgi,
    serve_wsgiref,
)

from eventbus import Event, EventBus
from eventbus.webhooks import HmacTimestampSignature, StandardWebhooks, WebhookReceiver

STANDARD = StandardWebhooks(v.SW2_SECRET_NEW)
STRIPE = HmacTimestampSignature(v.ST1_SECRET)
JSON = {"content-type": "application/json"}
HEAD = "POST /hooks HTTP/1.1\nHost: test\nContent-Type: application/json\nContent-Length: {}\n"


@pytest.fixture
def published(bus: EventBus) -> list[Event[Any]]:
    seen: list[Event[Any]] = []
    bus.subscribe(seen.append)
    return seen


@pytest.fixture
def slow_url(bus: EventBus) -> Iterator[str]:
    """uvicorn serving a receiver that gives a body a quarter of a second to arrive."""
    receiver = WebhookReceiver(bus, STANDARD, read_timeout=0.25)
    with serve_asgi(receiver.asgi_app()) as url:
        yield url


# -- 5. slow senders -----------------------------------------------------------------------


def test_stalled_bodies_get_408_and_nothing_is_published(
    slow_url: str, published: list[Event[Any]], caplog: pytest.LogCaptureFixture
) -> None:
    """Two hundred senders that announce a body and stall, all connected at once, are all
    answered 408 (the issue's 200 stalled connections); none is held open."""
    body = body_of()
    sockets = [open_request(slow_url, HEAD.format(len(body)), body[:10]) for _ in range(200)]
    try:
        answers = [read_response(sock) for sock in sockets]
        closed = [sock.recv(1) == b"" for sock in sockets]  # the server let go of each
    finally:
        for sock in sockets:
            sock.close()
    assert len(answers) == 200
    assert all(closed)
    assert {(status, answer["outcome"]) for status, answer in answers} == {(408, "rejected")}
    assert "read_timeout=0.25 s" in answers[0][1]["error"]
    assert published == []
    assert "answered 408 rejected" in caplog.text


def test_a_trickled_body_meets_a_total_deadline_not_an_idle_timer(
    slow_url: str, published: list[Event[Any]]
) -> None:
    """A byte every 20 ms never leaves the connection idle for a quarter second, yet the
    body is refused once the request's deadline passes."""
    body = body_of()
    sock = open_request(slow_url, HEAD.format(len(body) * 1000))
    answered = threading.Event()

    def trickle() -> None:
        try:
            while not answered.wait(0.02):
                sock.sendall(b" ")
        except OSError:
            return  # the server closed the connection after answering

    sender = threading.Thread(target=trickle)
    sender.start()
    try:
        status, answer = read_response(sock)
    finally:
        answered.set()
        sender.join(10)
        sock.close()
    assert (status, answer["outcome"]) == (408, "rejected")
    assert published == []


def test_a_body_sent_in_time_in_pieces_is_handled(
    slow_url: str, published: list[Event[Any]]
) -> None:
    body = body_of()
    headers = "".join(f"{name}: {value}\n" for name, value in STANDARD.sign(body).items())
    sock = open_request(slow_url, HEAD.format(len(body)) + headers, body[:5])
    try:
        sock.sendall(body[5:])
        status, answer = read_response(sock)
    finally:
        sock.close()
    assert (status, answer["outcome"]) == (200, "handled")
    assert [event.id for event in published] == ["evt_1"]


# -- 6. repeated signature headers --------------------------------------------------------


def repeated(signed: dict[str, str], name: str) -> list[tuple[str, str]]:
    return [*JSON.items(), *signed.items(), (name, signed[name])]


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_uvicorn_refuses_a_repeated_signature_header(
    bus: EventBus, published: list[Event[Any]], name: str
) -> None:
    body = body_of()
    with serve_asgi(WebhookReceiver(bus, STANDARD).asgi_app()) as url:
        response = httpx.post(url, content=body, headers=repeated(STANDARD.sign(body), name))
    assert response.status_code == 401
    assert f"header {name!r} was given 2 times" in response.json()["error"]
    assert published == []


@pytest.mark.parametrize("server", [serve_wsgiref, serve_wsgi], ids=["wsgiref", "werkzeug"])
@pytest.mark.parametrize(
    ("scheme", "name"),
    [
        (STANDARD, "webhook-id"),
        (STANDARD, "webhook-timestamp"),
        (STANDARD, "webhook-signature"),
        (STRIPE, "Stripe-Signature"),
    ],
)
def test_wsgi_servers_refuse_a_repeated_signature_header(
    bus: EventBus, published: list[Event[Any]], server: Any, scheme: Any, name: str
) -> None:
    """The server joins the two values into one, which does not parse (a joined Stripe
    header used to pass: both halves carry the same t=): refused, nothing published."""
    body = body_of()
    with server(WebhookReceiver(bus, scheme).wsgi_app()) as url:
        signed = scheme.sign(body)
        assert httpx.post(url, content=body, headers={**JSON, **signed}).status_code == 200
        again = body_of("evt_2")
        response = httpx.post(url, content=again, headers=repeated(scheme.sign(again), name))
    assert response.status_code == 401, response.json()
    assert [event.id for event in published] == ["evt_1"]


def test_wsgiref_refusal_is_logged(bus: EventBus, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="eventbus.webhooks")
    body = body_of()
    with serve_wsgiref(WebhookReceiver(bus, STANDARD).wsgi_app()) as url:
        headers = repeated(STANDARD.sign(body), "webhook-signature")
        assert httpx.post(url + "/hooks", content=body, headers=headers).status_code == 401
    assert "POST /hooks answered 401 rejected" in caplog.text


# -- WSGI bodies without a Content-Length, over werkzeug (which terminates the stream) ----


def chunks(body: bytes) -> Iterator[bytes]:
    yield body[:7]
    yield body[7:]


def test_wsgi_chunked_body_is_read_to_its_end(bus: EventBus, published: list[Event[Any]]) -> None:
    body = body_of()
    with serve_wsgi(WebhookReceiver(bus, STANDARD).wsgi_app()) as url:
        response = httpx.post(url, content=chunks(body), headers={**JSON, **STANDARD.sign(body)})
    assert (response.status_code, response.json()["outcome"]) == (200, "handled")
    assert [event.id for event in published] == ["evt_1"]


def test_wsgi_chunked_body_over_the_limit_is_413(bus: EventBus) -> None:
    body = body_of(object={"id": "x" * 500})
    receiver = WebhookReceiver(bus, STANDARD, max_body_bytes=100)
    with serve_wsgi(receiver.wsgi_app()) as url:
        response = httpx.post(url, content=chunks(body), headers={**JSON, **STANDARD.sign(body)})
    assert response.status_code == 413


def test_wsgi_without_length_on_a_server_that_does_not_terminate_reads_nothing(
    bus: EventBus, published: list[Event[Any]]
) -> None:
    """PEP 3333 forbids reading past Content-Length: with none, under wsgiref (which does
    not set ``wsgi.input_terminated``), the body read is empty and fails its signature."""
    body = body_of()
    signed = "".join(f"{name}: {value}\n" for name, value in STANDARD.sign(body).items())
    with serve_wsgiref(WebhookReceiver(bus, STANDARD).wsgi_app()) as url:
        sock = open_request(url, "POST / HTTP/1.0\nContent-Type: application/json\n" + signed, body)
        try:
            sock.shutdown(socket.SHUT_WR)
            status, answer = read_response(sock)
        finally:
            sock.close()
    assert status == 401
    assert "no matching signature" in answer["error"]
    assert published == []


def test_a_content_length_of_thousands_of_digits_is_413_not_500(bus: EventBus) -> None:
    """(uvicorn refuses such a request itself; wsgiref hands it to the app.)"""
    with serve_wsgiref(WebhookReceiver(bus, STANDARD).wsgi_app()) as url:
        sock = open_request(url, HEAD.format("9" * 5000))
        try:
            status, _ = read_response(sock)
        finally:
            sock.close()
    assert status == 413
