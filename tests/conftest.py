"""Shared fixtures: every async test runs under asyncio and trio."""

from __future__ import annotations

import pytest

from eventbus import EventBus


@pytest.fixture(params=[pytest.param("asyncio", id="asyncio"), pytest.param("trio", id="trio")])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run each ``@pytest.mark.anyio`` test on both backends; trio must be installed."""
    return str(request.param)


@pytest.fixture
def bus() -> EventBus:
    """A fresh bus per test."""
    return EventBus()
