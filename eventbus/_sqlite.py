"""One SQLite file that durable stores share: a connection kept per thread, one transaction per
operation, and a file that vanished reported as such instead of silently started anew.

Opening a connection costs more than the statements a store runs, so each thread keeps one.
The file and its tables are created only when the :class:`SqliteFile` is constructed; later
connections open it read-write without creating it, and every transaction first checks that
the path still names the file that was opened. A store whose file was deleted would otherwise
start an empty history and run handled events again.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from ._exceptions import StoreFileMissingError

Synchronous = Literal["full", "normal"]


class SqliteFile:
    """A SQLite database file in WAL mode, with one connection per thread that uses it.

    :param path: the database file, created with ``schema`` if missing
    :param schema: SQL run once at construction (``CREATE TABLE IF NOT EXISTS ...``)
    :param synchronous: ``"full"`` (every commit survives a power loss) or ``"normal"`` (WAL:
        survives an application crash; a power loss may forget the last few commits)
    :param busy_timeout: seconds to wait for another connection's write lock before failing
    :raises ValueError: for a ``synchronous`` other than ``"full"`` or ``"normal"``
    :raises sqlite3.OperationalError: the file cannot be created or opened, naming its path
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        schema: str,
        synchronous: Synchronous = "full",
        busy_timeout: float = 5.0,
    ) -> None:
        if synchronous not in ("full", "normal"):
            raise ValueError(f"synchronous must be 'full' or 'normal', got {synchronous!r}")
        self.path = os.fspath(path)
        self.synchronous = synchronous
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        first = self._connect(create=True)
        first.execute("PRAGMA journal_mode=WAL")
        first.executescript(schema)
        self._identity = _identity(self.path)
        self._local.connection = first

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run a block as one ``BEGIN IMMEDIATE`` transaction on this thread's connection:
        committed when the block ends, rolled back when it raises.

        :raises StoreFileMissingError: the file was deleted or replaced since construction
        """
        connection = self.connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.rollback()
            raise
        connection.commit()

    def connection(self) -> sqlite3.Connection:
        """Return this thread's connection, opening it on first use.

        :raises StoreFileMissingError: the file was deleted or replaced since construction
        """
        if _identity(self.path) != self._identity:
            raise StoreFileMissingError(self.path)
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._connect(create=False)
        return connection

    def close(self) -> None:
        """Close every thread's connection; a later operation opens a new one."""
        with self._lock:
            connections, self._all = self._all, []
        for connection in connections:
            connection.close()
        self._local = threading.local()

    def _connect(self, *, create: bool) -> sqlite3.Connection:
        mode = "rwc" if create else "rw"
        uri = f"{Path(self.path).absolute().as_uri()}?mode={mode}"
        try:
            # Each connection serves one thread; only close() touches them all.
            connection = sqlite3.connect(
                uri,
                uri=True,
                timeout=self.busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.OperationalError as exc:
            if not create:
                raise StoreFileMissingError(self.path) from exc
            raise sqlite3.OperationalError(f"cannot open SQLite file {self.path!r}: {exc}") from exc
        connection.execute(f"PRAGMA synchronous={self.synchronous.upper()}")
        with self._lock:
            self._all.append(connection)
        return connection

    def __repr__(self) -> str:
        return f"SqliteFile({self.path!r}, synchronous={self.synchronous!r})"


def _identity(path: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino
