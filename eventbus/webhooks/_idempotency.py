"""Remembering which deliveries were handled, so each event's handlers run once.

A store answers one atomic question per delivery, :meth:`IdempotencyStore.claim`: is this
event done, being handled elsewhere right now, or ours to handle? The claim is a lease: if
its holder crashes, it expires after ``lease`` seconds and a redelivery can claim the event
again. "Runs once" therefore holds for handling that finishes within the lease.

Completion is recorded per handler (by subscription name), so when some handlers of an event
failed, the sender's retry runs only those.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

#: How long a handled event is remembered by default: a week, beyond any sender's retries
#: (Stripe retries for three days) and far beyond any signature tolerance.
DEFAULT_TTL = 7 * 24 * 3600.0
#: The default in-flight lease: 5 minutes.
DEFAULT_LEASE = 300.0

ClaimStatus = Literal["claimed", "in_flight", "done"]


@dataclass(frozen=True, slots=True)
class Claim:
    """A store's answer to :meth:`IdempotencyStore.claim`.

    :ivar key: the event id claimed
    :ivar status: ``"claimed"`` (handle it now), ``"in_flight"`` (another delivery holds a
        live lease) or ``"done"`` (already handled)
    :ivar token: identifies this lease when ``claimed``, else ``None``
    :ivar completed: names of the handlers that already succeeded on earlier attempts
    """

    key: str
    status: ClaimStatus
    token: str | None = None
    completed: frozenset[str] = field(default_factory=frozenset)


@runtime_checkable
class IdempotencyStore(Protocol):
    """What :class:`WebhookReceiver` needs from a store; implement it for Redis, Postgres...

    Both methods may block (the receiver calls them from a worker thread) and must be safe
    to call from several threads at once.
    """

    def claim(self, key: str, /) -> Claim:
        """Atomically look ``key`` up and, unless it is done or leased, lease it.

        :returns: ``done`` if it was settled as done; ``in_flight`` if another holder's lease
            has not expired; otherwise ``claimed`` with a fresh token and the handler names
            recorded as completed so far
        """
        ...

    def settle(self, claim: Claim, /, *, completed: Collection[str], done: bool) -> None:
        """Record handlers that succeeded, then mark the event done or give up the lease.

        :param completed: handler names to add to the event's completed set
        :param done: ``True`` marks the event done (later claims answer ``done``);
            ``False`` releases ``claim``'s lease, only if it still holds it, so the
            sender's retry can claim the event at once
        """
        ...


def new_token() -> str:
    """A lease token, unique across processes."""
    return secrets.token_hex(16)


def check_lease(lease: float) -> float:
    """Validate a store's ``lease`` argument."""
    if not lease > 0:
        raise ValueError(f"lease must be a positive number of seconds, not {lease!r}")
    return float(lease)


def check_ttl(ttl: float, lease: float) -> float:
    """Validate a store's ``ttl`` argument: an event must outlive its lease."""
    if not ttl > lease:
        raise ValueError(
            f"ttl ({ttl!r} s) must exceed the lease ({lease:g} s); keep it at least a day "
            "(86400 s), since senders retry for days"
        )
    return float(ttl)


class _Record:
    __slots__ = ("completed", "done", "expires", "token", "touched")

    def __init__(self, now: float) -> None:
        self.done = False
        self.token: str | None = None
        self.expires = 0.0
        self.completed: set[str] = set()
        self.touched = now


class MemoryIdempotencyStore:
    """An in-process store: the default. Forgotten on restart and not shared by workers.

    Use :class:`SqliteIdempotencyStore` when the app restarts or runs several processes.

    :param max_entries: events remembered at most; past it the least recently touched is
        forgotten first
    :param ttl: seconds an event is remembered after it was last touched (default a week;
        keep it at least a day, so a redelivery is recognised long after the signature
        window; it must exceed ``lease``)
    :param lease: seconds an in-flight claim holds before a redelivery may take it over
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

    def claim(self, key: str, /) -> Claim:
        """See :meth:`IdempotencyStore.claim`."""
        now = time.monotonic()
        with self._lock:
            self._forget_expired(now)
            record = self._records.get(key)
            if record is None:
                record = self._records[key] = _Record(now)
            if record.done:
                return Claim(key, "done")
            if record.token is not None and record.expires > now:
                return Claim(key, "in_flight")
            record.token = new_token()
            record.expires = now + self.lease
            self._touch(key, record, now)
            return Claim(key, "claimed", record.token, frozenset(record.completed))

    def settle(self, claim: Claim, /, *, completed: Collection[str], done: bool) -> None:
        """See :meth:`IdempotencyStore.settle`."""
        now = time.monotonic()
        with self._lock:
            record = self._records.get(claim.key)
            if record is None:
                record = self._records[claim.key] = _Record(now)
            record.completed.update(completed)
            if done:
                record.done = True
            if done or record.token == claim.token:
                record.token = None
            self._touch(claim.key, record, now)

    def _touch(self, key: str, record: _Record, now: float) -> None:
        record.touched = now
        self._records.move_to_end(key)
        while len(self._records) > self.max_entries:
            self._records.popitem(last=False)

    def _forget_expired(self, now: float) -> None:
        records = self._records
        while records:
            oldest = next(iter(records.values()))
            if now - oldest.touched <= self.ttl:
                break
            records.popitem(last=False)

    def __len__(self) -> int:
        return len(self._records)

    def __repr__(self) -> str:
        return (
            f"MemoryIdempotencyStore(entries={len(self._records)}, "
            f"max_entries={self.max_entries}, ttl={self.ttl:g}, lease={self.lease:g})"
        )
