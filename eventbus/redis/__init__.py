"""eventbus on Redis, for apps on many machines (extra ``eventbus[redis]``)."""

from ._errors import AsyncioRequiredError
from ._store import RedisIdempotencyStore
from ._streams import RedisStreams, StreamDelivery

__all__ = ["AsyncioRequiredError", "RedisIdempotencyStore", "RedisStreams", "StreamDelivery"]
