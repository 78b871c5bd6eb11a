"""The delivery pipeline, in process: every rule, outcome and event shape."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
import webhook_vectors as v
from webhook_support import InvoicePaid, body_of

from eventbus import Event, EventBus, InvalidPatternError
from eventbus.webhooks import (
    Claim,
    HmacTimestampSignature,
    MemoryIdempotencyStore,
    SignatureError,
    SqliteIdempotencyStore,
    StandardWebhooks,
    Unverified,
    WebhookReceiver,
    WebhookResponse,
)

pytestmark = pytest.mark.anyio

SECRET = v.SW2_SECRET_NEW
SCHEME = StandardWebhooks(SECRET)
JSON = {"content-type": "application/json"}


def signed(body: bytes, msg_id: str = "msg_1", **extra: str) -> dict[str, str]:
    return {**JSON, **SCHEME.sign(body, msg_id=msg_id), **extra}


async def deliver(receiver: WebhookReceiver, body: bytes, **options: Any) -> WebhookResponse:
    headers = options.pop("headers", None) or signed(body)
    return await receiver.handle_async(body, headers, **options)


def assert_outcome(response: WebhookResponse, status: int, outcome: str) -> None:
    assert (response.status, response.body["outcome"]) == (status, outcome), response.body
    assert response.body["ok"] is (200 <= status < 300)
    assert set(response.body) == {"ok", "outcome", "event_id", "error"}


# -- handled, duplicate, shapes ---------------------------------------------------------------


async def test_verified_delivery_is_published_once_then_duplicate(bus: EventBus) -> None:
    """A valid delivery is 200 handled; a redelivery (new signature) is 200 duplicate."""
    seen: list[Event[Any]] = []
    bus.subscribe("customer.**", seen.append)
    receiver = WebhookReceiver(bus, SCHEME)
    first = await deliver(receiver, v.SW2_BODY)
    assert_outcome(first, 200, "handled")
    assert first.body == {"ok": True, "outcome": "handled", "event_id": v.SW2_ID, "error": None}
    again = await deliver(receiver, v.SW2_BODY, headers=signed(v.SW2_BODY, msg_id="msg_2"))
    assert_outcome(again, 200, "duplicate")
    assert len(seen) == 1
    event = seen[0]
    assert event.id == v.SW2_ID
    assert event.data["object"]["description"] == "Caf\u00e9 \u2615"
    assert event.created == datetime(2025, 2, 19, 21, 20, tzinfo=UTC)
    assert event.model_extra is not None
    assert event.model_extra["livemode"] is False


async def test_stripe_shape_with_unix_created(bus: EventBus) -> None:
    """Stripe's event JSON (created in unix seconds, object: event) is accepted as is."""
    seen: list[Event[Any]] = []
    bus.subscribe(seen.append)
    scheme = HmacTimestampSignature(v.ST1_SECRET)
    receiver = WebhookReceiver(bus, scheme)
    headers = {**JSON, **scheme.sign(v.ST1_BODY)}
    assert_outcome(await deliver(receiver, v.ST1_BODY, headers=headers), 200, "handled")
    assert seen[0].created == datetime.fromtimestamp(1740000000, UTC)
    assert seen[0].model_extra == {
        "object": "event",
        "api_version": "2023-09-05",
        "livemode": False,
    }


async def test_blocklet_server_shape_bs1(bus: EventBus) -> None:
    """BS-1: type from $eventName, id = sha256 of the body, source from $sender.did, data
    without the $ keys; a retry (new t, same body) is a duplicate."""
    seen: list[Event[Any]] = []
    bus.subscribe(seen.append)
    scheme = HmacTimestampSignature(v.BS1_SECRET, header="X-Webhook-Signature", tolerance=None)
    receiver = WebhookReceiver(bus, scheme)
    headers = {**JSON, "X-Webhook-Signature": v.BS1_HEADER}
    response = await deliver(receiver, v.BS1_BODY, headers=headers)
    assert_outcome(response, 200, "handled")
    event = seen[0]
    assert (
        event.id == "sha256:" + hashlib.sha256(v.BS1_BODY).hexdigest() == response.body["event_id"]
    )
    assert event.type == "customer.subscription.renewed"
    assert event.source == "zNKexample"
    assert event.data == {
        "type": "application/json",
        "object": {"id": "sub_hmL7FQTmMbYVELkH6uVo6m9P", "status": "active"},
        "previous_attributes": {},
    }
    retry = {**JSON, **scheme.sign(v.BS1_BODY, timestamp=1740000060)}
    assert_outcome(await deliver(receiver, v.BS1_BODY, headers=retry), 200, "duplicate")


async def test_blocklet_event_bus_envelope(bus: EventBus) -> None:
    """The Blocklet event-bus envelope (time, source, spec_version) keeps every field."""
    seen: list[Event[Any]] = []
    bus.subscribe(seen.append)
    body = json.dumps(
        {
            "id": "evt_T2U",
            "source": "zComp",
            "type": "customer.subscription.renewed",
            "time": "2025-02-19T03:46:42.662Z",
            "spec_version": "1.0",
            "data": {"type": "application/json", "object": {"id": "sub_1"}},
        }
    ).encode()
    assert_outcome(await deliver(WebhookReceiver(bus, SCHEME), body), 200, "handled")
    assert seen[0].source == "zComp"
    assert seen[0].created.year == 2025
    assert seen[0].model_extra == {"spec_version": "1.0"}


async def test_body_without_id_uses_the_webhook_id(bus: EventBus) -> None:
    """A body without id takes the scheme's delivery id (webhook-id)."""
    seen: list[Event[Any]] = []
    bus.subscribe(seen.append)
    body = body_of(event_id=None)
    response = await deliver(WebhookReceiver(bus, SCHEME), body, headers=signed(body, "msg_77"))
    assert_outcome(response, 200, "handled")
    assert seen[0].id == "msg_77" == response.body["event_id"]


async def test_unknown_type_is_accepted(bus: EventBus) -> None:
    """manual.notification is in no list; it is published like any other."""
    seen: list[Event[Any]] = []
    bus.subscribe("manual.notification", seen.append)
    response = await deliver(
        WebhookReceiver(bus, SCHEME), body_of(event_type="manual.notification")
    )
    assert_outcome(response, 200, "handled")
    assert seen[0].data == {"object": {"id": "in_1"}}


async def test_typed_event_arrives_typed(bus: EventBus) -> None:
    """A registered type is delivered as its typed class."""
    bus.register(InvoicePaid)
    seen: list[Event[Any]] = []
    bus.subscribe("invoice.paid", seen.append)
    body = body_of(object={"id": "in_1", "amount_paid": 2000})
    assert_outcome(await deliver(WebhookReceiver(bus, SCHEME), body), 200, "handled")
    assert isinstance(seen[0], InvoicePaid)
    assert seen[0].data.object.amount_paid == 2000


async def test_no_handlers_is_still_handled(bus: EventBus) -> None:
    """An event nobody listens to is handled (and remembered)."""
    receiver = WebhookReceiver(bus, SCHEME)
    assert_outcome(await deliver(receiver, body_of()), 200, "handled")
    assert_outcome(await deliver(receiver, body_of()), 200, "duplicate")


# -- rejections -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "status"),
    [pytest.param("GET", 405, id="GET"), pytest.param("PUT", 405, id="PUT")],
)
async def test_method_other_than_post_is_405(bus: EventBus, method: str, status: int) -> None:
    """Only POST is accepted; the answer carries Allow: POST."""
    response = await deliver(WebhookReceiver(bus, SCHEME), body_of(), method=method)
    assert_outcome(response, status, "rejected")
    assert response.headers == {"Allow": "POST"}
    assert "POST" in response.body["error"]


async def test_body_over_limit_is_413(bus: EventBus) -> None:
    """A body over max_body_bytes is 413, naming the setting."""
    receiver = WebhookReceiver(bus, SCHEME, max_body_bytes=10)
    response = await deliver(receiver, body_of())
    assert_outcome(response, 413, "rejected")
    assert "max_body_bytes=10" in response.body["error"]


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        pytest.param("application/json", 200, id="json"),
        pytest.param("Application/JSON; charset=utf-8", 200, id="json-with-charset"),
        pytest.param("application/cloudevents+json", 200, id="plus-json"),
        pytest.param("text/plain", 415, id="text"),
        pytest.param("application/x-www-form-urlencoded", 415, id="form"),
        pytest.param("application/jsonx", 415, id="not-quite-json"),
    ],
)
async def test_content_type(bus: EventBus, content_type: str, status: int) -> None:
    """A content type present must be application/json or application/*+json."""
    body = body_of()
    headers = {**signed(body), "content-type": content_type}
    response = await deliver(WebhookReceiver(bus, SCHEME), body, headers=headers)
    assert response.status == status


async def test_missing_content_type_is_accepted(bus: EventBus) -> None:
    """No content type at all is accepted (some senders omit it)."""
    body = body_of()
    response = await deliver(WebhookReceiver(bus, SCHEME), body, headers=SCHEME.sign(body))
    assert_outcome(response, 200, "handled")


async def test_bad_signature_is_401_with_reason_and_nothing_published(bus: EventBus) -> None:
    """A tampered body is 401 naming the failed check; no handler runs."""
    seen: list[Event[Any]] = []
    bus.subscribe(seen.append)
    headers = signed(body_of())
    response = await deliver(WebhookReceiver(bus, SCHEME), body_of("evt_other"), headers=headers)
    assert_outcome(response, 401, "rejected")
    assert "no matching signature" in response.body["error"]
    assert seen == []


async def test_missing_signature_header_is_401(bus: EventBus) -> None:
    """No signature headers at all is 401 'missing header'."""
    response = await deliver(WebhookReceiver(bus, SCHEME), body_of(), headers=dict(JSON))
    assert_outcome(response, 401, "rejected")
    assert "missing header" in response.body["error"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        pytest.param(b"not json", "not valid JSON", id="not-json"),
        pytest.param(b"[1, 2]", "JSON array, not an object", id="array"),
        pytest.param(b'"text"', "JSON string, not an object", id="string"),
        pytest.param(b'{"id": "evt_1"}', "no 'type'", id="no-type"),
        pytest.param(b'{"id": "evt_1", "type": "a..b"}', "'type' is invalid", id="bad-type"),
        pytest.param(b'{"id": "evt_1", "type": 5}', "'type' is invalid", id="type-not-string"),
        pytest.param(b'{"id": 5, "type": "a.b"}', "non-empty string", id="id-not-string"),
        pytest.param(b'{"id": "", "type": "a.b"}', "non-empty string", id="empty-id"),
        pytest.param(b'{"$eventName": "a b"}', "'type' is invalid", id="bad-event-name"),
        pytest.param(
            b'{"id": "e", "type": "a.b", "created_at": "never"}', "created", id="bad-created"
        ),
    ],
)
async def test_bad_body_is_400_naming_the_problem(bus: EventBus, body: bytes, error: str) -> None:
    """Not JSON, not an object, no or bad type or id, a bad envelope: 400 with the reason."""
    response = await deliver(WebhookReceiver(bus, SCHEME), body)
    assert response.status == 400, response.body
    assert error in response.body["error"]


async def test_no_id_and_no_delivery_id_is_400(bus: EventBus) -> None:
    """Without a body id and a scheme without delivery ids there is nothing to dedupe on."""
    scheme = HmacTimestampSignature("s")
    body = body_of(event_id=None)
    response = await deliver(WebhookReceiver(bus, scheme), body, headers=scheme.sign(body))
    assert_outcome(response, 400, "rejected")
    assert "has no id" in response.body["error"]


async def test_typed_validation_failure_is_422_with_field_path(bus: EventBus) -> None:
    """A known type whose data fails its model is 422 naming the field."""
    bus.register(InvoicePaid)
    seen: list[Event[Any]] = []
    bus.subscribe(seen.append)
    body = body_of(object={"id": "in_1", "amount_paid": "lots"})
    response = await deliver(WebhookReceiver(bus, SCHEME), body)
    assert_outcome(response, 422, "rejected")
    assert "data.object.amount_paid" in response.body["error"]
    assert response.body["event_id"] == "evt_1"
    assert seen == []


async def test_type_outside_enabled_events_is_ignored_before_validation(bus: EventBus) -> None:
    """An unwanted type is 200 ignored, even when its data would fail its model."""
    bus.register(InvoicePaid)
    seen: list[Event[Any]] = []
    bus.subscribe(seen.append)
    receiver = WebhookReceiver(bus, SCHEME, enabled_events=["customer.subscription.*"])
    response = await deliver(receiver, body_of(object={"amount_paid": "lots"}))
    assert_outcome(response, 200, "ignored")
    assert response.body["event_id"] == "evt_1"
    assert_outcome(await deliver(receiver, v.SW2_BODY), 200, "handled")
    assert [event.type for event in seen] == ["customer.subscription.renewed"]


async def test_enabled_events_as_one_string(bus: EventBus) -> None:
    """A single pattern string is one pattern, not a list of characters."""
    receiver = WebhookReceiver(bus, SCHEME, enabled_events="invoice.**")
    assert_outcome(await deliver(receiver, body_of()), 200, "handled")
    assert_outcome(await deliver(receiver, v.SW2_BODY), 200, "ignored")


# -- failures and retries ---------------------------------------------------------------------


async def test_failing_handler_is_500_and_retry_runs_only_it(bus: EventBus) -> None:
    """A failed handler makes the answer 500 naming it; the retry runs only that handler."""
    calls: list[str] = []
    broken = True

    def ledger(event: Event[Any]) -> None:
        calls.append("ledger")

    def mailer(event: Event[Any]) -> None:
        calls.append("mailer")
        if broken:
            raise ConnectionError("smtp down")

    async def crm(event: Event[Any]) -> None:
        calls.append("crm")

    bus.subscribe("invoice.paid", ledger, name="ledger")
    bus.subscribe("invoice.paid", mailer, name="mailer")
    bus.subscribe("invoice.paid", crm, name="crm")
    receiver = WebhookReceiver(bus, SCHEME)
    first = await deliver(receiver, body_of())
    assert_outcome(first, 500, "failed")
    assert "mailer" in first.body["error"]
    assert "ledger" not in first.body["error"]
    assert "smtp down" not in first.body["error"]  # no exception details over the wire
    assert sorted(calls) == ["crm", "ledger", "mailer"]
    calls.clear()
    assert_outcome(await deliver(receiver, body_of()), 500, "failed")
    assert calls == ["mailer"]
    calls.clear()
    broken = False
    assert_outcome(await deliver(receiver, body_of()), 200, "handled")
    assert calls == ["mailer"]
    assert_outcome(await deliver(receiver, body_of()), 200, "duplicate")
    assert calls == ["mailer"]


async def test_raise_errors_bus_still_answers_500(bus: EventBus) -> None:
    """A bus made with raise_errors=True does not turn a handler failure into a crash."""
    strict = EventBus(raise_errors=True)

    def boom(event: Event[Any]) -> None:
        raise RuntimeError("boom")

    strict.subscribe(boom, name="boom")
    response = await deliver(WebhookReceiver(strict, SCHEME), body_of())
    assert_outcome(response, 500, "failed")
    assert "boom" in response.body["error"]


async def test_second_delivery_while_first_runs_is_409(bus: EventBus) -> None:
    """While a delivery is being handled, the same event gets 409 in_flight, and the
    handler runs once."""
    started = anyio.Event()
    release = anyio.Event()
    calls: list[str] = []

    async def slow(event: Event[Any]) -> None:
        calls.append(event.id)
        started.set()
        await release.wait()

    bus.subscribe(slow)
    receiver = WebhookReceiver(bus, SCHEME)
    answers: list[WebhookResponse] = []

    async def first() -> None:
        answers.append(await deliver(receiver, body_of()))

    async with anyio.create_task_group() as group:
        group.start_soon(first)
        await started.wait()
        second = await deliver(receiver, body_of())
        assert_outcome(second, 409, "in_flight")
        assert "retry later" in second.body["error"]
        release.set()
    assert_outcome(answers[0], 200, "handled")
    assert_outcome(await deliver(receiver, body_of()), 200, "duplicate")
    assert calls == ["evt_1"]


async def test_fifty_concurrent_deliveries_run_handlers_once(bus: EventBus) -> None:
    """50 deliveries of one event at once: one handles it, the others are 409 or duplicate."""
    calls: list[str] = []

    async def handler(event: Event[Any]) -> None:
        calls.append(event.id)
        await anyio.sleep(0.05)

    bus.subscribe(handler)
    receiver = WebhookReceiver(bus, SCHEME)
    answers: list[WebhookResponse] = []

    async def one(index: int) -> None:
        answers.append(await deliver(receiver, body_of(), headers=signed(body_of(), f"m{index}")))

    async with anyio.create_task_group() as group:
        for index in range(50):
            group.start_soon(one, index)
    assert calls == ["evt_1"]
    outcomes = sorted(answer.body["outcome"] for answer in answers)
    assert outcomes.count("handled") == 1
    assert set(outcomes) <= {"handled", "in_flight", "duplicate"}


async def test_cancelled_handling_releases_the_claim(bus: EventBus) -> None:
    """If handling is cancelled (the server gives up), the event is not blocked for a lease."""
    gate = anyio.Event()

    async def stuck(event: Event[Any]) -> None:
        gate.set()
        await anyio.sleep_forever()

    sub = bus.subscribe(stuck)
    receiver = WebhookReceiver(bus, SCHEME)
    async with anyio.create_task_group() as group:
        group.start_soon(deliver, receiver, body_of())
        await gate.wait()
        group.cancel_scope.cancel()
    sub.unsubscribe()
    assert_outcome(await deliver(receiver, body_of()), 200, "handled")


async def test_sqlite_store_restart_makes_redelivery_a_duplicate(
    bus: EventBus, tmp_path: Path
) -> None:
    """A new receiver and store on the same file (a restart) answers duplicate, and a
    partially failed event re-runs only its failed handler."""
    path = tmp_path / "events.db"
    calls: list[str] = []

    def good(event: Event[Any]) -> None:
        calls.append("good")

    def bad(event: Event[Any]) -> None:
        calls.append("bad")
        raise ValueError("not yet")

    bus.subscribe(good, name="good")
    bad_sub = bus.subscribe("invoice.paid", bad, name="bad")
    before = WebhookReceiver(bus, SCHEME, idempotency=SqliteIdempotencyStore(path))
    assert_outcome(await deliver(before, v.SW2_BODY), 200, "handled")
    assert_outcome(await deliver(before, body_of("evt_partial")), 500, "failed")
    bad_sub.unsubscribe()
    bus.subscribe("invoice.paid", lambda event: calls.append("bad-fixed"), name="bad")
    calls.clear()
    after = WebhookReceiver(bus, SCHEME, idempotency=SqliteIdempotencyStore(path))
    assert_outcome(await deliver(after, v.SW2_BODY), 200, "duplicate")
    assert_outcome(await deliver(after, body_of("evt_partial")), 200, "handled")
    assert calls == ["bad-fixed"]


# -- adapter failures and configuration -------------------------------------------------------


class BrokenStore:
    """A store whose database is down."""

    def claim(self, key: str, /) -> Claim:
        raise OSError("database is down")

    def settle(self, claim: Claim, /, *, completed: Collection[str], done: bool) -> None:
        raise AssertionError("never reached")


async def test_adapter_internal_error_is_500_with_logged_traceback(
    bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    """An error inside the adapter is a 500 (no details over the wire) and a logged traceback."""
    receiver = WebhookReceiver(bus, SCHEME, idempotency=BrokenStore())
    response = await deliver(receiver, body_of())
    assert_outcome(response, 500, "failed")
    assert "internal error" in response.body["error"]
    assert "database is down" not in response.body["error"]
    record = next(r for r in caplog.records if r.name == "eventbus.webhooks")
    assert record.exc_info is not None
    assert "database is down" in caplog.text


class CrashingScheme:
    """A scheme with a bug: it raises something other than SignatureError."""

    def verify(
        self,
        body: bytes,
        headers: Mapping[str, str],
        *,
        method: str = "POST",
        path: str = "/",
        query: str = "",
    ) -> str | None:
        raise KeyError("bug")


async def test_scheme_bug_is_500_not_401(bus: EventBus) -> None:
    """Only SignatureError means 401; a scheme's own bug is an adapter error."""
    response = await deliver(WebhookReceiver(bus, CrashingScheme()), body_of(), headers=dict(JSON))
    assert_outcome(response, 500, "failed")


async def test_unverified_receiver_warns_per_delivery(
    bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    """With Unverified() every delivery is accepted and logs a warning."""
    caplog.set_level(logging.WARNING, logger="eventbus.webhooks")
    receiver = WebhookReceiver(bus, Unverified())
    assert_outcome(await deliver(receiver, body_of("a"), headers=dict(JSON)), 200, "handled")
    assert_outcome(await deliver(receiver, body_of("b"), headers=dict(JSON)), 200, "handled")
    warnings = [r for r in caplog.records if "WITHOUT signature" in r.getMessage()]
    assert len(warnings) == 2


async def test_handle_from_a_worker_thread_uses_the_host_loop(bus: EventBus) -> None:
    """handle() called from an anyio worker thread runs on the host loop."""
    receiver = WebhookReceiver(bus, SCHEME)
    body = body_of()
    response = await anyio.to_thread.run_sync(lambda: receiver.handle(body, signed(body)))
    assert_outcome(response, 200, "handled")


async def test_handle_inside_the_event_loop_raises(bus: EventBus) -> None:
    """handle() inside a running loop refuses, pointing to handle_async()."""
    receiver = WebhookReceiver(bus, SCHEME)
    with pytest.raises(RuntimeError, match="handle_async"):
        receiver.handle(body_of(), signed(body_of()))


def test_handle_sync_twin(bus: EventBus) -> None:
    """handle() works from plain sync code (a Flask or Django view)."""
    seen: list[Event[Any]] = []
    bus.subscribe(seen.append)
    receiver = WebhookReceiver(bus, SCHEME)
    response = receiver.handle(v.SW2_BODY, signed(v.SW2_BODY))
    assert_outcome(response, 200, "handled")
    assert response.content == (
        b'{"ok":true,"outcome":"handled","event_id":"' + v.SW2_ID.encode() + b'","error":null}'
    )
    assert len(seen) == 1


def test_no_scheme_is_refused(bus: EventBus) -> None:
    """There is no silent default without verification: None names Unverified()."""
    with pytest.raises(TypeError, match=r"Unverified\(\)"):
        WebhookReceiver(bus, None)  # type: ignore[arg-type]


def test_bad_enabled_events_pattern_is_refused(bus: EventBus) -> None:
    """A malformed pattern fails at construction."""
    with pytest.raises(InvalidPatternError):
        WebhookReceiver(bus, SCHEME, enabled_events=["invoice.pa*"])


def test_default_store_is_memory(bus: EventBus) -> None:
    """Without idempotency=, a memory store is used; max_body_bytes must be positive."""
    assert isinstance(WebhookReceiver(bus, SCHEME).idempotency, MemoryIdempotencyStore)
    with pytest.raises(ValueError, match="max_body_bytes"):
        WebhookReceiver(bus, SCHEME, max_body_bytes=0)


def test_signature_error_text_reaches_the_sender(bus: EventBus) -> None:
    """The 401 error carries the SignatureError message (which check failed)."""
    body = body_of()
    headers = {**signed(body), "webhook-timestamp": "1"}
    response = WebhookReceiver(bus, SCHEME).handle(body, headers)
    assert "too old" in response.body["error"]
    assert issubclass(SignatureError, ValueError)


# -- the sync twin, handle(): no event loop of its own ----------------------------------------


def test_handle_runs_async_handlers_to_completion(bus: EventBus) -> None:
    """handle() from plain sync code still runs async handlers, on a loop of their own."""
    seen: list[str] = []

    async def handler(event: Event[Any]) -> None:
        await anyio.sleep(0)
        seen.append(event.id)

    bus.subscribe(handler)
    response = WebhookReceiver(bus, SCHEME).handle(body_of(), signed(body_of()))
    assert_outcome(response, 200, "handled")
    assert seen == ["evt_1"]


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_handle_retry_runs_only_the_failed_handler(
    bus: EventBus, tmp_path: Path, store: str
) -> None:
    """Through handle(), a failure is 500; the retry runs only it; then it is a duplicate."""
    calls: list[str] = []
    attempts = iter([RuntimeError("first try fails"), None])

    def steady(event: Event[Any]) -> None:
        calls.append("steady")

    def flaky(event: Event[Any]) -> None:
        calls.append("flaky")
        error = next(attempts)
        if error is not None:
            raise error

    bus.subscribe(steady)
    bus.subscribe(flaky)
    idempotency = (
        MemoryIdempotencyStore() if store == "memory" else SqliteIdempotencyStore(tmp_path / "s.db")
    )
    receiver = WebhookReceiver(bus, SCHEME, idempotency=idempotency)
    body = body_of()
    first = receiver.handle(body, signed(body))
    assert_outcome(first, 500, "failed")
    assert "flaky" in first.body["error"]
    assert_outcome(receiver.handle(body, signed(body)), 200, "handled")
    assert_outcome(receiver.handle(body, signed(body)), 200, "duplicate")
    assert calls == ["steady", "flaky", "flaky"]


def test_handle_answers_500_when_the_adapter_breaks(
    bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    """An error inside the adapter (here, the store) is a logged 500 from handle() too."""

    class BrokenStore(MemoryIdempotencyStore):
        def claim(self, key: str, /) -> Claim:
            raise OSError("disk on fire")

    receiver = WebhookReceiver(bus, SCHEME, idempotency=BrokenStore())
    response = receiver.handle(body_of(), signed(body_of()))
    assert_outcome(response, 500, "failed")
    assert any(record.exc_info for record in caplog.records)


async def test_custom_scheme_raising_signature_error_is_401(bus: EventBus) -> None:
    """A scheme of one's own raises SignatureError(reason) and the sender gets 401 with it."""

    class SharedToken:
        def verify(self, body: bytes, headers: Mapping[str, str], **request: str) -> None:
            if headers.get("x-token") != "let-me-in":
                raise SignatureError("no matching signature: wrong x-token")

    receiver = WebhookReceiver(bus, SharedToken())
    refused = await receiver.handle_async(body_of(), {**JSON, "x-token": "nope"})
    assert_outcome(refused, 401, "rejected")
    assert "wrong x-token" in refused.body["error"]
    accepted = await receiver.handle_async(body_of(), {**JSON, "x-token": "let-me-in"})
    assert_outcome(accepted, 200, "handled")


def test_scheme_class_instead_of_instance_is_refused(bus: EventBus) -> None:
    """Passing the scheme class, not an instance, fails at construction."""
    with pytest.raises(TypeError, match="StandardWebhooks\\(secret\\)"):
        WebhookReceiver(bus, StandardWebhooks)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        pytest.param("{}", dict(JSON), "raw request bytes", id="str-body"),
        pytest.param(b"{}", "content-type: application/json", "mapping", id="str-headers"),
    ],
)
def test_calling_mistakes_raise_type_error(
    bus: EventBus, body: Any, headers: Any, message: str
) -> None:
    """A decoded body or headers as one string is the caller's bug: TypeError."""
    receiver = WebhookReceiver(bus, SCHEME)
    with pytest.raises(TypeError, match=message):
        receiver.handle(body, headers)


async def test_handled_event_is_recorded_even_when_the_caller_is_cancelled(
    bus: EventBus, tmp_path: Path
) -> None:
    """Once handlers ran, the completion is recorded despite a cancellation: no 409 later."""
    calls: list[str] = []
    bus.subscribe(lambda event: calls.append(event.id))

    class SlowClaims(SqliteIdempotencyStore):
        def claim(self, key: str, /) -> Claim:
            time.sleep(0.2)
            return super().claim(key)

    receiver = WebhookReceiver(bus, SCHEME, idempotency=SlowClaims(tmp_path / "s.db"))
    with anyio.move_on_after(0.05):
        await deliver(receiver, body_of())
    again = await deliver(receiver, body_of())
    assert_outcome(again, 200, "duplicate")
    assert calls == ["evt_1"]
