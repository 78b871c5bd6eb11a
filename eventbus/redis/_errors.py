"""The errors :mod:`eventbus.redis` raises beyond the builtins'."""

from __future__ import annotations

from .._exceptions import EventBusError


class AsyncioRequiredError(EventBusError, RuntimeError):
    """A :class:`~eventbus.redis.RedisStreams` coroutine was awaited outside asyncio.

    The ``redis`` client's async side runs on asyncio only, so streams cannot be read or
    written from trio.

    :ivar backend: the async library that was running (``"trio"``)
    """

    def __init__(self, backend: str) -> None:
        self.backend = backend
        super().__init__(
            f"RedisStreams needs asyncio (the redis client's async side runs on asyncio only), "
            f"but this runs under {backend}; run the consumer under asyncio (anyio.run(..., "
            "backend='asyncio')), or publish from sync code with publish_sync"
        )
