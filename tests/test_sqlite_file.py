"""The SQLite file shared by durable stores: per-thread connections, transactions, a vanished
file refused."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from eventbus._exceptions import StoreFileMissingError
from eventbus._sqlite import SqliteFile

SCHEMA = "CREATE TABLE IF NOT EXISTS item (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"


def _value(db: SqliteFile, key: str) -> int | None:
    row = db.connection().execute("SELECT value FROM item WHERE key = ?", (key,)).fetchone()
    return None if row is None else int(row[0])


def test_creates_the_file_with_its_schema_in_wal_mode(tmp_path: Path) -> None:
    """Construction creates the file and its tables, in WAL mode."""
    db = SqliteFile(tmp_path / "s.db", schema=SCHEMA)
    assert (tmp_path / "s.db").exists()
    mode = db.connection().execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert _value(db, "a") is None


@pytest.mark.parametrize(("synchronous", "level"), [("full", 2), ("normal", 1)])
def test_synchronous_is_set_on_every_connection(
    tmp_path: Path, synchronous: str, level: int
) -> None:
    """Each thread's connection runs at the synchronous level asked for."""
    db = SqliteFile(tmp_path / "s.db", schema=SCHEMA, synchronous=synchronous)  # type: ignore[arg-type]
    seen: list[int] = []
    thread = threading.Thread(
        target=lambda: seen.append(db.connection().execute("PRAGMA synchronous").fetchone()[0])
    )
    thread.start()
    thread.join()
    assert seen == [level]
    assert db.connection().execute("PRAGMA synchronous").fetchone()[0] == level


def test_rejects_an_unknown_synchronous_level(tmp_path: Path) -> None:
    """A synchronous level other than full or normal is a ValueError naming it."""
    with pytest.raises(ValueError, match="'off'"):
        SqliteFile(tmp_path / "s.db", schema=SCHEMA, synchronous="off")  # type: ignore[arg-type]


def test_one_connection_per_thread(tmp_path: Path) -> None:
    """A thread reuses its connection; another thread gets its own."""
    db = SqliteFile(tmp_path / "s.db", schema=SCHEMA)
    mine = db.connection()
    assert db.connection() is mine
    theirs: list[sqlite3.Connection] = []
    thread = threading.Thread(target=lambda: theirs.append(db.connection()))
    thread.start()
    thread.join()
    assert theirs[0] is not mine


def test_transaction_commits_and_rolls_back(tmp_path: Path) -> None:
    """A block that ends is committed; one that raises leaves nothing behind."""
    db = SqliteFile(tmp_path / "s.db", schema=SCHEMA)
    with db.transaction() as connection:
        connection.execute("INSERT INTO item VALUES ('a', 1)")

    def failing_block() -> None:
        with db.transaction() as connection:
            connection.execute("INSERT INTO item VALUES ('b', 2)")
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        failing_block()
    other = SqliteFile(tmp_path / "s.db", schema=SCHEMA)
    assert _value(other, "a") == 1
    assert _value(other, "b") is None


def test_a_deleted_file_is_refused_not_recreated(tmp_path: Path) -> None:
    """Once the file is deleted, every operation raises naming it, and no new file appears."""
    path = tmp_path / "s.db"
    db = SqliteFile(path, schema=SCHEMA)
    with db.transaction() as connection:
        connection.execute("INSERT INTO item VALUES ('a', 1)")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with pytest.raises(StoreFileMissingError, match=r"s\.db") as caught:
        db.transaction().__enter__()
    assert caught.value.path == str(path)
    errors: list[BaseException] = []

    def other_thread() -> None:
        try:
            db.connection()
        except StoreFileMissingError as exc:
            errors.append(exc)

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert len(errors) == 1
    assert not path.exists()


def test_a_replaced_file_is_refused(tmp_path: Path) -> None:
    """A different file put at the path (an empty history) is refused too."""
    path = tmp_path / "s.db"
    db = SqliteFile(path, schema=SCHEMA)
    path.unlink()
    SqliteFile(path, schema=SCHEMA)
    with pytest.raises(StoreFileMissingError):
        db.connection()


def test_an_unopenable_path_names_it(tmp_path: Path) -> None:
    """A path in a missing folder fails at construction with the path in the message."""
    with pytest.raises(sqlite3.OperationalError, match="nowhere"):
        SqliteFile(tmp_path / "nowhere" / "s.db", schema=SCHEMA)


def test_close_closes_every_connection_and_reopens_on_demand(tmp_path: Path) -> None:
    """close() closes the connections; the next operation opens a fresh one."""
    db = SqliteFile(tmp_path / "s.db", schema=SCHEMA)
    first = db.connection()
    db.close()
    with pytest.raises(sqlite3.ProgrammingError):
        first.execute("SELECT 1")
    assert db.connection() is not first
    assert "s.db" in repr(db)


def test_close_closes_connections_opened_on_other_threads(tmp_path: Path) -> None:
    """close() from one thread closes the connections other threads opened."""
    db = SqliteFile(tmp_path / "s.db", schema=SCHEMA)
    theirs: list[sqlite3.Connection] = []
    thread = threading.Thread(target=lambda: theirs.append(db.connection()))
    thread.start()
    thread.join()
    db.close()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        theirs[0].execute("SELECT 1")
