"""What an inbox needs from a store: the protocol every store implements, and its values.

A store remembers, per event id, which handlers have completed, how many attempts were made,
who holds the event right now (a lease) and whether it was given up (a dead letter). The
inbox asks it one atomic question per delivery, :meth:`IdempotencyStore.claim`, and reports
the attempt's outcome with one call, :meth:`IdempotencyStore.settle`. When an event has two
or more handlers to run, each one's success is also recorded as it returns
(:meth:`IdempotencyStore.complete`), so a holder killed mid-attempt does not make the next
attempt run them again; a transport whose handlers may outlast the lease keeps it alive
with :meth:`IdempotencyStore.extend`.

A claim is a lease: if its holder crashes, the lease expires after ``lease`` seconds and a
redelivery can claim the event again. "Each handler runs once" therefore holds for handling
that finishes within the lease.

Write a store for another engine by implementing :class:`IdempotencyStore` (blocking calls,
which the inbox makes from a worker thread in async code) and, when the engine has an async
client, :class:`AsyncIdempotencyStore` too (the inbox then awaits it with no thread hop).
``tests/test_inbox_stores.py`` holds the contract tests every store passes.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol, runtime_checkable

#: How long an event is remembered by default, counted from its first claim: a week, beyond
#: any sender's retries (Stripe retries for three days) and any signature tolerance.
DEFAULT_TTL = 7 * 24 * 3600.0
#: The default in-flight lease: 5 minutes.
DEFAULT_LEASE = 300.0

ClaimStatus = Literal["claimed", "in_flight", "done", "dead_letter"]


@dataclass(frozen=True, slots=True)
class Claim:
    """A store's answer to :meth:`IdempotencyStore.claim`.

    :ivar key: the event id asked about
    :ivar status: ``"claimed"`` (handle it now), ``"in_flight"`` (another holder's lease is
        live), ``"done"`` (every handler asked about has completed) or ``"dead_letter"`` (the
        event was given up; nothing runs until it is revived)
    :ivar token: identifies this lease when ``claimed``, else ``None``
    :ivar completed: names of the handlers that succeeded on earlier attempts (when
        ``claimed``; empty otherwise)
    :ivar attempt: when ``claimed``, this attempt's number (1 for the first); otherwise the
        number of attempts made so far
    """

    key: str
    status: ClaimStatus
    token: str | None = None
    completed: frozenset[str] = field(default_factory=frozenset)
    attempt: int = 0


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event given up after too many failed attempts.

    :ivar event_id: the event's id
    :ivar type: the event's type
    :ivar body: the event's JSON envelope (:meth:`Event.to_json`), to rebuild it from
    :ivar failed: each handler that never succeeded, with its last error's text
    :ivar attempts: how many attempts were made
    :ivar first_failed_at: when an attempt failed for the first time (UTC)
    :ivar last_failed_at: when the last attempt failed (UTC)
    """

    event_id: str
    type: str
    body: bytes
    failed: Mapping[str, str]
    attempts: int
    first_failed_at: datetime
    last_failed_at: datetime


@runtime_checkable
class IdempotencyStore(Protocol):
    """The store an :class:`~eventbus.inbox.Inbox` keeps its history in (blocking calls).

    Every method must be safe to call from several threads (and, for shared stores, several
    processes) at once; :meth:`claim`, :meth:`complete` and :meth:`settle` must each be atomic.
    """

    def claim(self, key: str, /, *, handlers: Collection[str]) -> Claim:
        """Look ``key`` up and, unless it needs nothing from ``handlers``' point of view or
        is leased, lease it; in that order:

        1. a dead letter answers ``dead_letter`` (nothing is leased);
        2. an event that an attempt settled clean (no handler failed) and on which every
           name in ``handlers`` has completed answers ``done`` (so an inbox whose bus has
           more handlers still claims it, and an event no attempt finished cleanly is
           claimed even by a caller with no handlers);
        3. an event whose lease has not expired answers ``in_flight``;
        4. otherwise the attempt count goes up by one and the event is leased for ``lease``
           seconds: ``claimed``, with a fresh token, the attempt's number and the names
           completed so far.

        An event is remembered for ``ttl`` seconds from its first claim, done or not.

        :param handlers: the names of the handlers the caller would run for the event
        """
        ...

    def settle(
        self,
        claim: Claim,
        /,
        *,
        completed: Collection[str],
        failed: Mapping[str, str],
        dead_letter: tuple[str, bytes] | None = None,
    ) -> bool:
        """Report the outcome of the attempt ``claim`` started, and release its lease.

        The names in ``completed`` are recorded whoever holds the lease (they did succeed).
        The rest is fenced by ``claim.token``: only while the claim still holds the lease are
        the errors in ``failed`` recorded (each replacing that handler's last error; a
        completed handler's error is forgotten), the failure times updated, the event marked
        clean when ``failed`` is empty, the lease released (so a redelivery can claim it at
        once) and, with ``dead_letter``, the event recorded as a dead letter. A stale holder
        (its lease expired and another claimed the event) changes nothing else.

        :param completed: names of the handlers that succeeded in this attempt
        :param failed: each handler that failed in this attempt, with its error's text
        :param dead_letter: ``(event type, event JSON)`` to give the event up as a dead letter
        :returns: whether ``claim`` still held the lease
        """
        ...

    def complete(self, claim: Claim, handler: str, /) -> bool:
        """Record that ``handler`` succeeded in the attempt ``claim`` started, at once (the
        lease stays held). Fenced by ``claim.token``: a stale holder records nothing.

        :returns: whether ``claim`` still held the lease
        """
        ...

    def extend(self, claim: Claim, lease: float, /) -> bool:
        """Make the lease ``claim`` holds run at least ``lease`` seconds from now (never
        shortened), for a handler that runs long. Fenced by ``claim.token``: a stale holder
        extends nothing.

        :returns: whether ``claim`` still held the lease
        :raises ValueError: ``lease`` is not a positive number of seconds
        """
        ...

    def dead_letters(self) -> list[DeadLetter]:
        """The dead letters still remembered, oldest first failure first."""
        ...

    def revive(self, key: str, /) -> DeadLetter | None:
        """Take ``key`` off the dead letters, so the next claim leases it again.

        Its attempt count and completed handlers are kept.

        :returns: the dead letter as it was, or ``None`` when ``key`` is not one
        """
        ...


@runtime_checkable
class AsyncIdempotencyStore(Protocol):
    """The async twin of :class:`IdempotencyStore`, for stores on async clients: the same
    contract, method by method; the inbox awaits these instead of hopping to a thread."""

    async def claim_async(self, key: str, /, *, handlers: Collection[str]) -> Claim:
        """See :meth:`IdempotencyStore.claim`."""
        ...

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
        ...

    async def complete_async(self, claim: Claim, handler: str, /) -> bool:
        """See :meth:`IdempotencyStore.complete`."""
        ...

    async def extend_async(self, claim: Claim, lease: float, /) -> bool:
        """See :meth:`IdempotencyStore.extend`."""
        ...

    async def dead_letters_async(self) -> list[DeadLetter]:
        """See :meth:`IdempotencyStore.dead_letters`."""
        ...

    async def revive_async(self, key: str, /) -> DeadLetter | None:
        """See :meth:`IdempotencyStore.revive`."""
        ...


def new_token() -> str:
    """A lease token, unique across processes."""
    return secrets.token_hex(16)


def check_lease(lease: float) -> float:
    """Validate a store's ``lease`` argument.

    :raises ValueError: it is not a positive number of seconds
    """
    if not lease > 0:
        raise ValueError(f"lease must be a positive number of seconds, not {lease!r}")
    return float(lease)


def check_ttl(ttl: float, lease: float) -> float:
    """Validate a store's ``ttl`` argument: an event must outlive its lease.

    :raises ValueError: it does not exceed ``lease``
    """
    if not ttl > lease:
        raise ValueError(
            f"ttl ({ttl!r} s) must exceed the lease ({lease:g} s); keep it at least a day "
            "(86400 s), since senders retry for days"
        )
    return float(ttl)


def utc(timestamp: float) -> datetime:
    """A Unix timestamp as an aware UTC datetime."""
    return datetime.fromtimestamp(timestamp, UTC)
