"""The sender's worker keeps going through faults: a resolver that raises or hangs, a failing
``webhook_endpoint.disabled`` handler, a locked outbox; and stops with a clear error when
the outbox file is gone."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import anyio
import pytest
from sender_support import FAST, LOCAL, Scripted, Step, wait_for
from webhook_support import serve_asgi

from eventbus import Event, EventBus
from eventbus.inbox import StoreFileMissingError
from eventbus.webhooks import SqliteOutbox, WebhookSender

pytestmark = pytest.mark.anyio


def paid(event_id: str = "evt_1") -> Event[Any]:
    return Event(id=event_id, type="invoice.paid", data={"object": {"id": "in_1"}})


async def test_a_resolver_raising_anything_is_a_failed_attempt(tmp_path: Path) -> None:
    """A custom resolve= raising a non-OSError at connect time fails that attempt with the
    error's text; the worker goes on and the retry succeeds."""
    raising = [False]

    def resolve(host: str, port: int) -> list[str]:
        if raising[0]:
            raising[0] = False
            raise RuntimeError("resolver backend exploded")
        return ["127.0.0.1"]

    app = Scripted()
    with serve_asgi(app) as url:
        port = url.rsplit(":", 1)[1]
        sender = WebhookSender(
            EventBus(), SqliteOutbox(tmp_path / "o.db"), allow_networks=LOCAL,
            schedule=FAST, resolve=resolve,
        )  # fmt: skip
        sender.endpoints.create(f"http://hooks.test:{port}/", enabled_events="**")
        raising[0] = True
        async with sender.running():
            sender.enqueue(paid())
            await wait_for(lambda: len(sender.attempts()) == 2, "two attempts")
    first, second = sender.attempts()
    assert first.status == "failed"
    assert first.error is not None
    assert "resolver backend exploded" in first.error
    assert second.status == "succeeded"


async def test_timeout_bounds_name_resolution(tmp_path: Path) -> None:
    """A resolver still blocked when the timeout passes: the attempt is recorded failed with
    the timeout error while the resolver is still blocked (it is abandoned, not awaited)."""
    release = threading.Event()
    blocking = [False]

    def resolve(host: str, port: int) -> list[str]:
        if blocking[0]:
            release.wait(30)
        return ["127.0.0.1"]

    app = Scripted()
    with serve_asgi(app) as url:
        port = url.rsplit(":", 1)[1]
        sender = WebhookSender(
            EventBus(), SqliteOutbox(tmp_path / "o.db"), allow_networks=LOCAL,
            schedule=(100,), timeout=0.3, resolve=resolve,
        )  # fmt: skip
        sender.endpoints.create(f"http://hooks.test:{port}/", enabled_events="**")
        blocking[0] = True
        try:
            async with sender.running():
                sender.enqueue(paid())
                await wait_for(lambda: sender.attempts(), "the attempt, resolver blocked")
                assert not release.is_set()
        finally:
            release.set()
    [attempt] = sender.attempts()
    assert (attempt.status, attempt.error) == ("failed", "timed out after 0.3 s")
    assert app.received == []


async def test_a_failing_disabled_handler_does_not_stop_the_worker(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """On a raise_errors=True bus, a webhook_endpoint.disabled handler that raises is logged
    on eventbus.webhooks; the 410 attempt was saved before the event went out, and the
    worker goes on delivering to the other endpoint."""
    bus = EventBus(raise_errors=True)
    sender = WebhookSender(bus, SqliteOutbox(tmp_path / "o.db"), allow_networks=LOCAL,
                           schedule=FAST)  # fmt: skip
    saved_when_told: list[int] = []

    def notify(event: Event[Any]) -> None:
        saved_when_told.append(len(sender.attempts()))
        raise RuntimeError("the owner's mail server is down")

    bus.subscribe("webhook_endpoint.disabled", notify)
    gone, fine = Scripted(Step(410)), Scripted()
    with serve_asgi(gone) as gone_url, serve_asgi(fine) as fine_url:
        sender.endpoints.create(gone_url, enabled_events="invoice.paid")
        sender.endpoints.create(fine_url, enabled_events="invoice.*")
        async with sender.running():
            sender.enqueue(paid())
            await wait_for(lambda: saved_when_told, "the disabled notice")
            sender.enqueue(Event(id="evt_2", type="invoice.created"))
            await wait_for(lambda: len(fine.received) == 2, "both events at the other endpoint")
    assert saved_when_told == [1] or saved_when_told == [2]
    assert any(a.response_status == 410 for a in sender.attempts())
    [record] = [r for r in caplog.records if r.name == "eventbus.webhooks"]
    assert record.levelno == logging.ERROR
    assert "webhook_endpoint.disabled" in record.getMessage()
    assert "the owner's mail server is down" in record.getMessage()


async def test_a_locked_outbox_is_waited_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another connection holding the write lock past the busy timeout: the worker logs a
    WARNING, backs off, and delivers once the lock is released."""
    path = tmp_path / "o.db"
    app = Scripted()
    with serve_asgi(app) as url:
        sender = WebhookSender(EventBus(), SqliteOutbox(path), allow_networks=LOCAL)
        sender.endpoints.create(url, enabled_events="**")
        sender.enqueue(paid())
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            async with sender.running():
                await wait_for(
                    lambda: any(r.levelno == logging.WARNING for r in caplog.records),
                    "the warning about the lock",
                )
                holder.execute("COMMIT")
                await wait_for(lambda: sender.attempts(), "the attempt after the lock")
        finally:
            holder.close()
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.name == "eventbus.webhooks"
    assert "database is locked" in warning.getMessage()
    assert len(app.received) == 1


async def test_a_vanished_outbox_file_stops_run_with_that_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The outbox file deleted under a running worker: run() raises StoreFileMissingError
    itself (not an ExceptionGroup), logged at ERROR, and no new file appears."""
    path = tmp_path / "o.db"
    sender = WebhookSender(EventBus(), SqliteOutbox(path), allow_networks=LOCAL)

    def remove() -> None:
        for name in os.listdir(tmp_path):
            os.remove(tmp_path / name)

    threading.Timer(0.1, remove).start()
    with pytest.raises(StoreFileMissingError), anyio.fail_after(20):
        await sender.run()
    assert not path.exists()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.name for r in errors] == ["eventbus.webhooks"]
    assert str(path) in errors[0].getMessage()
