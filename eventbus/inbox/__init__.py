"""Exactly-once handling per handler under at-least-once arrival, for every transport."""

from .._exceptions import StoreFileMissingError
from ._errors import DeadLetterNotFoundError
from ._inbox import Delivery, Inbox, current
from ._memory import MemoryIdempotencyStore
from ._sqlite_store import SqliteIdempotencyStore
from ._store import AsyncIdempotencyStore, Claim, DeadLetter, IdempotencyStore

__all__ = [
    "AsyncIdempotencyStore",
    "Claim",
    "DeadLetter",
    "DeadLetterNotFoundError",
    "Delivery",
    "IdempotencyStore",
    "Inbox",
    "MemoryIdempotencyStore",
    "SqliteIdempotencyStore",
    "StoreFileMissingError",
    "current",
]
