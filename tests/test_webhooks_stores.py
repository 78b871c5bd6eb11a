"""Idempotency stores: atomic claims, leases, per-handler completion, durability."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from eventbus.webhooks import (
    Claim,
    IdempotencyStore,
    MemoryIdempotencyStore,
    SqliteIdempotencyStore,
    StandardWebhooks,
)

StoreFactory = Callable[..., IdempotencyStore]


@pytest.fixture(params=[pytest.param("memory", id="memory"), pytest.param("sqlite", id="sqlite")])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """Build either store with the given options."""
    if request.param == "memory":
        return MemoryIdempotencyStore
    return lambda **options: SqliteIdempotencyStore(tmp_path / "events.db", **options)


def test_first_claim_wins_second_is_in_flight(make_store: StoreFactory) -> None:
    """A fresh key is claimed with a token; a second claim while leased is in_flight."""
    store = make_store()
    first = store.claim("evt_1")
    assert first.status == "claimed"
    assert first.token
    assert first.completed == frozenset()
    assert store.claim("evt_1") == Claim("evt_1", "in_flight")


def test_settled_done_is_done_forever(make_store: StoreFactory) -> None:
    """Once settled as done, every later claim answers done."""
    store = make_store()
    claim = store.claim("evt_1")
    store.settle(claim, completed=["a", "b"], done=True)
    assert store.claim("evt_1").status == "done"
    assert store.claim("evt_1").status == "done"


def test_failed_attempt_releases_and_keeps_completed_handlers(make_store: StoreFactory) -> None:
    """Settling not done releases the lease at once and remembers who completed."""
    store = make_store()
    store.settle(store.claim("evt_1"), completed=["a"], done=False)
    retry = store.claim("evt_1")
    assert retry.status == "claimed"
    assert retry.completed == frozenset({"a"})
    store.settle(retry, completed=["b"], done=False)
    assert store.claim("evt_1").completed == frozenset({"a", "b"})


def test_expired_lease_can_be_claimed_again(make_store: StoreFactory) -> None:
    """A claim left by a crashed holder expires with its lease."""
    store = make_store(lease=0.05)
    crashed = store.claim("evt_1")
    assert store.claim("evt_1").status == "in_flight"
    time.sleep(0.1)
    again = store.claim("evt_1")
    assert again.status == "claimed"
    assert again.token != crashed.token


def test_stale_holder_does_not_release_the_new_lease(make_store: StoreFactory) -> None:
    """A holder whose lease expired cannot release its successor's claim, but its completed
    handlers are still recorded."""
    store = make_store(lease=0.05)
    stale = store.claim("evt_1")
    time.sleep(0.1)
    store.claim("evt_1")
    store.settle(stale, completed=["a"], done=False)
    assert store.claim("evt_1").status == "in_flight"


def test_keys_are_independent(make_store: StoreFactory) -> None:
    """Claims on different ids do not interfere."""
    store = make_store()
    assert store.claim("evt_1").status == "claimed"
    assert store.claim("evt_2").status == "claimed"


def test_concurrent_claims_from_threads_have_one_winner(make_store: StoreFactory) -> None:
    """50 threads claiming one id at once: exactly one gets it."""
    store = make_store()
    barrier = threading.Barrier(50)
    results: list[str] = []

    def claim() -> None:
        barrier.wait()
        results.append(store.claim("evt_race").status)

    threads = [threading.Thread(target=claim) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["claimed"] + ["in_flight"] * 49


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"lease": 0}, "lease", id="zero-lease"),
        pytest.param({"lease": 10, "ttl": 5}, "ttl", id="ttl-below-lease"),
    ],
)
def test_bad_options_are_refused(
    make_store: StoreFactory, options: dict[str, float], message: str
) -> None:
    """A non-positive lease, or a ttl not beyond the lease, is a configuration error."""
    with pytest.raises(ValueError, match=message):
        make_store(**options)


def test_both_stores_implement_the_protocol(make_store: StoreFactory) -> None:
    """Each store satisfies the IdempotencyStore protocol."""
    assert isinstance(make_store(), IdempotencyStore)


def test_memory_store_forgets_after_ttl() -> None:
    """An event untouched for ttl seconds is forgotten."""
    store = MemoryIdempotencyStore(ttl=0.2, lease=0.1)
    store.settle(store.claim("evt_1"), completed=[], done=True)
    time.sleep(0.3)
    assert store.claim("evt_1").status == "claimed"


def test_memory_store_evicts_least_recently_touched_past_max_entries() -> None:
    """Past max_entries the oldest record goes first."""
    store = MemoryIdempotencyStore(max_entries=2)
    for key in ("a", "b", "c"):
        store.settle(store.claim(key), completed=[], done=True)
    assert len(store) == 2
    assert store.claim("a").status == "claimed"
    assert store.claim("c").status == "done"


def test_memory_store_default_ttl_is_at_least_a_day() -> None:
    """The default ttl outlasts senders' retries and the signature window."""
    assert MemoryIdempotencyStore().ttl >= 86_400
    with pytest.raises(ValueError, match="max_entries"):
        MemoryIdempotencyStore(max_entries=0)


def test_sqlite_store_survives_a_restart(tmp_path: Path) -> None:
    """A new store on the same file (a restarted process) sees what the old one recorded."""
    path = tmp_path / "events.db"
    first = SqliteIdempotencyStore(path)
    first.settle(first.claim("evt_done"), completed=["a"], done=True)
    first.settle(first.claim("evt_partial"), completed=["a"], done=False)
    restarted = SqliteIdempotencyStore(str(path))
    assert restarted.claim("evt_done").status == "done"
    assert restarted.claim("evt_partial").completed == frozenset({"a"})


def test_sqlite_store_uses_wal(tmp_path: Path) -> None:
    """The file is in WAL mode, so readers never block the writer across processes."""
    import sqlite3

    SqliteIdempotencyStore(tmp_path / "events.db")
    with sqlite3.connect(tmp_path / "events.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_sqlite_store_sweeps_expired_events(tmp_path: Path) -> None:
    """Events untouched for ttl seconds are deleted by a later claim, handlers included."""
    store = SqliteIdempotencyStore(tmp_path / "events.db", ttl=0.2, lease=0.1)
    store.settle(store.claim("evt_old"), completed=["a"], done=True)
    time.sleep(0.3)
    again = store.claim("evt_old")
    assert again.status == "claimed"
    assert again.completed == frozenset()


CLAIMER = """
import sys, time
from eventbus.webhooks import SqliteIdempotencyStore
store = SqliteIdempotencyStore(sys.argv[1])
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
print(store.claim("evt_shared").status)
"""


def test_sqlite_store_has_one_winner_across_processes(tmp_path: Path) -> None:
    """Eight processes claiming one id on one file at the same moment: one wins."""
    path = str(tmp_path / "events.db")
    SqliteIdempotencyStore(path)
    start = str(time.time() + 1.5)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, path, start], stdout=subprocess.PIPE, text=True
        )
        for _ in range(8)
    ]
    statuses = sorted(proc.communicate(timeout=60)[0].strip() for proc in procs)
    assert statuses == ["claimed"] + ["in_flight"] * 7


def test_sqlite_store_names_a_path_it_cannot_open(tmp_path: Path) -> None:
    """A database in a folder that does not exist fails naming the path and the fix."""
    missing = tmp_path / "no-such-folder" / "events.db"
    with pytest.raises(sqlite3.OperationalError, match=r"no-such-folder.*folder exists"):
        SqliteIdempotencyStore(missing)


@pytest.mark.parametrize("tolerance", ["300", [300]])
def test_tolerance_must_be_a_number(tolerance: Any) -> None:
    """A tolerance that is not a number is refused with a TypeError saying so."""
    with pytest.raises(TypeError, match="tolerance must be a number"):
        StandardWebhooks("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", tolerance=tolerance)
