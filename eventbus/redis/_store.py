"""The inbox's store on Redis, for an app running on many machines."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, cast

import anyio.to_thread

try:
    import redis
    import redis.asyncio
except ModuleNotFoundError as missing:  # pragma: no cover - the tests run with the extra
    raise ModuleNotFoundError(
        "eventbus.redis needs the redis client: pip install 'eventbus[redis]'",
        name=missing.name,
    ) from missing

from ..inbox._store import (
    DEFAULT_LEASE,
    DEFAULT_TTL,
    Claim,
    ClaimStatus,
    DeadLetter,
    check_lease,
    check_ttl,
    new_token,
    utc,
)
from . import _scripts

AnyRedis = redis.Redis | redis.asyncio.Redis


class RedisIdempotencyStore:
    """An :class:`~eventbus.inbox.IdempotencyStore` and
    :class:`~eventbus.inbox.AsyncIdempotencyStore` on Redis, shared by every process on
    every machine that reaches the server.

    Claim, complete, extend, settle and revive are Lua scripts, so each is atomic on the
    server; leases are timed by the server's clock, and a settle (like a completion and an
    extension) is fenced by its claim's token, so a holder
    whose lease ran out cannot release or overwrite its successor's. Each event is one hash
    (``<prefix>:inbox:event:<id>``) that expires ``ttl`` seconds after its first claim;
    dead letters are indexed in ``<prefix>:inbox:dead-letters``. A settle's script touches
    both keys, so Redis Cluster is not supported (one server, or a primary with replicas).

    :param url_or_client: a ``redis://`` URL (both a sync and an async client are made from
        it), a ``redis.Redis`` (async calls run it in a worker thread) or a
        ``redis.asyncio.Redis`` (then only the async methods work, which is what the inbox
        uses from async code)
    :param prefix: the start of every key, so apps (or consumer groups) sharing one server
        keep separate histories
    :param lease: seconds an in-flight claim holds before a redelivery may take it over
    :param ttl: seconds an event is remembered after its first claim (default a week)
    :raises TypeError: ``url_or_client`` is none of those
    :raises ValueError: a ``lease`` or ``ttl`` out of range
    """

    def __init__(
        self,
        url_or_client: str | AnyRedis,
        *,
        prefix: str = "eventbus",
        lease: float = DEFAULT_LEASE,
        ttl: float = DEFAULT_TTL,
    ) -> None:
        self.lease = check_lease(lease)
        self.ttl = check_ttl(ttl, self.lease)
        self.prefix = prefix
        self._sync, self._async = _clients(url_or_client)
        self._owned = isinstance(url_or_client, str)
        self._dead_key = f"{prefix}:inbox:dead-letters"
        sync, aio = self._sync, self._async
        self._scripts = {
            name: sync.register_script(source) for name, source in _scripts.ALL.items()
        } if sync is not None else {}
        self._ascripts = {
            name: aio.register_script(source) for name, source in _scripts.ALL.items()
        } if aio is not None else {}

    def key(self, event_id: str, /) -> str:
        """The Redis key of ``event_id``'s record."""
        return f"{self.prefix}:inbox:event:{event_id}"

    # -- sync ----------------------------------------------------------------------------

    def claim(self, key: str, /, *, handlers: Collection[str]) -> Claim:
        """See :meth:`IdempotencyStore.claim`."""
        token = new_token()
        keys, args = self._claim_args(key, token, handlers)
        return _claim(key, token, self._script("claim")(keys, args))

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
        keys, args = self._settle_args(claim, completed, failed, dead_letter)
        return bool(self._script("settle")(keys, args))

    def complete(self, claim: Claim, handler: str, /) -> bool:
        """See :meth:`IdempotencyStore.complete`."""
        return bool(self._script("complete")([self.key(claim.key)], [claim.token or "", handler]))

    def extend(self, claim: Claim, lease: float, /) -> bool:
        """See :meth:`IdempotencyStore.extend`."""
        return bool(self._script("extend")(*_extend_args(self.key(claim.key), claim, lease)))

    def dead_letters(self) -> list[DeadLetter]:
        """See :meth:`IdempotencyStore.dead_letters`."""
        client = self._client()
        ids = _ids(client.zrange(self._dead_key, 0, -1))
        with client.pipeline(transaction=False) as pipe:
            for event_id in ids:
                pipe.hgetall(self.key(event_id))
            letters, stale = _letters(ids, pipe.execute())
        if stale:
            client.zrem(self._dead_key, *stale)
        return letters

    def revive(self, key: str, /) -> DeadLetter | None:
        """See :meth:`IdempotencyStore.revive`."""
        reply = self._script("revive")([self.key(key), self._dead_key], [key])
        return None if reply is None else _letter(key, _pairs(reply))

    # -- async ---------------------------------------------------------------------------

    async def claim_async(self, key: str, /, *, handlers: Collection[str]) -> Claim:
        """See :meth:`IdempotencyStore.claim`."""
        if self._async is None:
            return await anyio.to_thread.run_sync(lambda: self.claim(key, handlers=handlers))
        token = new_token()
        keys, args = self._claim_args(key, token, handlers)
        return _claim(key, token, await self._ascripts["claim"](keys, args))

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
        if self._async is None:
            return await anyio.to_thread.run_sync(
                lambda: self.settle(
                    claim, completed=completed, failed=failed, dead_letter=dead_letter
                )
            )
        keys, args = self._settle_args(claim, completed, failed, dead_letter)
        return bool(await self._ascripts["settle"](keys, args))

    async def complete_async(self, claim: Claim, handler: str, /) -> bool:
        """See :meth:`IdempotencyStore.complete`."""
        if self._async is None:
            return await anyio.to_thread.run_sync(self.complete, claim, handler)
        keys, args = [self.key(claim.key)], [claim.token or "", handler]
        return bool(await self._ascripts["complete"](keys, args))

    async def extend_async(self, claim: Claim, lease: float, /) -> bool:
        """See :meth:`IdempotencyStore.extend`."""
        if self._async is None:
            return await anyio.to_thread.run_sync(self.extend, claim, lease)
        args = _extend_args(self.key(claim.key), claim, lease)
        return bool(await self._ascripts["extend"](*args))

    async def dead_letters_async(self) -> list[DeadLetter]:
        """See :meth:`IdempotencyStore.dead_letters`."""
        if self._async is None:
            return await anyio.to_thread.run_sync(self.dead_letters)
        client = self._async
        ids = _ids(await client.zrange(self._dead_key, 0, -1))
        async with client.pipeline(transaction=False) as pipe:
            for event_id in ids:
                pipe.hgetall(self.key(event_id))
            letters, stale = _letters(ids, await pipe.execute())
        if stale:
            await client.zrem(self._dead_key, *stale)
        return letters

    async def revive_async(self, key: str, /) -> DeadLetter | None:
        """See :meth:`IdempotencyStore.revive`."""
        if self._async is None:
            return await anyio.to_thread.run_sync(self.revive, key)
        reply = await self._ascripts["revive"]([self.key(key), self._dead_key], [key])
        return None if reply is None else _letter(key, _pairs(reply))

    def close(self) -> None:
        """Close the sync client this store made from a URL (a client passed in is yours)."""
        if self._owned and self._sync is not None:
            self._sync.close()

    async def aclose(self) -> None:
        """Close both clients this store made from a URL, from the loop the async one ran on."""
        self.close()
        if self._owned and self._async is not None:
            await self._async.aclose()

    # -- shared steps ------------------------------------------------------------------

    def _script(self, name: str) -> Any:
        self._client()
        return self._scripts[name]

    def _client(self) -> redis.Redis:
        if self._sync is None:
            raise TypeError(
                "this RedisIdempotencyStore was built on a redis.asyncio client, so it can "
                "only be awaited (Inbox.deliver, Inbox.dead_letters_async); pass a URL to use "
                "it from sync code as well"
            )
        return self._sync

    def _claim_args(
        self, key: str, token: str, handlers: Collection[str]
    ) -> tuple[list[str], list[Any]]:
        lease_ms, ttl_ms = round(self.lease * 1000), round(self.ttl * 1000)
        return [self.key(key)], [token, lease_ms, ttl_ms, *handlers]

    def _settle_args(
        self,
        claim: Claim,
        completed: Collection[str],
        failed: Mapping[str, str],
        dead_letter: tuple[str, bytes] | None,
    ) -> tuple[list[str], list[Any]]:
        errors = [part for item in failed.items() for part in item]
        dead = dead_letter or ("", b"")
        head = [claim.token or "", claim.key, len(completed), *completed]
        return [self.key(claim.key), self._dead_key], [*head, len(failed), *errors, *dead]

    def __repr__(self) -> str:
        return (
            f"RedisIdempotencyStore(prefix={self.prefix!r}, lease={self.lease:g}, "
            f"ttl={self.ttl:g})"
        )


def _clients(
    url_or_client: str | AnyRedis,
) -> tuple[redis.Redis | None, redis.asyncio.Redis | None]:
    """The clients to use: from a URL, a sync and an async one whose pools wait for a free
    connection (a burst of concurrent deliveries queues up instead of failing with "Too many
    connections"); a client passed in is used as it is."""
    if isinstance(url_or_client, str):
        sync_pool = redis.BlockingConnectionPool.from_url(url_or_client)
        async_pool = redis.asyncio.BlockingConnectionPool.from_url(url_or_client)
        return redis.Redis.from_pool(sync_pool), redis.asyncio.Redis.from_pool(async_pool)
    if isinstance(url_or_client, redis.Redis):
        return url_or_client, None
    if isinstance(url_or_client, redis.asyncio.Redis):
        return None, url_or_client
    raise TypeError(
        "url_or_client must be a redis:// URL, a redis.Redis or a redis.asyncio.Redis, not "
        f"{type(url_or_client).__name__}"
    )


def _extend_args(key: str, claim: Claim, lease: float) -> tuple[list[str], list[Any]]:
    return [key], [claim.token or "", round(check_lease(lease) * 1000)]


def _ids(members: Any) -> list[str]:
    return [_text(member) for member in members]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _letters(
    ids: Sequence[str], records: Sequence[dict[Any, Any]]
) -> tuple[list[DeadLetter], list[str]]:
    """The dead letters among ``records``, and the ids whose record expired meanwhile."""
    letters, stale = [], []
    for event_id, record in zip(ids, records, strict=True):
        fields = {_text(name): value for name, value in record.items()}
        if fields.get("dead") in (b"1", "1"):
            letters.append(_letter(event_id, fields))
        elif not fields:
            stale.append(event_id)
    return letters, stale


def _claim(key: str, token: str, reply: list[Any]) -> Claim:
    raw_status, attempts, *completed = reply
    status = cast(ClaimStatus, _text(raw_status))
    if status != "claimed":
        return Claim(key, status, attempt=int(attempts))
    return Claim(key, "claimed", token, frozenset(map(_text, completed)), int(attempts))


def _pairs(reply: list[Any]) -> dict[str, Any]:
    return {_text(reply[i]): reply[i + 1] for i in range(0, len(reply), 2)}


def _letter(event_id: str, fields: Mapping[str, Any]) -> DeadLetter:
    body = fields["body"]
    failed = {
        name[2:]: _text(error)
        for name, error in fields.items()
        if name.startswith("e:") and f"c:{name[2:]}" not in fields
    }
    return DeadLetter(
        event_id,
        _text(fields["type"]),
        body.encode() if isinstance(body, str) else bytes(body),
        failed,
        int(fields["attempts"]),
        utc(float(fields["first_failed"])),
        utc(float(fields["last_failed"])),
    )
