"""The receiver delivers through an Inbox: rolling deploys, dead letters, a vanished store
file and follow-up notifications, as a sender sees them."""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from eventbus import Event, EventBus
from eventbus.inbox import Inbox, MemoryIdempotencyStore, SqliteIdempotencyStore
from eventbus.paymentkit import NotificationPolicy
from eventbus.webhooks import StandardWebhooks, WebhookReceiver

SCHEME = StandardWebhooks("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")


def signed(event_id: str = "evt_1", event_type: str = "invoice.paid", **data: Any) -> Any:
    body = json.dumps({"id": event_id, "type": event_type, "data": data}).encode()
    return body, {"content-type": "application/json", **SCHEME.sign(body)}


def post(receiver: WebhookReceiver, event_id: str = "evt_1", **data: Any) -> tuple[int, str]:
    answer = receiver.handle(*signed(event_id, **data))
    return answer.status, answer.body["outcome"]


class Handlers:
    """Named handlers that count runs and fail while listed in ``failing``."""

    def __init__(self) -> None:
        self.runs: Counter[str] = Counter()
        self.failing: set[str] = set()

    def bus(self, *names: str) -> EventBus:
        bus = EventBus()
        for name in names:
            bus.subscribe("invoice.paid", self._handler(name), name=name)
        return bus

    def _handler(self, name: str) -> Any:
        def handle(event: Event[Any]) -> None:
            self.runs[name] += 1
            if name in self.failing:
                raise RuntimeError(f"{name} down")

        return handle


def test_the_receiver_builds_its_inbox_from_its_arguments(tmp_path: Path) -> None:
    """idempotency= is the inbox's store and max_attempts= its limit."""
    store = SqliteIdempotencyStore(tmp_path / "inbox.db")
    receiver = WebhookReceiver(EventBus(), SCHEME, idempotency=store, max_attempts=4)
    assert isinstance(receiver.inbox, Inbox)
    assert (receiver.inbox.store, receiver.idempotency, receiver.inbox.max_attempts) == (
        store,
        store,
        4,
    )
    assert isinstance(WebhookReceiver(EventBus(), SCHEME).idempotency, MemoryIdempotencyStore)


def test_a_rolling_deploy_loses_no_handler(tmp_path: Path) -> None:
    """B = {ledger, mailer} fails on mailer, the retry lands on A = {ledger} (200), and the
    retry that reaches B again runs mailer; an event A handled first still runs mailer on B.
    Before the inbox, A answered handled and marked the event done: mailer never ran."""
    path = tmp_path / "shared.db"
    handlers = Handlers()
    a = WebhookReceiver(handlers.bus("ledger"), SCHEME, idempotency=SqliteIdempotencyStore(path))
    b = WebhookReceiver(
        handlers.bus("ledger", "mailer"), SCHEME, idempotency=SqliteIdempotencyStore(path)
    )
    handlers.failing.add("mailer")
    assert post(b, "evt_1") == (500, "failed")
    handlers.failing.clear()
    assert post(a, "evt_1")[0] == 200
    assert post(b, "evt_1") == (200, "handled")
    assert post(a, "evt_2") == (200, "handled")
    assert post(b, "evt_2") == (200, "handled")
    assert post(b, "evt_2") == (200, "duplicate")
    assert handlers.runs == {"ledger": 2, "mailer": 3}


def test_the_last_allowed_attempt_is_answered_dead_letter(tmp_path: Path) -> None:
    """With max_attempts=2 the second failure answers 200 dead_letter (the sender stops),
    later deliveries run nothing, and the dead letter can be retried."""
    handlers = Handlers()
    handlers.failing.add("mailer")
    store = SqliteIdempotencyStore(tmp_path / "inbox.db")
    receiver = WebhookReceiver(
        handlers.bus("ledger", "mailer"), SCHEME, idempotency=store, max_attempts=2
    )
    assert post(receiver) == (500, "failed")
    answer = receiver.handle(*signed())
    assert (answer.status, answer.body["outcome"], answer.ok) == (200, "dead_letter", True)
    assert "dead letter" in answer.body["error"]
    assert post(receiver) == (200, "dead_letter")
    assert handlers.runs == {"ledger": 1, "mailer": 2}
    [letter] = receiver.inbox.dead_letters()
    assert (letter.event_id, letter.type, letter.attempts) == ("evt_1", "invoice.paid", 2)
    assert json.loads(letter.body)["id"] == "evt_1"
    handlers.failing.clear()
    assert receiver.inbox.retry_dead_letter_sync("evt_1").status == "handled"
    assert post(receiver) == (200, "duplicate")
    assert handlers.runs == {"ledger": 1, "mailer": 3}


@pytest.mark.anyio
async def test_a_vanished_store_file_is_a_500_naming_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Deleting the SQLite file while the app runs: every delivery, new or old, is refused
    with 500 naming the file and logged at ERROR; no empty history is started."""
    path = tmp_path / "inbox.db"
    handlers = Handlers()
    receiver = WebhookReceiver(
        handlers.bus("ledger"), SCHEME, idempotency=SqliteIdempotencyStore(path)
    )
    assert (await receiver.handle_async(*signed("evt_1"))).status == 200
    os.remove(path)
    with caplog.at_level(logging.ERROR, logger="eventbus.webhooks"):
        for event_id in ("evt_1", "evt_2"):
            answer = await receiver.handle_async(*signed(event_id))
            assert (answer.status, answer.body["outcome"]) == (500, "failed")
            assert str(path) in answer.body["error"]
    assert [r.levelno for r in caplog.records if str(path) in r.getMessage()] == [40, 40]
    assert handlers.runs == {"ledger": 1}
    assert not path.exists()


def test_a_failing_follow_up_fails_the_webhook_and_its_retry_runs_only_that() -> None:
    """A self-handled trigger whose manual.notification handler fails answers 500 (before:
    200 handled and the notification lost); the sender's retry runs only that handler."""
    bus = EventBus()
    NotificationPolicy(bus).attach("customer.subscription.*")
    runs: Counter[str] = Counter()
    sms_up = False

    @bus.on("manual.notification", name="email")
    def email(event: Event[Any]) -> None:
        runs["email"] += 1

    @bus.on("manual.notification", name="sms")
    def sms(event: Event[Any]) -> None:
        runs["sms"] += 1
        if not sms_up:
            raise ConnectionError("sms gateway down")

    receiver = WebhookReceiver(bus, SCHEME)
    entity = {"id": "sub_1", "notification_settings": {"self_handle": True}}
    body, headers = signed("evt_t", "customer.subscription.started", object=entity)
    first = receiver.handle(body, headers)
    assert (first.status, first.body["outcome"]) == (500, "failed")
    assert "NotificationPolicy" in first.body["error"]
    sms_up = True
    assert receiver.handle(body, headers).body["outcome"] == "handled"
    assert runs == {"email": 1, "sms": 2}
