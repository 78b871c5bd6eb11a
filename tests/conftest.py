"""Shared fixtures: every async test runs under asyncio and trio; a real Redis on demand."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from redis_support import RedisServer

from eventbus import EventBus


@pytest.fixture(params=[pytest.param("asyncio", id="asyncio"), pytest.param("trio", id="trio")])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run each ``@pytest.mark.anyio`` test on both backends; trio must be installed."""
    return str(request.param)


@pytest.fixture
def bus() -> EventBus:
    """A fresh bus per test."""
    return EventBus()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server for the session (fails, never skips, when it is missing)."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The test Redis's URL, emptied before each test."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url
