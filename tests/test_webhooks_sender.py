"""The webhook sender over real HTTP: uvicorn on 127.0.0.1 serving eventbus's own receiver or
scripted endpoints; signatures checked with the schemes' reference libraries."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
import standardwebhooks
import stripe
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sender_support import FAST, LOCAL, Scripted, Step, wait_for
from webhook_support import serve_asgi

from eventbus import Event, EventBus
from eventbus.webhooks import (
    DeliveryNotFoundError,
    EndpointNotFoundError,
    HmacTimestampSignature,
    SqliteOutbox,
    StandardWebhooks,
    WebhookReceiver,
    WebhookSender,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def outbox(tmp_path: Path) -> SqliteOutbox:
    # Not closed: SqliteFile.close() cannot close the worker threads' connections.
    return SqliteOutbox(tmp_path / "outbox.db")


@pytest.fixture
def sender(bus: EventBus, outbox: SqliteOutbox) -> WebhookSender:
    return WebhookSender(bus, outbox, allow_networks=LOCAL, schedule=FAST, timeout=2.0)


@pytest.fixture
def endpoint() -> Iterator[tuple[str, Scripted]]:
    app = Scripted()
    with serve_asgi(app) as url:
        yield url + "/hooks", app


def paid(event_id: str = "evt_1", **extra: Any) -> Event[Any]:
    return Event(id=event_id, type="invoice.paid", data={"object": {"id": "in_1"}}, **extra)


async def settled(sender: WebhookSender, count: int = 1) -> None:
    await wait_for(
        lambda: len(sender.deliveries(status="pending")) == 0
        and len(sender.attempts()) >= count,
        f"{count} attempt(s) and nothing pending",
    )


@pytest.fixture
async def receiving(
    sender: WebhookSender, endpoint: tuple[str, Scripted]
) -> AsyncIterator[tuple[Any, Scripted, list[Event[Any]]]]:
    """An endpoint forwarding to eventbus's WebhookReceiver with the endpoint's secret."""
    url, app = endpoint
    created = sender.endpoints.create(url, enabled_events=["invoice.*"])
    handled: list[Event[Any]] = []
    theirs = EventBus()
    theirs.subscribe("**", handled.append)
    app.forward = WebhookReceiver(theirs, StandardWebhooks(created.secret)).asgi_app()
    async with sender.running():
        yield created, app, handled


# -- round trip into eventbus's receiver and the reference libraries ---------------------------


async def test_round_trip_verifies_everywhere(
    sender: WebhookSender, receiving: tuple[Any, Scripted, list[Event[Any]]]
) -> None:
    """The POST is the exact envelope, signed so our receiver, standardwebhooks and the
    webhook-id header all agree; the handler on the far side gets the same event."""
    created, app, handled = receiving
    event = paid("evt_round", livemode=False)
    assert sender.enqueue(event) == 1
    await wait_for(lambda: handled, "the receiver's handler")
    request = app.received[0]
    assert request.body == event.to_json()
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == "evt_round"
    assert standardwebhooks.Webhook(created.secret).verify(request.body, request.headers) == (
        json.loads(event.to_json())
    )
    assert handled[0].id == "evt_round"
    assert handled[0].model_extra == {"livemode": False}
    await settled(sender)
    [attempt] = sender.attempts(event_id="evt_round")
    assert (attempt.number, attempt.status, attempt.response_status) == (1, "succeeded", 200)
    assert json.loads(attempt.response_body or "")["outcome"] == "handled"


async def test_manual_retry_is_a_duplicate_at_the_receiver(
    sender: WebhookSender, receiving: tuple[Any, Scripted, list[Event[Any]]]
) -> None:
    """retry() sends the same id again; the receiver answers duplicate, handling once."""
    created, app, handled = receiving
    sender.enqueue(paid("evt_again"))
    await settled(sender)
    sender.retry("evt_again", created.id)
    await settled(sender, 2)
    first, second = sender.attempts(event_id="evt_again")
    assert (first.trigger, second.trigger) == ("scheduled", "manual")
    assert json.loads(second.response_body or "")["outcome"] == "duplicate"
    assert [r.headers["webhook-id"] for r in app.received] == ["evt_again", "evt_again"]
    assert len(handled) == 1


async def test_hmac_timestamp_scheme_verifies_with_stripe(
    sender: WebhookSender, endpoint: tuple[str, Scripted]
) -> None:
    """scheme='hmac-timestamp' sends X-Webhook-Signature: t=...,v1=... as Blocklet Server
    does; stripe's reference verifier and our HmacTimestampSignature accept it."""
    url, app = endpoint
    created = sender.endpoints.create(url, enabled_events="**", scheme="hmac-timestamp")
    async with sender.running():
        sender.enqueue(paid("evt_hmac"))
        await settled(sender)
    request = app.received[0]
    header = request.headers["x-webhook-signature"]
    assert header.startswith("t=")
    assert ",v1=" in header
    assert "webhook-signature" not in request.headers
    stripe.WebhookSignature.verify_header(
        request.body.decode(), header, created.secret, tolerance=300
    )
    ours = HmacTimestampSignature(created.secret, header="X-Webhook-Signature")
    ours.verify(request.body, request.headers)
    assert json.loads(request.body)["id"] == "evt_hmac"


async def test_rotation_signs_with_both_secrets_during_the_overlap(
    sender: WebhookSender, endpoint: tuple[str, Scripted]
) -> None:
    """After rotate_secret, receivers holding either secret verify; a rotation without overlap
    drops the replaced secret at once (earlier ones keep their own overlap)."""
    url, app = endpoint
    old = sender.endpoints.create(url, enabled_events="**")
    rotated = sender.endpoints.rotate_secret(old.id)
    assert rotated.secret != old.secret
    assert rotated.secret.startswith("whsec_")
    async with sender.running():
        sender.enqueue(paid("evt_overlap"))
        await settled(sender)
        request = app.received[0]
        for secret in (old.secret, rotated.secret):
            standardwebhooks.Webhook(secret).verify(request.body, request.headers)
        assert len(request.headers["webhook-signature"].split()) == 2
        newest = sender.endpoints.rotate_secret(old.id, overlap=timedelta(0))
        sender.enqueue(paid("evt_after"))
        await settled(sender, 2)
    request = app.received[1]
    standardwebhooks.Webhook(newest.secret).verify(request.body, request.headers)
    standardwebhooks.Webhook(old.secret).verify(request.body, request.headers)
    assert len(request.headers["webhook-signature"].split()) == 2  # newest + the first one
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(rotated.secret).verify(request.body, request.headers)


# -- scripted endpoints ----------------------------------------------------------------------


async def test_500_then_200_retries_on_the_schedule(
    sender: WebhookSender, endpoint: tuple[str, Scripted]
) -> None:
    """A 500 is a failed attempt with a next attempt; the retry succeeds."""
    url, app = endpoint
    app.steps = [Step(500, body=b"boom"), Step(200)]
    created = sender.endpoints.create(url, enabled_events="**")
    async with sender.running():
        sender.enqueue(paid())
        await settled(sender, 2)
    first, second = sender.attempts(endpoint_id=created.id)
    assert (first.status, first.response_status, first.error) == ("failed", 500, "HTTP 500")
    assert first.response_body == "boom"
    assert first.next_attempt_at is not None
    assert (second.number, second.status, second.next_attempt_at) == (2, "succeeded", None)
    [delivery] = sender.deliveries()
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)


async def test_schedule_exhausted_fails_for_good(
    sender: WebhookSender, endpoint: tuple[str, Scripted]
) -> None:
    """After the last step the delivery is failed, stays listed, and retry can send it."""
    url, app = endpoint
    app.steps = [Step(503)] * 4 + [Step(200)]
    created = sender.endpoints.create(url, enabled_events="**")
    async with sender.running():
        sender.enqueue(paid())
        await settled(sender, 4)
        [delivery] = sender.deliveries(status="failed")
        assert (delivery.attempts, delivery.next_attempt_at) == (4, None)
        sender.retry("evt_1", created.id)
        await settled(sender, 5)
    assert sender.deliveries()[0].status == "succeeded"
    assert sender.attempts()[-1].trigger == "manual"


async def test_410_disables_the_endpoint_at_once(
    bus: EventBus, sender: WebhookSender, endpoint: tuple[str, Scripted]
) -> None:
    """410 Gone disables the endpoint, and the bus hears webhook_endpoint.disabled with the
    id, url and reason but never the secret; later events are not queued for it."""
    url, app = endpoint
    app.steps = [Step(410)]
    notices: list[Event[Any]] = []
    bus.subscribe("webhook_endpoint.*", notices.append)
    created = sender.endpoints.create(url, enabled_events="**")
    sender.attach()
    async with sender.running():
        await bus.publish_async(paid())
        await wait_for(lambda: notices and sender.attempts(), "the notice and the attempt")
    assert sender.endpoints.get(created.id).status == "disabled"
    assert len(app.received) == 1
    [notice] = notices
    assert notice.data["object"] == {"id": created.id, "url": url, "status": "disabled"}
    assert "410" in notice.data["reason"]
    assert created.secret not in notice.to_json().decode()
    assert sender.enqueue(paid("evt_2")) == 0
    assert sender.deliveries()
    assert sender.attempts()[0].response_status == 410


async def test_failing_past_disable_after_disables(
    bus: EventBus, outbox: SqliteOutbox, endpoint: tuple[str, Scripted]
) -> None:
    """An endpoint failing without a success for disable_after is disabled (once)."""
    url, app = endpoint
    app.steps = [Step(500)]
    sender = WebhookSender(
        bus, outbox, allow_networks=LOCAL, schedule=FAST, disable_after=timedelta(0)
    )
    notices: list[Event[Any]] = []
    bus.subscribe("webhook_endpoint.disabled", notices.append)
    created = sender.endpoints.create(url, enabled_events="**")
    async with sender.running():
        sender.enqueue(paid())
        await wait_for(lambda: notices, "the disabled notice")
    assert "HTTP 500" in notices[0].data["reason"]
    assert sender.endpoints.get(created.id).disabled_reason == notices[0].data["reason"]


async def test_a_success_resets_the_failure_clock(
    sender: WebhookSender, endpoint: tuple[str, Scripted]
) -> None:
    """failing_since is set by a failure and cleared by the next success."""
    url, app = endpoint
    release = threading.Event()
    app.steps = [Step(500), Step(200, release=release)]
    created = sender.endpoints.create(url, enabled_events="**")
    async with sender.running():
        sender.enqueue(paid())
        await wait_for(lambda: len(app.received) == 2, "the second attempt, held")
        assert sender.endpoints.get(created.id).failing_since is not None
        release.set()
        await settled(sender, 2)
    assert sender.endpoints.get(created.id).failing_since is None


async def test_429_retry_after_is_clamped_to_the_step(
    bus: EventBus, outbox: SqliteOutbox, endpoint: tuple[str, Scripted]
) -> None:
    """429 with Retry-After waits as asked, clamped to [step, 2 x step]."""
    url, app = endpoint
    app.steps = [Step(429, {"Retry-After": "3600"}), Step(503, {"Retry-After": "0"})]
    sender = WebhookSender(bus, outbox, allow_networks=LOCAL, schedule=(0.05, 100))
    sender.endpoints.create(url, enabled_events="**")
    async with sender.running():
        sender.enqueue(paid())
        await wait_for(lambda: len(sender.attempts()) == 2, "two attempts")
    first, second = sender.attempts()
    assert first.next_attempt_at is not None
    assert second.next_attempt_at is not None
    # Stored as float seconds: equal to the microsecond or so.
    waits = [a.next_attempt_at - a.created_at for a in (first, second)]  # type: ignore[operator]
    assert [round(wait.total_seconds(), 3) for wait in waits] == [0.1, 100]


async def test_hang_longer_than_the_timeout_fails(
    bus: EventBus, outbox: SqliteOutbox, endpoint: tuple[str, Scripted]
) -> None:
    """An endpoint holding the request past the timeout is a failed attempt, no status."""
    url, app = endpoint
    release = threading.Event()
    app.steps = [Step(release=release), Step(200)]
    sender = WebhookSender(bus, outbox, allow_networks=LOCAL, schedule=FAST, timeout=0.2)
    sender.endpoints.create(url, enabled_events="**")
    try:
        async with sender.running():
            sender.enqueue(paid())
            await settled(sender, 2)
    finally:
        release.set()
    first, second = sender.attempts()
    assert (first.status, first.response_status) == ("failed", None)
    assert first.error == "timed out after 0.2 s"
    assert second.status == "succeeded"


async def test_redirect_is_a_failure_and_not_followed(
    sender: WebhookSender, endpoint: tuple[str, Scripted]
) -> None:
    """A 302 to another local URL is recorded as a failure; the target is never requested."""
    url, app = endpoint
    target = Scripted()
    with serve_asgi(target) as elsewhere:
        app.steps = [Step(302, {"Location": elsewhere + "/internal"}), Step(200)]
        sender.endpoints.create(url, enabled_events="**")
        async with sender.running():
            sender.enqueue(paid())
            await settled(sender, 2)
    first = sender.attempts()[0]
    assert (first.status, first.response_status) == ("failed", 302)
    assert first.error is not None
    assert "redirects are not followed" in first.error
    assert target.received == []
    assert [r.path for r in app.received] == ["/hooks", "/hooks"]


async def test_connection_refused_is_a_failure(sender: WebhookSender) -> None:
    """Nobody listening: a failed attempt naming the connection error."""
    with serve_asgi(Scripted()) as url:
        pass  # the port is free again
    sender.endpoints.create(url, enabled_events="**")
    async with sender.running():
        sender.enqueue(paid())
        await wait_for(lambda: sender.attempts(), "an attempt")
    attempt = sender.attempts()[0]
    assert attempt.status == "failed"
    assert attempt.response_status is None
    assert attempt.error is not None
    assert attempt.error.startswith("ConnectError")


async def test_a_slow_endpoint_does_not_hold_back_the_others(
    bus: EventBus, outbox: SqliteOutbox
) -> None:
    """With one endpoint hanging on every request, another endpoint's deliveries are sent:
    the slow one holds at most per_endpoint of the slots."""
    release = threading.Event()
    slow, fast = Scripted(Step(release=release)), Scripted()
    sender = WebhookSender(bus, outbox, allow_networks=LOCAL, concurrency=2, timeout=30)
    assert sender.per_endpoint == 1
    with serve_asgi(slow) as slow_url, serve_asgi(fast) as fast_url:
        sender.endpoints.create(slow_url, enabled_events="slow.*")
        sender.endpoints.create(fast_url, enabled_events="fast.*")
        try:
            async with sender.running():
                for number in range(3):
                    sender.enqueue(Event(id=f"evt_s{number}", type="slow.thing"))
                    sender.enqueue(Event(id=f"evt_f{number}", type="fast.thing"))
                await wait_for(lambda: len(fast.received) == 3, "the fast endpoint's three")
                # The held request may reach the slow server after the fast three finish.
                await wait_for(lambda: len(slow.received) >= 1, "the slow endpoint's first")
                assert len(slow.received) == 1
        finally:
            release.set()


# -- what is queued ----------------------------------------------------------------------------


async def test_enabled_events_and_disabled_endpoints(
    sender: WebhookSender, endpoint: tuple[str, Scripted]
) -> None:
    """Only enabled endpoints whose patterns match are queued; no match stores nothing."""
    url, _ = endpoint
    invoices = sender.endpoints.create(url, enabled_events=["invoice.*"])
    customers = sender.endpoints.create(url, enabled_events=["customer.**"])
    off = sender.endpoints.create(url, enabled_events="**")
    sender.endpoints.update(off.id, status="disabled")
    assert sender.enqueue(paid()) == 1
    assert sender.enqueue(Event(id="evt_c", type="customer.subscription.renewed")) == 1
    assert sender.enqueue(Event(id="evt_none", type="refund.succeeded")) == 0
    assert {(d.event_id, d.endpoint_id) for d in sender.deliveries()} == {
        ("evt_1", invoices.id),
        ("evt_c", customers.id),
    }
    assert sender.deliveries(endpoint_id=off.id) == []


async def test_queuing_is_idempotent_per_event_and_endpoint(
    sender: WebhookSender, endpoint: tuple[str, Scripted]
) -> None:
    """A redelivered event is not queued again; a new endpoint gets it on the next enqueue."""
    url, _ = endpoint
    sender.endpoints.create(url, enabled_events="**")
    assert sender.enqueue(paid()) == 1
    assert sender.enqueue(paid()) == 0
    sender.endpoints.create(url, enabled_events="**")
    assert sender.enqueue(paid()) == 1
    assert len(sender.deliveries()) == 2


async def test_attach_queues_before_publish_returns_and_skips_own_events(
    bus: EventBus, sender: WebhookSender, endpoint: tuple[str, Scripted]
) -> None:
    """attach() subscribes as eventbus.webhooks.sender; each matching publish is stored when
    publish returns; webhook_endpoint.* events never are; unsubscribe stops it."""
    url, _ = endpoint
    sender.endpoints.create(url, enabled_events="**")
    subscription = sender.attach("invoice.*")
    assert subscription.name == "eventbus.webhooks.sender"
    bus.publish(paid())
    assert [d.event_id for d in sender.deliveries()] == ["evt_1"]
    bus.publish(Event(id="evt_x", type="customer.created"))
    assert sender.enqueue(Event(type="webhook_endpoint.disabled")) == 0
    subscription.unsubscribe()
    bus.publish(paid("evt_late"))
    assert [d.event_id for d in sender.deliveries()] == ["evt_1"]


async def test_enqueue_refuses_what_is_not_an_event(sender: WebhookSender) -> None:
    """enqueue takes Events only."""
    with pytest.raises(TypeError, match="takes an Event"):
        sender.enqueue({"type": "invoice.paid"})  # type: ignore[arg-type]


async def test_recover_requeues_what_never_succeeded(
    sender: WebhookSender, endpoint: tuple[str, Scripted]
) -> None:
    """recover() re-sends, as manual attempts, the events since a time without a success."""
    url, app = endpoint
    app.steps = [Step(500)] * 8 + [Step(200)]
    created = sender.endpoints.create(url, enabled_events="**")
    async with sender.running():
        sender.enqueue(paid("evt_a"))
        sender.enqueue(paid("evt_b"))
        await settled(sender, 8)
        assert {d.status for d in sender.deliveries()} == {"failed"}
        since = sender.deliveries()[-1].created_at
        assert sender.recover(created.id, since=since) == 2
        await wait_for(
            lambda: {d.status for d in sender.deliveries()} == {"succeeded"}, "both succeed"
        )
        assert sender.recover(created.id, since=since) == 0
    manual = [a for a in sender.attempts() if a.trigger == "manual"]
    assert {a.event_id for a in manual} == {"evt_a", "evt_b"}


async def test_lookups_of_unknown_ids_raise(sender: WebhookSender) -> None:
    """retry/recover/get/update/delete name what was not found."""
    with pytest.raises(DeliveryNotFoundError, match="evt_nope"):
        sender.retry("evt_nope", "we_nope")
    for call in (
        lambda: sender.recover("we_nope", since=paid().created),
        lambda: sender.endpoints.get("we_nope"),
        lambda: sender.endpoints.update("we_nope", description="x"),
        lambda: sender.endpoints.delete("we_nope"),
        lambda: sender.endpoints.rotate_secret("we_nope"),
    ):
        with pytest.raises(EndpointNotFoundError, match="we_nope"):
            call()
    with pytest.raises(ValueError, match="status must be"):
        sender.deliveries(status="done")  # type: ignore[arg-type]


# -- tracing -----------------------------------------------------------------------------------


async def test_traceparent_from_the_current_span(
    sender: WebhookSender, endpoint: tuple[str, Scripted]
) -> None:
    """With a span current at queuing, its context travels as traceparent on every attempt."""
    url, app = endpoint
    app.steps = [Step(500), Step(200)]
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    sender.endpoints.create(url, enabled_events="**")
    with provider.get_tracer("test").start_as_current_span("publish"):
        sender.enqueue(paid(traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01"))
    [span] = exporter.get_finished_spans()
    assert span.context is not None
    async with sender.running():
        await settled(sender, 2)
    context = span.context
    expected = f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    assert [r.headers["traceparent"] for r in app.received] == [expected, expected]


async def test_traceparent_from_the_event_without_a_span(
    sender: WebhookSender, endpoint: tuple[str, Scripted]
) -> None:
    """Without a current span, the event's own traceparent field is sent; none, no header."""
    url, app = endpoint
    sender.endpoints.create(url, enabled_events="**")
    given = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    sender.enqueue(paid("evt_t", traceparent=given))
    sender.enqueue(paid("evt_plain"))
    async with sender.running():
        await settled(sender, 2)
    by_id = {r.headers["webhook-id"]: r.headers for r in app.received}
    assert by_id["evt_t"]["traceparent"] == given
    assert "traceparent" not in by_id["evt_plain"]


# -- options -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"schedule": (1, 0)}, "schedule step", id="zero-step"),
        pytest.param({"jitter": 1.5}, "jitter", id="jitter"),
        pytest.param({"timeout": -1}, "timeout", id="timeout"),
        pytest.param({"concurrency": 0}, "concurrency", id="concurrency"),
        pytest.param({"allow_networks": "127.0.0.0/8"}, "list of networks", id="bare-string"),
        pytest.param({"allow_networks": ("nonsense",)}, "nonsense", id="not-a-network"),
    ],
)
def test_bad_options_are_refused(
    bus: EventBus, outbox: SqliteOutbox, options: dict[str, Any], message: str
) -> None:
    """Out-of-range options raise ValueError (or TypeError) naming the option."""
    with pytest.raises((ValueError, TypeError), match=message):
        WebhookSender(bus, outbox, **options)


def test_lease_is_at_least_twice_the_timeout(bus: EventBus, outbox: SqliteOutbox) -> None:
    """lease is raised to 2 x timeout, so a live attempt is never taken over."""
    assert WebhookSender(bus, outbox, timeout=40, lease=60).lease == 80
    assert WebhookSender(bus, outbox, timeout=5, lease=60).lease == 60


# -- crash safety ------------------------------------------------------------------------------

WORKER = """
import sys
import anyio
from eventbus import EventBus
from eventbus.webhooks import SqliteOutbox, WebhookSender

sender = WebhookSender(
    EventBus(), SqliteOutbox(sys.argv[1]), allow_networks=("127.0.0.0/8",),
    schedule=(0.01,), timeout=1.0, lease=0.1,
)
print("running", flush=True)
anyio.run(sender.run)
"""


def start_worker(script: Path, path: Path) -> subprocess.Popen[str]:
    worker = subprocess.Popen(
        [sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True
    )
    assert worker.stdout is not None
    assert worker.stdout.readline() == "running\n"
    return worker


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_worker_killed_mid_delivery_sends_again_with_the_same_id(
    tmp_path: Path, endpoint: tuple[str, Scripted]
) -> None:
    """SIGKILL while the endpoint holds the request: after a restart the delivery is sent
    again with the same id, and the receiver's handler has run once."""
    url, app = endpoint
    release = threading.Event()
    app.steps = [Step(release=release), Step(200)]
    path = tmp_path / "outbox.db"
    sender = WebhookSender(EventBus(), SqliteOutbox(path), allow_networks=LOCAL)
    created = sender.endpoints.create(url, enabled_events="**")
    handled: list[Event[Any]] = []
    theirs = EventBus()
    theirs.subscribe("**", handled.append)
    app.forward = WebhookReceiver(theirs, StandardWebhooks(created.secret)).asgi_app()
    sender.enqueue(paid("evt_crash"))
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    worker = start_worker(script, path)
    try:
        await anyio.to_thread.run_sync(app.arrived.wait, 20)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        assert worker.stdout is not None
        worker.stdout.close()
        assert sender.deliveries()[0].status == "pending"
        release.set()  # the held request now reaches the receiver: handled once
        await wait_for(lambda: handled, "the first request's handler")
        worker = start_worker(script, path)
        await wait_for(lambda: sender.deliveries()[0].status == "succeeded", "the resend")
    finally:
        release.set()
        worker.kill()
        worker.wait(10)
        assert worker.stdout is not None
        worker.stdout.close()
    assert [r.headers["webhook-id"] for r in app.received] == ["evt_crash", "evt_crash"]
    assert len(handled) == 1
    [attempt] = sender.attempts()
    assert json.loads(attempt.response_body or "")["outcome"] == "duplicate"


# -- the endpoints API and the public names ----------------------------------------------------


def test_endpoints_api(sender: WebhookSender) -> None:
    """create/get/list/update/delete keep Payment Kit's model; the secret stays out of repr."""
    created = sender.endpoints.create(
        "http://127.0.0.1:9/a",
        enabled_events="invoice.*",
        description="billing",
        metadata={"team": "payments"},
    )
    assert (created.status, created.scheme, created.enabled_events) == (
        "enabled",
        "standard",
        ("invoice.*",),
    )
    assert created.created_at == created.updated_at
    assert created.secret not in repr(created)
    assert sender.endpoints.get(created.id) == created
    updated = sender.endpoints.update(
        created.id,
        url="http://127.0.0.1:9/b",
        enabled_events=["invoice.*", "refund.*"],
        description="billing v2",
        metadata={"team": "core"},
        status="disabled",
    )
    assert (updated.url, updated.enabled_events, updated.description, updated.status) == (
        "http://127.0.0.1:9/b",
        ("invoice.*", "refund.*"),
        "billing v2",
        "disabled",
    )
    assert updated.metadata == {"team": "core"}
    assert updated.updated_at >= created.updated_at
    assert sender.endpoints.list() == [updated]
    sender.endpoints.delete(created.id)
    assert sender.endpoints.list() == []


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        pytest.param({"enabled_events": []}, ValueError, "enabled_events is empty", id="empty"),
        pytest.param({"enabled_events": ["in..x"]}, ValueError, "in..x", id="bad-pattern"),
        pytest.param({"scheme": "github"}, ValueError, "scheme must be", id="scheme"),
        pytest.param({"metadata": {"x": object()}}, TypeError, "JSON", id="metadata"),
    ],
)
def test_create_refuses_bad_fields(
    sender: WebhookSender, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    """Bad patterns, schemes and metadata are refused before anything is stored."""
    fields: dict[str, Any] = {"enabled_events": "**", **options}
    with pytest.raises(error, match=message):
        sender.endpoints.create("http://127.0.0.1:9/", **fields)
    assert sender.endpoints.list() == []


def test_update_and_rotate_refuse_bad_values(sender: WebhookSender) -> None:
    """A bad status or a negative overlap is refused, and the endpoint is left as it was."""
    created = sender.endpoints.create("http://127.0.0.1:9/", enabled_events="**")
    with pytest.raises(ValueError, match="status must be"):
        sender.endpoints.update(created.id, status="paused")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="overlap must not be negative"):
        sender.endpoints.rotate_secret(created.id, overlap=timedelta(seconds=-1))
    assert sender.endpoints.get(created.id) == created


def test_enabling_clears_the_failure_history(sender: WebhookSender) -> None:
    """Re-enabling a disabled endpoint clears why and since when it failed."""
    created = sender.endpoints.create("http://127.0.0.1:9/", enabled_events="**")
    sender.outbox.disable_endpoint(created.id, "gone", created.created_at)
    sender.outbox.update_endpoint(created.id, {"failing_since": created.created_at})
    enabled = sender.endpoints.update(created.id, status="enabled")
    assert (enabled.status, enabled.failing_since, enabled.disabled_reason) == (
        "enabled",
        None,
        None,
    )


@pytest.mark.parametrize(
    "name",
    [
        "Attempt",
        "DeliveryNotFoundError",
        "Endpoint",
        "EndpointNotFoundError",
        "EndpointURLError",
        "OutboundDelivery",
        "Outbox",
        "SqliteOutbox",
        "UnsafeAddressError",
        "WebhookSender",
    ],
)
def test_sender_names_are_exported(name: str) -> None:
    """The names the sender's contract promises are importable from eventbus.webhooks."""
    import eventbus.webhooks

    assert name in eventbus.webhooks.__all__


@pytest.mark.parametrize(
    ("name", "base"),
    [
        ("EndpointURLError", ValueError),
        ("UnsafeAddressError", ValueError),
        ("EndpointNotFoundError", LookupError),
        ("DeliveryNotFoundError", LookupError),
    ],
)
def test_sender_exceptions_subclass_builtins(name: str, base: type[Exception]) -> None:
    """Each sender exception is a WebhookError and the matching builtin."""
    import eventbus.webhooks

    exc_type = getattr(eventbus.webhooks, name)
    assert issubclass(exc_type, eventbus.webhooks.WebhookError)
    assert issubclass(exc_type, base)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("120", 120.0, id="seconds"),
        pytest.param("Wed, 21 Oct 2015 07:28:00 GMT", 0.0, id="past-date"),
        pytest.param("soon", None, id="garbage"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_retry_after_values(header: str | None, expected: float | None) -> None:
    """Retry-After is delay seconds or an HTTP date (a past one means now)."""
    from eventbus.webhooks._attempt import retry_after

    assert retry_after(header) == expected


def test_retry_after_future_date() -> None:
    """An HTTP date an hour ahead asks for about an hour."""
    from email.utils import format_datetime

    from eventbus.webhooks._attempt import retry_after
    from eventbus.webhooks._endpoints import utc_now

    wait = retry_after(format_datetime(utc_now() + timedelta(hours=1), usegmt=True))
    assert wait is not None
    assert 3000 < wait <= 3600


async def test_only_the_first_4_kb_of_an_answer_is_kept(
    sender: WebhookSender, endpoint: tuple[str, Scripted]
) -> None:
    """A large answer is cut to 4 KB in the attempt record."""
    url, app = endpoint
    app.steps = [Step(200, body=b"x" * 100_000)]
    sender.endpoints.create(url, enabled_events="**")
    async with sender.running():
        sender.enqueue(paid())
        await settled(sender)
    assert sender.attempts()[0].response_body == "x" * 4096
    assert "concurrency=2" not in repr(sender)
    assert "WebhookSender" in repr(sender)


async def test_pinned_backend_refuses_unix_sockets() -> None:
    """The sender's network backend never opens unix sockets, and sleeps as anyio does."""
    import httpcore

    from eventbus.webhooks._addresses import AddressPolicy
    from eventbus.webhooks._transport import PinnedBackend

    backend = PinnedBackend(AddressPolicy())
    await backend.sleep(0)
    with pytest.raises(httpcore.ConnectError, match="unix sockets"):
        await backend.connect_unix_socket("/tmp/socket")


@pytest.mark.parametrize(("jitter", "low", "high"), [(0.0, 100, 100), (0.2, 80, 120)])
async def test_jitter_scales_the_step(
    bus: EventBus,
    outbox: SqliteOutbox,
    endpoint: tuple[str, Scripted],
    jitter: float,
    low: float,
    high: float,
) -> None:
    """The wait after a failure is the schedule's step scaled by a factor in 1 ± jitter."""
    url, app = endpoint
    app.steps = [Step(500)]
    sender = WebhookSender(bus, outbox, allow_networks=LOCAL, schedule=(100,), jitter=jitter)
    sender.endpoints.create(url, enabled_events="**")
    async with sender.running():
        for number in range(5):
            sender.enqueue(paid(f"evt_{number}"))
        await wait_for(lambda: len(sender.attempts()) == 5, "five first attempts")
    for attempt in sender.attempts():
        assert attempt.next_attempt_at is not None
        wait = (attempt.next_attempt_at - attempt.created_at).total_seconds()
        assert low - 0.001 <= wait <= high + 0.001
    assert [d.status for d in sender.deliveries()] == ["pending"] * 5
