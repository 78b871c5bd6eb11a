"""The in-process store: the default, forgotten on restart and not shared by processes."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Collection, Mapping

from ._store import (
    DEFAULT_LEASE,
    DEFAULT_TTL,
    Claim,
    DeadLetter,
    check_lease,
    check_ttl,
    new_token,
    utc,
)


class _Record:
    __slots__ = (
        "attempts",
        "born",
        "clean",
        "completed",
        "dead",
        "errors",
        "first_failed",
        "last_failed",
        "lease_until",
        "token",
    )

    def __init__(self, now: float) -> None:
        self.born = now
        self.clean = False
        self.token: str | None = None
        self.lease_until = 0.0
        self.attempts = 0
        self.completed: set[str] = set()
        self.errors: dict[str, str] = {}
        self.first_failed = 0.0
        self.last_failed = 0.0
        self.dead: tuple[str, bytes] | None = None


class MemoryIdempotencyStore:
    """An in-process :class:`IdempotencyStore` (and :class:`AsyncIdempotencyStore`: it never
    waits on I/O, so the inbox calls it inline). Forgotten on restart and not shared by
    worker processes: use :class:`SqliteIdempotencyStore` or the Redis store for those.

    :param max_entries: events remembered at most; past it the oldest is forgotten first
    :param ttl: seconds an event is remembered after its first claim (default a week; keep it
        at least a day, so a redelivery is recognised long after the signature window; it
        must exceed ``lease``)
    :param lease: seconds an in-flight claim holds before a redelivery may take it over
    :raises ValueError: ``max_entries`` below 1, or a ``lease`` or ``ttl`` out of range
    """

    def __init__(
        self,
        *,
        max_entries: int = 100_000,
        ttl: float = DEFAULT_TTL,
        lease: float = DEFAULT_LEASE,
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, not {max_entries!r}")
        self.lease = check_lease(lease)
        self.ttl = check_ttl(ttl, self.lease)
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def claim(self, key: str, /, *, handlers: Collection[str]) -> Claim:
        """See :meth:`IdempotencyStore.claim`."""
        now = time.monotonic()
        with self._lock:
            self._forget_expired(now)
            record = self._records.get(key)
            if record is None:
                record = self._records[key] = _Record(now)
                while len(self._records) > self.max_entries:
                    self._records.popitem(last=False)
            if record.dead is not None:
                return Claim(key, "dead_letter", attempt=record.attempts)
            if record.clean and record.completed.issuperset(handlers):
                return Claim(key, "done", attempt=record.attempts)
            if record.token is not None and record.lease_until > now:
                return Claim(key, "in_flight", attempt=record.attempts)
            record.token = new_token()
            record.lease_until = now + self.lease
            record.attempts += 1
            return Claim(key, "claimed", record.token, frozenset(record.completed), record.attempts)

    def settle(
        self,
        claim: Claim,
        /,
        *,
        completed: Collection[str],
        failed: Mapping[str, str],
        dead_letter: tuple[str, bytes] | None = None,
    ) -> bool:
        """See :meth:`IdempotencyStore.settle`."""
        with self._lock:
            record = self._records.get(claim.key)
            if record is None:
                return False
            record.completed.update(completed)
            for name in completed:
                record.errors.pop(name, None)
            if record.token is None or record.token != claim.token:
                return False
            record.token = None
            record.clean = record.clean or not failed
            record.errors.update(failed)
            if failed:
                record.last_failed = time.time()
                record.first_failed = record.first_failed or record.last_failed
            record.dead = dead_letter
            return True

    def complete(self, claim: Claim, handler: str, /) -> bool:
        """See :meth:`IdempotencyStore.complete`."""
        with self._lock:
            record = self._records.get(claim.key)
            if record is None or record.token is None or record.token != claim.token:
                return False
            record.completed.add(handler)
            record.errors.pop(handler, None)
            return True

    def extend(self, claim: Claim, lease: float, /) -> bool:
        """See :meth:`IdempotencyStore.extend`."""
        until = time.monotonic() + check_lease(lease)
        with self._lock:
            record = self._records.get(claim.key)
            if record is None or record.token is None or record.token != claim.token:
                return False
            record.lease_until = max(record.lease_until, until)
            return True

    def dead_letters(self) -> list[DeadLetter]:
        """See :meth:`IdempotencyStore.dead_letters`."""
        with self._lock:
            self._forget_expired(time.monotonic())
            letters = [
                _letter(key, record, record.dead)
                for key, record in self._records.items()
                if record.dead is not None
            ]
        return sorted(letters, key=lambda letter: letter.first_failed_at)

    def revive(self, key: str, /) -> DeadLetter | None:
        """See :meth:`IdempotencyStore.revive`."""
        with self._lock:
            record = self._records.get(key)
            if record is None or record.dead is None:
                return None
            letter = _letter(key, record, record.dead)
            record.dead = None
            return letter

    async def claim_async(self, key: str, /, *, handlers: Collection[str]) -> Claim:
        """See :meth:`IdempotencyStore.claim`."""
        return self.claim(key, handlers=handlers)

    async def settle_async(
        self,
        claim: Claim,
        /,
        *,
        completed: Collection[str],
        failed: Mapping[str, str],
        dead_letter: tuple[str, bytes] | None = None,
    ) -> bool:
        """See :meth:`IdempotencyStore.settle`."""
        return self.settle(claim, completed=completed, failed=failed, dead_letter=dead_letter)

    async def complete_async(self, claim: Claim, handler: str, /) -> bool:
        """See :meth:`IdempotencyStore.complete`."""
        return self.complete(claim, handler)

    async def extend_async(self, claim: Claim, lease: float, /) -> bool:
        """See :meth:`IdempotencyStore.extend`."""
        return self.extend(claim, lease)

    async def dead_letters_async(self) -> list[DeadLetter]:
        """See :meth:`IdempotencyStore.dead_letters`."""
        return self.dead_letters()

    async def revive_async(self, key: str, /) -> DeadLetter | None:
        """See :meth:`IdempotencyStore.revive`."""
        return self.revive(key)

    def _forget_expired(self, now: float) -> None:
        records = self._records
        while records:
            oldest = next(iter(records.values()))
            if now - oldest.born <= self.ttl or oldest.lease_until > now:
                break
            records.popitem(last=False)

    def __len__(self) -> int:
        return len(self._records)

    def __repr__(self) -> str:
        return (
            f"MemoryIdempotencyStore(entries={len(self._records)}, "
            f"max_entries={self.max_entries}, ttl={self.ttl:g}, lease={self.lease:g})"
        )


def _letter(key: str, record: _Record, dead: tuple[str, bytes]) -> DeadLetter:
    event_type, body = dead
    return DeadLetter(
        key,
        event_type,
        body,
        dict(record.errors),
        record.attempts,
        utc(record.first_failed),
        utc(record.last_failed),
    )
