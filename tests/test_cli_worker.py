"""``eventbus worker``: a real subprocess on the test Redis that starts, prints a line per
delivery and stops on SIGTERM with the delivery in flight finished; its usage errors."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import redis
import streams_support
from streams_support import TESTS, Worker, runs, wait_for_runs

from eventbus import Event, EventBus
from eventbus._cli._main import main
from eventbus._cli._worker import delivery_line
from eventbus.inbox import Delivery
from eventbus.redis import RedisStreams, StreamDelivery

client = streams_support.client
workers = streams_support.workers

@pytest.fixture
def publish(redis_url: str) -> Iterator[RedisStreams]:
    producer = RedisStreams(EventBus(), redis_url, stream="jobs")
    yield producer
    producer.close()


def test_sigterm_finishes_the_delivery_in_flight_and_exits_0(
    redis_url: str, client: redis.Redis, tmp_path: Path, workers: list[Worker],
    publish: RedisStreams,
) -> None:
    """An EventBus target with --redis/--stream/--group: SIGTERM while mailer sleeps stops
    reading, lets the delivery finish (handled, acknowledged) and exits 0."""
    options = ["--stream", "jobs", "--group", "billing", "--concurrency", "2"]
    worker = Worker(redis_url, tmp_path, "w", "streams_app:bus", "--redis", redis_url, *options)
    workers.append(worker)
    assert "in group 'billing' (concurrency 2)" in worker.started().wait_for_line("Consuming")
    client.set("mailer-mode", "sleep")
    event = Event(type="order.paid", data={"object": {"id": "in_1", "amount": 5}})
    publish.publish_sync(event)
    assert wait_for_runs(client, 2)[-1][0] == "sleeping"
    assert worker.terminate() == 0
    assert [run[0] for run in runs(client)] == ["ledger", "sleeping", "mailer"]
    lines = worker.text().splitlines()
    assert lines[1].startswith("Stopping: finishing the deliveries in flight")
    assert lines[2].split()[1:] == ["handled", "order.paid", event.id, "{id=in_1", "amount=5}"]
    assert lines[-1] == "Stopped after 1 delivery"
    assert client.xpending("jobs", "billing")["pending"] == 0


def test_a_second_signal_or_the_grace_period_interrupts_the_delivery(
    redis_url: str, client: redis.Redis, tmp_path: Path, workers: list[Worker]
) -> None:
    """A handler that outlasts the grace period is interrupted: exit 0, the entry stays
    pending for another worker; a second SIGTERM stops at once."""
    publish = RedisStreams(EventBus(), redis_url, stream="orders")
    client.set("mailer-mode", "hang")
    for name, grace in (("grace", "0.2"), ("twice", "3600")):
        worker = Worker(redis_url, tmp_path, name, "streams_app:streams", "--grace", grace)
        workers.append(worker)
        worker.started()
        publish.publish_sync(Event(type="order.paid"))
        wait_for_runs(client, 2)
        worker.process.send_signal(signal.SIGTERM)
        worker.wait_for_line("Stopping")
        if name == "twice":
            worker.process.send_signal(signal.SIGTERM)
        assert worker.process.wait(timeout=60) == 0
        assert worker.text().splitlines()[-1] == (
            "Stopped after 0 deliveries (deliveries still in flight were interrupted)"
        )
        client.delete("runs")
    publish.close()
    assert client.xpending("orders", "default")["pending"] == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["nocolon"], "expected MODULE:ATTR", id="no-colon"),
        pytest.param(["no_such_module_x:bus"], "cannot import 'no_such_module_x'", id="no-module"),
        pytest.param(["streams_app:nothing"], "has no attribute 'nothing'", id="no-attr"),
        pytest.param(["streams_app:record"], "is a Redis; expected a RedisStreams", id="wrong"),
        pytest.param(["streams_app:bus"], "say where Redis is with --redis", id="no-redis"),
        pytest.param(
            ["streams_app:streams", "--group", "g", "--redis", "redis://x"],
            "drop --redis, --group",
            id="streams-with-group",
        ),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], message: str, redis_url: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A target that is not a RedisStreams or a bus, or options that do not fit it."""
    monkeypatch.setenv("STREAMS_TEST_REDIS", redis_url)
    monkeypatch.syspath_prepend(str(TESTS))
    assert main(["worker", *argv]) == 2
    assert message in capsys.readouterr().err


def test_an_unreachable_redis_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], redis_url: str
) -> None:
    """No Redis at --redis: one line on stderr, status 1."""
    monkeypatch.setenv("STREAMS_TEST_REDIS", redis_url)
    monkeypatch.syspath_prepend(str(TESTS))
    assert main(["worker", "streams_app:bus", "--redis", "redis://127.0.0.1:1/0"]) == 1
    assert "cannot consume stream 'eventbus'" in capsys.readouterr().err


def test_without_the_redis_extra_it_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No redis client installed: status 1 and the extra to install."""
    monkeypatch.setitem(sys.modules, "redis", None)
    for name in [name for name in sys.modules if name.startswith("eventbus.redis")]:
        monkeypatch.delitem(sys.modules, name)
    assert main(["worker", "app:bus"]) == 1
    assert "pip install 'eventbus[redis]'" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "-1", "x"])
def test_counts_must_be_positive_numbers(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--concurrency and --grace refuse zero, negatives and words."""
    with pytest.raises(SystemExit) as info:
        main(["worker", "app:bus", "--concurrency", value])
    assert info.value.code == 2
    assert "--concurrency" in capsys.readouterr().err


def test_a_line_per_delivery_names_failures_and_reasons() -> None:
    """failed lists the handlers; malformed shows the entry id and the reason."""
    when = datetime(2026, 1, 2, 3, 4, 5)
    event = Event(id="evt_1", type="order.paid")
    attempt = Delivery("failed", "evt_1", 1, None, ("a", "b"))
    failed = StreamDelivery("1-0", "failed", event, attempt)
    assert delivery_line(when, failed).split() == [
        "03:04:05", "failed", "order.paid", "evt_1", "failed:", "a,", "b"
    ]
    malformed = StreamDelivery("2-0", "malformed", None, error="MalformedEventError: bad")
    assert delivery_line(when, malformed).split() == [
        "03:04:05", "malformed", "-", "entry", "2-0", "reason:", "MalformedEventError:", "bad"
    ]
