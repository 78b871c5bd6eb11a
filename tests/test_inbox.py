"""The inbox: each handler runs to success once per event id, attempts, dead letters."""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest

from eventbus import Event, EventBus
from eventbus.inbox import (
    DeadLetterNotFoundError,
    Delivery,
    Inbox,
    MemoryIdempotencyStore,
    SqliteIdempotencyStore,
    StoreFileMissingError,
    current,
)


class Recorder:
    """Handlers that count their runs and fail while told to."""

    def __init__(self) -> None:
        self.runs: Counter[str] = Counter()
        self.failing: set[str] = set()

    def handler(self, name: str) -> Any:
        def handle(event: Event[Any]) -> None:
            self.runs[name] += 1
            if name in self.failing:
                raise RuntimeError(f"{name} is down")

        return handle

    def attach(self, bus: EventBus, *names: str) -> None:
        for name in names:
            bus.subscribe("order.*", self.handler(name), name=name)


def order(event_id: str = "evt_1") -> Event[Any]:
    return Event(id=event_id, type="order.paid", data={"total": 5})


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """Each inbox test runs on the in-process and the durable store."""
    if request.param == "memory":
        return MemoryIdempotencyStore()
    return SqliteIdempotencyStore(tmp_path / "inbox.db")


@pytest.mark.anyio
async def test_a_delivery_runs_each_handler_and_a_redelivery_is_a_duplicate(
    bus: EventBus, store: Any
) -> None:
    """The first delivery is handled (attempt 1, its result attached); the next one runs
    nothing and answers duplicate."""
    recorder = Recorder()
    recorder.attach(bus, "ledger", "mailer")
    inbox = Inbox(bus, store)
    first = await inbox.deliver(order())
    assert (first.status, first.event_id, first.attempt, first.failed) == (
        "handled",
        "evt_1",
        1,
        (),
    )
    assert first.result is not None
    assert first.result.handled == 2
    assert await inbox.deliver(order()) == Delivery("duplicate", "evt_1", 1)
    assert recorder.runs == {"ledger": 1, "mailer": 1}


def test_deliver_sync_is_the_same(bus: EventBus, store: Any) -> None:
    """The sync twin gives the same answers."""
    recorder = Recorder()
    recorder.attach(bus, "ledger")
    inbox = Inbox(bus, store)
    assert inbox.deliver_sync(order()).status == "handled"
    assert inbox.deliver_sync(order()).status == "duplicate"
    assert recorder.runs == {"ledger": 1}


@pytest.mark.anyio
async def test_a_retry_runs_only_the_handlers_that_failed(bus: EventBus, store: Any) -> None:
    """A failed attempt names the failing handlers; the retry runs only those."""
    recorder = Recorder()
    recorder.attach(bus, "ledger", "mailer")
    recorder.failing.add("mailer")
    inbox = Inbox(bus, store)
    failed = await inbox.deliver(order())
    assert (failed.status, failed.failed) == ("failed", ("mailer",))
    recorder.failing.clear()
    retry = await inbox.deliver(order())
    assert (retry.status, retry.attempt) == ("handled", 2)
    assert recorder.runs == {"ledger": 1, "mailer": 2}


def test_rolling_deploy_runs_the_new_handler_after_the_old_set_answered(tmp_path: Path) -> None:
    """B = {ledger, mailer} fails on mailer, the retry lands on A = {ledger}, and the retry
    that reaches B again still runs mailer (before, A marked the event done)."""
    path = tmp_path / "shared.db"
    recorder = Recorder()
    old, new = EventBus(), EventBus()
    recorder.attach(old, "ledger")
    recorder.attach(new, "ledger", "mailer")
    a, b = Inbox(old, SqliteIdempotencyStore(path)), Inbox(new, SqliteIdempotencyStore(path))
    recorder.failing.add("mailer")
    assert b.deliver_sync(order()).status == "failed"
    recorder.failing.clear()
    assert a.deliver_sync(order()).status == "handled"  # ledger is not run again
    assert b.deliver_sync(order()).status == "handled"
    assert recorder.runs == {"ledger": 1, "mailer": 2}


def test_an_event_the_old_set_handled_still_runs_the_new_handler(tmp_path: Path) -> None:
    """A handled the event first; B getting it runs only mailer."""
    path = tmp_path / "shared.db"
    recorder = Recorder()
    old, new = EventBus(), EventBus()
    recorder.attach(old, "ledger")
    recorder.attach(new, "ledger", "mailer")
    assert Inbox(old, SqliteIdempotencyStore(path)).deliver_sync(order()).status == "handled"
    assert Inbox(new, SqliteIdempotencyStore(path)).deliver_sync(order()).status == "handled"
    assert recorder.runs == {"ledger": 1, "mailer": 1}


@pytest.mark.anyio
async def test_the_last_allowed_attempt_makes_a_dead_letter(bus: EventBus, store: Any) -> None:
    """With max_attempts=2 the second failure is a dead letter holding the event's JSON and
    the last errors; later deliveries run nothing."""
    recorder = Recorder()
    recorder.attach(bus, "ledger", "mailer")
    recorder.failing.add("mailer")
    inbox = Inbox(bus, store, max_attempts=2)
    event = order()
    assert (await inbox.deliver(event)).status == "failed"
    dead = await inbox.deliver(event)
    assert (dead.status, dead.attempt, dead.failed) == ("dead_letter", 2, ("mailer",))
    assert await inbox.deliver(event) == Delivery("dead_letter", "evt_1", 2)
    assert recorder.runs == {"ledger": 1, "mailer": 2}
    [letter] = inbox.dead_letters()
    assert (letter.event_id, letter.type, letter.attempts) == ("evt_1", "order.paid", 2)
    assert letter.body == event.to_json()
    assert dict(letter.failed) == {"mailer": "RuntimeError: mailer is down"}


@pytest.mark.anyio
async def test_retry_dead_letter_runs_the_handlers_that_never_succeeded(
    bus: EventBus, store: Any
) -> None:
    """Retrying a dead letter delivers it again through the inbox: only mailer runs."""
    recorder = Recorder()
    recorder.attach(bus, "ledger", "mailer")
    recorder.failing.add("mailer")
    inbox = Inbox(bus, store, max_attempts=1)
    assert (await inbox.deliver(order())).status == "dead_letter"
    recorder.failing.clear()
    retried = await inbox.retry_dead_letter("evt_1")
    assert (retried.status, retried.attempt) == ("handled", 2)
    assert recorder.runs == {"ledger": 1, "mailer": 2}
    assert inbox.dead_letters() == []
    with pytest.raises(DeadLetterNotFoundError, match="evt_1") as caught:
        await inbox.retry_dead_letter("evt_1")
    assert caught.value.event_id == "evt_1"


def test_retry_dead_letter_sync_buries_again_on_failure(bus: EventBus, store: Any) -> None:
    """A retried dead letter that fails again is a dead letter again."""
    recorder = Recorder()
    recorder.attach(bus, "mailer")
    recorder.failing.add("mailer")
    inbox = Inbox(bus, store, max_attempts=1)
    assert inbox.deliver_sync(order()).status == "dead_letter"
    assert inbox.retry_dead_letter_sync("evt_1").status == "dead_letter"
    assert [letter.attempts for letter in inbox.dead_letters()] == [2]
    with pytest.raises(DeadLetterNotFoundError):
        inbox.retry_dead_letter_sync("evt_unknown")


def test_without_max_attempts_nothing_is_given_up(bus: EventBus) -> None:
    """The default keeps retrying as long as the sender redelivers."""
    recorder = Recorder()
    recorder.attach(bus, "mailer")
    recorder.failing.add("mailer")
    inbox = Inbox(bus)
    statuses = {inbox.deliver_sync(order()).status for _ in range(5)}
    assert statuses == {"failed"}
    assert inbox.dead_letters() == []


@pytest.mark.anyio
async def test_current_is_the_delivering_inbox_inside_handlers(bus: EventBus) -> None:
    """Sync and async handlers see the inbox that delivers their event; nothing outside."""
    seen: list[Inbox | None] = []

    def sync_handler(event: Event[Any]) -> None:
        seen.append(current())

    async def async_handler(event: Event[Any]) -> None:
        seen.append(current())

    bus.subscribe("order.*", sync_handler, name="sync")
    bus.subscribe("order.*", async_handler, name="async")
    inbox = Inbox(bus)
    await inbox.deliver(order("evt_async"))
    inbox_sync = Inbox(bus)
    await anyio.to_thread.run_sync(inbox_sync.deliver_sync, order("evt_sync"))
    assert seen == [inbox, inbox, inbox_sync, inbox_sync]
    assert current() is None


@pytest.mark.anyio
async def test_a_delivery_in_progress_is_in_flight(bus: EventBus, store: Any) -> None:
    """A second delivery while the first one's handler runs answers in_flight and runs
    nothing."""
    started, release = anyio.Event(), anyio.Event()
    runs: list[str] = []

    async def slow(event: Event[Any]) -> None:
        runs.append(event.id)
        started.set()
        await release.wait()

    bus.subscribe("order.*", slow, name="slow")
    inbox = Inbox(bus, store)
    async with anyio.create_task_group() as tg:
        tg.start_soon(inbox.deliver, order())
        await started.wait()
        assert await inbox.deliver(order()) == Delivery("in_flight", "evt_1", 1)
        release.set()
    assert runs == ["evt_1"]


@pytest.mark.anyio
async def test_a_cancelled_delivery_releases_its_claim(bus: EventBus, store: Any) -> None:
    """Cancelling the caller mid-handler gives the lease back: the redelivery runs the
    handler at once instead of waiting out the lease."""
    started = anyio.Event()
    runs: list[str] = []

    async def slow(event: Event[Any]) -> None:
        runs.append(event.id)
        if len(runs) == 1:
            started.set()
            await anyio.sleep_forever()

    bus.subscribe("order.*", slow, name="slow")
    inbox = Inbox(bus, store)
    async with anyio.create_task_group() as tg:
        tg.start_soon(inbox.deliver, order())
        await started.wait()
        tg.cancel_scope.cancel()
    again = await inbox.deliver(order())
    assert (again.status, again.attempt) == ("handled", 2)
    assert runs == ["evt_1", "evt_1"]


def test_a_lost_lease_is_logged(bus: EventBus, caplog: pytest.LogCaptureFixture) -> None:
    """A handler outliving the lease, while another delivery took the event over, makes the
    first settle stale: it is logged with the fix."""
    store = MemoryIdempotencyStore(lease=0.05)
    inbox = Inbox(bus, store)

    def slow(event: Event[Any]) -> None:
        if event.data["total"] == 5:
            time.sleep(0.1)
            store.claim("evt_1", handlers=["slow"])

    bus.subscribe("order.*", slow, name="slow")
    with caplog.at_level(logging.WARNING, logger="eventbus.inbox"):
        inbox.deliver_sync(order())
    assert "lease on event evt_1 ran out" in caplog.text


@pytest.mark.anyio
async def test_a_vanished_store_file_refuses_every_delivery(bus: EventBus, tmp_path: Path) -> None:
    """A SQLite file deleted while the app runs makes each delivery raise an error naming
    it; the store never starts an empty history."""
    path = tmp_path / "inbox.db"
    bus.subscribe("order.*", lambda event: None, name="h")
    inbox = Inbox(bus, SqliteIdempotencyStore(path))
    assert (await inbox.deliver(order("evt_1"))).status == "handled"
    os.remove(path)
    for event_id in ("evt_1", "evt_2"):
        with pytest.raises(StoreFileMissingError, match=r"inbox\.db"):
            await inbox.deliver(order(event_id))
    assert not path.exists()


def test_bad_arguments_are_refused(bus: EventBus) -> None:
    """A store implementing neither protocol, or max_attempts below 1, is refused."""
    with pytest.raises(TypeError, match="IdempotencyStore"):
        Inbox(bus, object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_attempts"):
        Inbox(bus, max_attempts=0)
    assert "max_attempts=3" in repr(Inbox(bus, max_attempts=3))


class AsyncOnlyStore:
    """A store with only the async twin (as one on an async client would be)."""

    def __init__(self) -> None:
        self.inner = MemoryIdempotencyStore()
        self.calls: list[str] = []

    async def claim_async(self, key: str, /, *, handlers: Any) -> Any:
        self.calls.append("claim")
        return await self.inner.claim_async(key, handlers=handlers)

    async def complete_async(self, claim: Any, handler: str, /) -> bool:
        self.calls.append("complete")
        return await self.inner.complete_async(claim, handler)

    async def extend_async(self, claim: Any, lease: float, /) -> bool:
        return await self.inner.extend_async(claim, lease)

    async def settle_async(self, claim: Any, /, **outcome: Any) -> bool:
        self.calls.append("settle")
        return await self.inner.settle_async(claim, **outcome)

    async def dead_letters_async(self) -> Any:
        return await self.inner.dead_letters_async()

    async def revive_async(self, key: str, /) -> Any:
        self.calls.append("revive")
        return await self.inner.revive_async(key)


@pytest.mark.anyio
async def test_an_async_store_is_awaited_and_refused_from_sync_code(bus: EventBus) -> None:
    """A store with the async twin only is awaited by deliver and retry_dead_letter; the
    sync methods say to use the async ones."""
    recorder = Recorder()
    recorder.attach(bus, "mailer")
    recorder.failing.add("mailer")
    store = AsyncOnlyStore()
    inbox = Inbox(bus, store, max_attempts=1)  # type: ignore[arg-type]
    assert (await inbox.deliver(order())).status == "dead_letter"
    recorder.failing.clear()
    assert (await inbox.retry_dead_letter("evt_1")).status == "handled"
    assert store.calls == ["claim", "settle", "revive", "claim", "settle"]
    with pytest.raises(TypeError, match="async only"):
        inbox.deliver_sync(order("evt_2"))


def test_an_interrupted_sync_delivery_releases_its_claim(bus: EventBus) -> None:
    """A BaseException out of the handlers (Ctrl-C) propagates, and the claim is released
    with the unfinished handlers recorded as interrupted: the next delivery runs them."""
    calls: list[str] = []

    def interrupted(event: Event[Any]) -> None:
        calls.append(event.id)
        if len(calls) == 1:
            raise KeyboardInterrupt

    bus.subscribe("order.*", interrupted, name="h")
    inbox = Inbox(bus)
    with pytest.raises(KeyboardInterrupt):
        inbox.deliver_sync(order())
    again = inbox.deliver_sync(order())
    assert (again.status, again.attempt) == ("handled", 2)
    assert calls == ["evt_1", "evt_1"]


def test_the_memory_store_keeps_at_most_max_entries() -> None:
    """Past max_entries the oldest event is forgotten (a settle for it changes nothing);
    max_entries must be at least 1."""
    store = MemoryIdempotencyStore(max_entries=2)
    first = store.claim("a", handlers=["h"])
    for key in ("b", "c"):
        store.settle(store.claim(key, handlers=["h"]), completed=["h"], failed={})
    assert len(store) == 2
    assert not store.settle(first, completed=["h"], failed={})
    assert store.claim("a", handlers=["h"]).attempt == 1
    assert store.claim("c", handlers=["h"]).status == "done"
    assert "max_entries=2" in repr(store)
    with pytest.raises(ValueError, match="max_entries"):
        MemoryIdempotencyStore(max_entries=0)


@pytest.mark.anyio
async def test_extend_keeps_a_long_delivery_its_lease(bus: EventBus, store: Any) -> None:
    """While a handler outlives the store's lease, inbox.extend keeps the event in_flight
    for another delivery; once the delivery is over, extend answers False."""
    store.lease = 0.05
    other = Inbox(EventBus(), store)
    answers: list[Any] = []

    async def slow(event: Event[Any]) -> None:
        answers.append(await inbox.extend(event.id, 60.0))
        await anyio.sleep(0.1)
        answers.append((await other.deliver(event)).status)

    bus.subscribe("order.*", slow, name="slow")
    inbox = Inbox(bus, store)
    assert (await inbox.deliver(order())).status == "handled"
    assert answers == [True, "in_flight"]
    assert not await inbox.extend("evt_1", 60.0)


def test_extend_sync_is_the_same(bus: EventBus, store: Any) -> None:
    """The sync twin, called from a handler of deliver_sync."""
    store.lease = 0.05
    answers: list[Any] = []

    def slow(event: Event[Any]) -> None:
        answers.append(inbox.extend_sync(event.id, 60.0))
        time.sleep(0.1)
        answers.append(Inbox(EventBus(), store).deliver_sync(event).status)

    bus.subscribe("order.*", slow, name="slow")
    inbox = Inbox(bus, store)
    assert inbox.deliver_sync(order()).status == "handled"
    assert answers == [True, "in_flight"]
    assert not inbox.extend_sync("evt_1", 60.0)
