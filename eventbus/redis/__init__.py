"""eventbus on Redis, for apps on many machines (extra ``eventbus[redis]``)."""

from ._store import RedisIdempotencyStore

__all__ = ["RedisIdempotencyStore"]
