"""Follow-up notifications count: delivered through the trigger's inbox, failures fail the
trigger, and the trigger's retry re-runs only the follow-up handlers that failed."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from eventbus import Event, EventBus, paymentkit
from eventbus.inbox import Inbox, MemoryIdempotencyStore
from eventbus.paymentkit import NotificationFailedError, NotificationPolicy

STARTED = "customer.subscription.started"


def trigger(event_id: str = "evt_trigger") -> Event[Any]:
    """A self-handled subscription event (its own settings say so)."""
    entity = {"id": "sub_1", "notification_settings": {"self_handle": True}}
    return Event(id=event_id, type=STARTED, data={"object": entity})


class Kit:
    """A bus with the policy attached, a ledger on the trigger and two notification handlers,
    one of which fails while ``failing`` says so."""

    def __init__(self, *, asynchronous: bool = False) -> None:
        self.bus = EventBus()
        self.runs: Counter[str] = Counter()
        self.failing = True
        self.ids: list[str] = []
        NotificationPolicy(self.bus).attach("customer.**", asynchronous=asynchronous)
        self.bus.subscribe(STARTED, lambda event: self.count("ledger"), name="ledger")
        self.bus.subscribe(paymentkit.MANUAL_NOTIFICATION, self.email, name="email")
        self.bus.subscribe(paymentkit.MANUAL_NOTIFICATION, self.sms, name="sms")

    def count(self, name: str) -> None:
        self.runs[name] += 1

    def email(self, event: Event[Any]) -> None:
        self.ids.append(event.id)
        self.count("email")

    def sms(self, event: Event[Any]) -> None:
        self.count("sms")
        if self.failing:
            raise RuntimeError("sms gateway down")


def test_a_failing_follow_up_fails_the_trigger_and_its_retry_runs_only_that() -> None:
    """The sms handler fails: the trigger's delivery fails (its policy handler raised);
    the retry runs sms alone, not the ledger, the policy's other work or email."""
    kit = Kit()
    inbox = Inbox(kit.bus)
    first = inbox.deliver_sync(trigger())
    assert first.status == "failed"
    assert first.result is not None
    [failure] = first.result.errors
    assert isinstance(failure.exception, NotificationFailedError)
    assert failure.exception.failed == ("sms",)
    assert failure.exception.event_id == f"evt_trigger:{paymentkit.MANUAL_NOTIFICATION}"
    kit.failing = False
    assert inbox.deliver_sync(trigger()).status == "handled"
    assert kit.runs == {"ledger": 1, "email": 1, "sms": 2}
    assert kit.ids == ["evt_trigger:manual.notification"]
    assert inbox.deliver_sync(trigger()).status == "duplicate"


@pytest.mark.anyio
async def test_the_async_policy_delivers_through_the_inbox_too() -> None:
    """handle_async awaits the inbox: same outcome from async code."""
    kit = Kit(asynchronous=True)
    inbox = Inbox(kit.bus, MemoryIdempotencyStore())
    assert (await inbox.deliver(trigger())).status == "failed"
    kit.failing = False
    assert (await inbox.deliver(trigger())).status == "handled"
    assert kit.runs == {"ledger": 1, "email": 1, "sms": 2}


def test_a_follow_up_given_up_fails_the_trigger() -> None:
    """With max_attempts, the follow-up becomes a dead letter on its own id; the trigger's
    later deliveries still fail, naming it, until the dead letter is retried."""
    kit = Kit()
    inbox = Inbox(kit.bus, max_attempts=1)
    assert inbox.deliver_sync(trigger()).status == "dead_letter"
    follow_up = f"evt_trigger:{paymentkit.MANUAL_NOTIFICATION}"
    assert {letter.event_id for letter in inbox.dead_letters()} == {"evt_trigger", follow_up}
    kit.failing = False
    assert inbox.retry_dead_letter_sync(follow_up).status == "handled"
    assert inbox.retry_dead_letter_sync("evt_trigger").status == "handled"
    assert kit.runs == {"ledger": 1, "email": 1, "sms": 2}


def test_without_an_inbox_the_follow_up_is_a_plain_publish() -> None:
    """Published outside an inbox, the trigger's follow-up failure stays in the follow-up."""
    kit = Kit()
    result = kit.bus.publish(trigger())
    assert result.ok
    assert kit.runs == {"ledger": 1, "email": 1, "sms": 1}


def test_an_inbox_on_another_bus_is_not_used() -> None:
    """A policy whose bus is not the delivering inbox's publishes plainly on its own bus."""
    kit = Kit()
    outer = EventBus()
    outer.subscribe(STARTED, lambda event: kit.bus.publish(event), name="forward")
    assert Inbox(outer).deliver_sync(trigger()).status == "handled"
    assert kit.runs == {"ledger": 1, "email": 1, "sms": 1}
