"""The store contract (eventbus.inbox.IdempotencyStore), run against every store: memory,
SQLite and Redis, through their blocking methods and through their async twins."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio

from eventbus import Event, EventBus
from eventbus.inbox import (
    AsyncIdempotencyStore,
    Claim,
    DeadLetter,
    IdempotencyStore,
    Inbox,
    MemoryIdempotencyStore,
    SqliteIdempotencyStore,
)
from eventbus.redis import RedisIdempotencyStore

KINDS = ["memory", "memory-async", "sqlite", "redis", "redis-async", "redis-sync-client-async"]


@pytest.fixture
def anyio_backend() -> str:
    """The stores do not depend on the async backend (the Redis client is asyncio only);
    the inbox's tests run under both."""
    return "asyncio"


@dataclass
class Driver:
    """One store, called through either its blocking methods or its async twins."""

    store: Any
    use_async: bool

    async def claim(self, key: str, *handlers: str) -> Claim:
        if self.use_async:
            claim: Claim = await self.store.claim_async(key, handlers=handlers)
            return claim
        return self.store.claim(key, handlers=handlers)  # type: ignore[no-any-return]

    async def settle(
        self,
        claim: Claim,
        completed: Collection[str] = (),
        failed: Mapping[str, str] | None = None,
        dead_letter: tuple[str, bytes] | None = None,
    ) -> bool:
        options = {"completed": completed, "failed": failed or {}, "dead_letter": dead_letter}
        if self.use_async:
            return bool(await self.store.settle_async(claim, **options))
        return bool(self.store.settle(claim, **options))

    async def complete(self, claim: Claim, handler: str) -> bool:
        if self.use_async:
            return bool(await self.store.complete_async(claim, handler))
        return bool(self.store.complete(claim, handler))

    async def extend(self, claim: Claim, lease: float) -> bool:
        if self.use_async:
            return bool(await self.store.extend_async(claim, lease))
        return bool(self.store.extend(claim, lease))

    async def dead_letters(self) -> list[DeadLetter]:
        if self.use_async:
            return list(await self.store.dead_letters_async())
        return list(self.store.dead_letters())

    async def revive(self, key: str) -> DeadLetter | None:
        if self.use_async:
            letter: DeadLetter | None = await self.store.revive_async(key)
            return letter
        return self.store.revive(key)  # type: ignore[no-any-return]


Factory = Callable[..., Driver]


@pytest.fixture(params=[pytest.param(kind, id=kind) for kind in KINDS])
async def make_store(
    request: pytest.FixtureRequest, tmp_path: Path, redis_url: str
) -> AsyncIterator[Factory]:
    """Build the store under test with the given options (lease, ttl)."""
    kind: str = request.param
    clients: list[redis.asyncio.Redis] = []

    def make(**options: Any) -> Driver:
        if kind.startswith("memory"):
            return Driver(MemoryIdempotencyStore(**options), kind.endswith("async"))
        if kind == "sqlite":
            return Driver(SqliteIdempotencyStore(tmp_path / "inbox.db", **options), False)
        if kind in ("redis", "redis-sync-client-async"):
            store = RedisIdempotencyStore(redis.Redis.from_url(redis_url), **options)
            return Driver(store, kind.endswith("async"))  # async calls hop to a thread
        client = redis.asyncio.Redis.from_url(redis_url)
        clients.append(client)
        return Driver(RedisIdempotencyStore(client, **options), True)

    yield make
    for client in clients:
        await client.aclose()


pytestmark = pytest.mark.anyio


async def test_first_claim_wins_and_a_second_is_in_flight(make_store: Factory) -> None:
    """A fresh id is claimed as attempt 1 with a token; a second claim while leased is
    in_flight and counts no attempt."""
    store = make_store()
    first = await store.claim("evt_1", "a")
    assert (first.status, first.attempt, first.completed) == ("claimed", 1, frozenset())
    assert first.token
    assert await store.claim("evt_1", "a") == Claim("evt_1", "in_flight", attempt=1)


async def test_done_for_the_handlers_that_completed(make_store: Factory) -> None:
    """After a clean settle the event is done for those handlers and any subset of them."""
    store = make_store()
    assert await store.settle(await store.claim("evt_1", "a", "b"), ["a", "b"])
    assert (await store.claim("evt_1", "a", "b")).status == "done"
    assert (await store.claim("evt_1", "a")).status == "done"


async def test_more_handlers_still_claim(make_store: Factory) -> None:
    """A caller with a handler that has not completed claims the event, and learns which
    handlers did (the rolling deploy: {ledger} ran, {ledger, mailer} arrives)."""
    store = make_store()
    await store.settle(await store.claim("evt_1", "ledger"), ["ledger"])
    claim = await store.claim("evt_1", "ledger", "mailer")
    assert (claim.status, claim.attempt, claim.completed) == ("claimed", 2, {"ledger"})


async def test_no_handlers_is_done_only_once_an_attempt_was_clean(make_store: Factory) -> None:
    """A caller with no handlers claims an event until some attempt settled without a
    failure (one that failed or was interrupted does not make it done)."""
    store = make_store()
    await store.settle(await store.claim("evt_1", "a"), (), {"a": "interrupted"})
    claim = await store.claim("evt_1")
    assert (claim.status, claim.attempt) == ("claimed", 2)
    await store.settle(claim)
    assert (await store.claim("evt_1")).status == "done"
    assert (await store.claim("evt_1", "a")).status == "claimed"


async def test_completed_handlers_of_a_failed_attempt_are_done(make_store: Factory) -> None:
    """Once some attempt was clean, a caller whose handlers all completed, even in a
    failed attempt, gets done."""
    store = make_store()
    await store.settle(await store.claim("evt_1", "ledger", "mailer"), ["ledger"], {"mailer": "x"})
    await store.settle(await store.claim("evt_1", "ledger"))
    assert (await store.claim("evt_1", "ledger")).status == "done"
    claim = await store.claim("evt_1", "ledger", "mailer")
    assert (claim.status, claim.completed) == ("claimed", {"ledger"})


async def test_a_failure_releases_at_once_and_keeps_the_completed(make_store: Factory) -> None:
    """Settling with failures frees the lease for the retry, which skips completed ones."""
    store = make_store()
    await store.settle(await store.claim("evt_1", "a", "b"), ["a"], {"b": "boom"})
    retry = await store.claim("evt_1", "a", "b")
    assert (retry.status, retry.attempt, retry.completed) == ("claimed", 2, {"a"})
    await store.settle(retry, ["b"])
    assert (await store.claim("evt_1", "a", "b")).status == "done"


async def test_a_completion_is_recorded_at_once_and_keeps_the_lease(
    make_store: Factory,
) -> None:
    """complete() records one handler mid-attempt: the lease stays held (in_flight), and a
    holder that dies without settling leaves the next attempt to run only the others."""
    store = make_store(lease=0.05)
    crashed = await store.claim("evt_1", "a", "b")
    assert await store.complete(crashed, "a")
    assert (await store.claim("evt_1", "a", "b")).status == "in_flight"
    time.sleep(0.1)
    retry = await store.claim("evt_1", "a", "b")
    assert (retry.status, retry.attempt, retry.completed) == ("claimed", 2, {"a"})
    assert await store.settle(retry, ["b"])
    assert (await store.claim("evt_1", "a", "b")).status == "done"


async def test_a_completion_forgets_the_handlers_last_error(make_store: Factory) -> None:
    """A handler that failed before and completes now is no longer listed as failing."""
    store = make_store()
    await store.settle(await store.claim("evt_1", "a", "b"), (), {"a": "x", "b": "y"})
    retry = await store.claim("evt_1", "a", "b")
    assert await store.complete(retry, "a")
    await store.settle(retry, (), {"b": "z"}, ("t.x", b"{}"))
    [letter] = await store.dead_letters()
    assert letter.failed == {"b": "z"}


async def test_a_stale_holder_records_no_completion(make_store: Factory) -> None:
    """complete() is fenced by the claim's token: after another claim took the event over,
    or for an id never claimed, it records nothing and says so."""
    store = make_store(lease=0.05)
    stale = await store.claim("evt_1", "a", "b")
    time.sleep(0.1)
    current = await store.claim("evt_1", "a", "b")
    assert not await store.complete(stale, "a")
    assert not await store.complete(Claim("evt_unknown", "claimed", "t", attempt=1), "a")
    assert await store.settle(current, (), {"b": "x"})
    retry = await store.claim("evt_1", "a", "b")
    assert retry.completed == frozenset()


async def test_an_extended_lease_outlives_the_stores_lease(make_store: Factory) -> None:
    """extend() keeps a long-running holder's lease: past the store's lease the event is
    still in_flight, and the holder's settle still holds."""
    store = make_store(lease=0.05)
    claim = await store.claim("evt_1", "a")
    assert await store.extend(claim, 60.0)
    time.sleep(0.1)
    assert (await store.claim("evt_1", "a")).status == "in_flight"
    assert await store.settle(claim, ["a"])
    assert (await store.claim("evt_1", "a")).status == "done"


async def test_an_extension_never_shortens_a_lease(make_store: Factory) -> None:
    """Extending by less than what is left keeps what is left."""
    store = make_store(lease=60.0)
    claim = await store.claim("evt_1", "a")
    assert await store.extend(claim, 0.01)
    time.sleep(0.05)
    assert (await store.claim("evt_1", "a")).status == "in_flight"


async def test_a_stale_holder_extends_nothing(make_store: Factory) -> None:
    """extend() is fenced by the token: a holder whose event was claimed again (or an id
    never claimed) extends nothing and says so; a lease that is not positive is refused."""
    store = make_store(lease=0.05)
    stale = await store.claim("evt_1", "a")
    time.sleep(0.1)
    current = await store.claim("evt_1", "a")
    assert not await store.extend(stale, 60.0)
    assert not await store.extend(Claim("evt_unknown", "claimed", "t", attempt=1), 60.0)
    time.sleep(0.1)
    assert (await store.claim("evt_1", "a")).attempt == current.attempt + 1
    with pytest.raises(ValueError, match="lease must be a positive number"):
        await store.extend(current, 0)


async def test_expired_lease_is_claimed_again(make_store: Factory) -> None:
    """A claim left by a crashed holder expires with its lease; the crash was an attempt."""
    store = make_store(lease=0.05)
    crashed = await store.claim("evt_1", "a")
    time.sleep(0.1)
    again = await store.claim("evt_1", "a")
    assert (again.status, again.attempt) == ("claimed", 2)
    assert again.token != crashed.token


async def test_a_stale_holder_cannot_release_its_successor(make_store: Factory) -> None:
    """A holder whose lease ran out records its completed handlers but nothing else: the
    new holder's lease stands and the stale settle reports it did not hold."""
    store = make_store(lease=0.05)
    stale = await store.claim("evt_1", "a", "b")
    time.sleep(0.1)
    current = await store.claim("evt_1", "a", "b")
    assert not await store.settle(stale, ["a"], {"b": "late"})
    assert (await store.claim("evt_1", "a", "b")).status == "in_flight"
    assert await store.settle(current, ["b"])
    assert (await store.claim("evt_1", "a", "b")).status == "done"


async def test_a_stale_holder_cannot_bury_the_event(make_store: Factory) -> None:
    """A dead letter from a holder that lost its lease is not recorded."""
    store = make_store(lease=0.05)
    stale = await store.claim("evt_1", "a")
    time.sleep(0.1)
    await store.claim("evt_1", "a")
    assert not await store.settle(stale, (), {"a": "x"}, ("t.x", b"{}"))
    assert await store.dead_letters() == []


async def test_dead_letters_are_recorded_listed_and_revived(make_store: Factory) -> None:
    """A dead letter keeps the type, body, each failing handler's last error, the attempts
    and the failure times; claims answer dead_letter until it is revived."""
    store = make_store()
    await store.settle(await store.claim("evt_1", "a", "b"), (), {"a": "e1", "b": "e1"})
    body = b'{"id":"evt_1","type":"t.x"}'
    await store.settle(await store.claim("evt_1", "a", "b"), ["a"], {"b": "e2"}, ("t.x", body))
    assert await store.claim("evt_1", "a", "b") == Claim("evt_1", "dead_letter", attempt=2)
    [letter] = await store.dead_letters()
    assert (letter.event_id, letter.type, letter.body) == ("evt_1", "t.x", body)
    assert (dict(letter.failed), letter.attempts) == ({"b": "e2"}, 2)
    assert letter.first_failed_at <= letter.last_failed_at
    assert letter.last_failed_at.tzinfo is not None
    assert await store.revive("evt_1") == letter
    assert await store.revive("evt_1") is None
    assert await store.dead_letters() == []
    retry = await store.claim("evt_1", "a", "b")
    assert (retry.status, retry.attempt, retry.completed) == ("claimed", 3, {"a"})


async def test_the_inbox_lists_dead_letters_from_async_code(make_store: Factory) -> None:
    """await inbox.dead_letters_async() awaits the store's async twin (or hops to a thread
    for a sync-only store) and lists what dead_letters() lists; on an async-only client,
    where the blocking dead_letters() cannot work, it is the way to list them."""
    bus = EventBus()

    def failing(event: Event[Any]) -> None:
        raise RuntimeError("down")

    bus.subscribe("t.x", failing, name="failing")
    driver = make_store()
    inbox = Inbox(bus, driver.store, max_attempts=1)
    assert (await inbox.deliver(Event(id="evt_1", type="t.x"))).status == "dead_letter"
    [letter] = await inbox.dead_letters_async()
    assert (letter.event_id, dict(letter.failed)) == ("evt_1", {"failing": "RuntimeError: down"})
    if getattr(driver.store, "_sync", True) is None:  # built on a redis.asyncio client
        with pytest.raises(TypeError, match="dead_letters_async"):
            inbox.dead_letters()
    else:
        assert inbox.dead_letters() == [letter]


async def test_dead_letters_are_listed_oldest_first(make_store: Factory) -> None:
    """The list is ordered by first failure."""
    store = make_store()
    for key in ("evt_b", "evt_a", "evt_c"):
        await store.settle(await store.claim(key, "h"), (), {"h": "x"}, ("t.x", b"{}"))
        time.sleep(0.002)
    assert [letter.event_id for letter in await store.dead_letters()] == [
        "evt_b",
        "evt_a",
        "evt_c",
    ]


async def test_revive_of_an_unknown_id_is_none(make_store: Factory) -> None:
    """Reviving an id that is no dead letter changes nothing."""
    store = make_store()
    await store.settle(await store.claim("evt_1", "h"), ["h"])
    assert await store.revive("evt_1") is None
    assert await store.revive("evt_missing") is None
    assert (await store.claim("evt_1", "h")).status == "done"


async def test_events_are_forgotten_ttl_after_their_first_claim(make_store: Factory) -> None:
    """Done or failing, an event is forgotten ttl after its first claim: a failing settle
    does not keep it alive."""
    store = make_store(lease=0.05, ttl=0.4)
    await store.settle(await store.claim("evt_done", "h"), ["h"])
    await store.settle(await store.claim("evt_failing", "h"), (), {"h": "x"})
    time.sleep(0.25)
    await store.settle(await store.claim("evt_failing", "h"), (), {"h": "x"})
    time.sleep(0.25)
    for key in ("evt_done", "evt_failing"):
        fresh = await store.claim(key, "h")
        assert (fresh.status, fresh.attempt, fresh.completed) == ("claimed", 1, frozenset())


async def test_ids_are_independent(make_store: Factory) -> None:
    """Claims on different ids do not interfere."""
    store = make_store()
    assert (await store.claim("evt_1")).status == "claimed"
    assert (await store.claim("evt_2")).status == "claimed"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"lease": 0}, "lease", id="zero-lease"),
        pytest.param({"lease": 10, "ttl": 5}, "ttl", id="ttl-below-lease"),
    ],
)
async def test_bad_options_are_refused(
    make_store: Factory, options: dict[str, float], message: str
) -> None:
    """A non-positive lease, or a ttl not beyond the lease, is a configuration error."""
    with pytest.raises(ValueError, match=message):
        make_store(**options)


async def test_the_store_implements_its_protocol(make_store: Factory) -> None:
    """Each store satisfies the protocol it is called through."""
    driver = make_store()
    protocol = AsyncIdempotencyStore if driver.use_async else IdempotencyStore
    assert isinstance(driver.store, protocol)


@pytest.mark.parametrize("kind", ["memory", "sqlite", "redis"])
def test_concurrent_claims_from_threads_have_one_winner(
    kind: str, tmp_path: Path, redis_url: str
) -> None:
    """32 threads claiming one id at once: exactly one gets it."""
    stores: dict[str, Callable[[], IdempotencyStore]] = {
        "memory": MemoryIdempotencyStore,
        "sqlite": lambda: SqliteIdempotencyStore(tmp_path / "inbox.db"),
        "redis": lambda: RedisIdempotencyStore(redis_url),
    }
    store = stores[kind]()
    barrier = threading.Barrier(32)
    results: list[str] = []

    def claim() -> None:
        barrier.wait()
        results.append(store.claim("evt_race", handlers=["h"]).status)

    threads = [threading.Thread(target=claim) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["claimed"] + ["in_flight"] * 31
