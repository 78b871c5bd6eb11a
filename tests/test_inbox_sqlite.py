"""The SQLite store beyond the shared contract: restarts, processes, modes, a vanished file."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eventbus.inbox import SqliteIdempotencyStore, StoreFileMissingError


def test_a_restarted_process_sees_the_history(tmp_path: Path) -> None:
    """A new store on the same file (a restarted process) sees what the old one recorded."""
    path = tmp_path / "inbox.db"
    first = SqliteIdempotencyStore(path)
    first.settle(first.claim("evt_done", handlers=["a"]), completed=["a"], failed={})
    partial = first.claim("evt_partial", handlers=["a", "b"])
    first.settle(partial, completed=["a"], failed={"b": "x"})
    first.close()
    restarted = SqliteIdempotencyStore(str(path))
    assert restarted.claim("evt_done", handlers=["a"]).status == "done"
    partial = restarted.claim("evt_partial", handlers=["a", "b"])
    assert (partial.completed, partial.attempt) == ({"a"}, 2)


@pytest.mark.parametrize("synchronous", ["full", "normal"])
def test_the_file_is_in_wal_mode_with_the_chosen_synchronous(
    tmp_path: Path, synchronous: str
) -> None:
    """WAL (readers never block the writer across processes), and the synchronous level
    asked for on the store's connections."""
    store = SqliteIdempotencyStore(tmp_path / "inbox.db", synchronous=synchronous)  # type: ignore[arg-type]
    level = store.file.connection().execute("PRAGMA synchronous").fetchone()[0]
    assert level == {"full": 2, "normal": 1}[synchronous]
    with sqlite3.connect(tmp_path / "inbox.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert f"synchronous={synchronous!r}" in repr(store)


def test_an_unknown_synchronous_is_refused(tmp_path: Path) -> None:
    """Only "full" and "normal" are offered."""
    with pytest.raises(ValueError, match="synchronous"):
        SqliteIdempotencyStore(tmp_path / "inbox.db", synchronous="off")  # type: ignore[arg-type]


def test_expired_rows_are_swept_handlers_included(tmp_path: Path) -> None:
    """Rows older than the ttl are deleted by a later claim, with their handler rows."""
    path = tmp_path / "inbox.db"
    store = SqliteIdempotencyStore(path, ttl=0.2, lease=0.1)
    store.settle(store.claim("evt_old", handlers=["a"]), completed=["a"], failed={})
    time.sleep(0.3)
    store._next_sweep = 0.0  # the next claim sweeps now, not after ten minutes
    store.claim("evt_new", handlers=["a"])
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT key FROM eventbus_inbox_event").fetchall() == [("evt_new",)]
        assert db.execute("SELECT COUNT(*) FROM eventbus_inbox_handler").fetchone() == (0,)


def test_a_vanished_file_is_refused_never_recreated(tmp_path: Path) -> None:
    """Deleting the file (or replacing it) makes every call raise StoreFileMissingError
    naming it, and the store does not create a new empty file."""
    path = tmp_path / "inbox.db"
    store = SqliteIdempotencyStore(path)
    store.settle(store.claim("evt_1", handlers=["a"]), completed=["a"], failed={})
    os.remove(path)
    for call in (
        lambda: store.claim("evt_1", handlers=["a"]),
        store.dead_letters,
        lambda: store.revive("evt_1"),
    ):
        with pytest.raises(StoreFileMissingError) as caught:
            call()
        assert caught.value.path == str(path)
    assert not path.exists()
    SqliteIdempotencyStore(tmp_path / "other.db").close()
    os.replace(tmp_path / "other.db", path)
    with pytest.raises(StoreFileMissingError, match="replaced"):
        store.claim("evt_1", handlers=["a"])


def test_a_path_it_cannot_open_is_named(tmp_path: Path) -> None:
    """A file in a folder that does not exist fails at construction, naming the path."""
    missing = tmp_path / "no-such-folder" / "inbox.db"
    with pytest.raises(sqlite3.OperationalError, match="no-such-folder"):
        SqliteIdempotencyStore(missing)


CLAIMER = """
import sys, time
from eventbus.inbox import SqliteIdempotencyStore
store = SqliteIdempotencyStore(sys.argv[1])
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
print(store.claim("evt_shared", handlers=["h"]).status)
"""


def test_one_winner_across_processes(tmp_path: Path) -> None:
    """Eight processes claiming one id on one file at the same moment: one wins."""
    path = str(tmp_path / "inbox.db")
    SqliteIdempotencyStore(path).close()
    start = str(time.time() + 1.5)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, path, start], stdout=subprocess.PIPE, text=True
        )
        for _ in range(8)
    ]
    statuses = sorted(proc.communicate(timeout=60)[0].strip() for proc in procs)
    assert statuses == ["claimed"] + ["in_flight"] * 7
