"""The public surfaces of eventbus.inbox and eventbus.redis: sorted, complete, the contract."""

from __future__ import annotations

import types

import pytest

import eventbus.inbox
import eventbus.redis

CONTRACT = {
    eventbus.inbox: [
        "AsyncIdempotencyStore",
        "Claim",
        "DeadLetter",
        "Delivery",
        "IdempotencyStore",
        "Inbox",
        "MemoryIdempotencyStore",
        "SqliteIdempotencyStore",
        "StoreFileMissingError",
        "current",
    ],
    eventbus.redis: ["RedisIdempotencyStore"],
}
MODULES = [pytest.param(module, id=module.__name__) for module in CONTRACT]


@pytest.mark.parametrize("module", MODULES)
def test_all_is_sorted_complete_and_holds_the_contract(module: types.ModuleType) -> None:
    """__all__ is sorted, names every public attribute, and includes the issue's names."""
    public = sorted(
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    )
    assert module.__all__ == sorted(set(module.__all__))
    assert public == module.__all__
    assert set(CONTRACT[module]) <= set(module.__all__)
