"""The public surface of eventbus.webhooks: sorted, complete, and the contract's names."""

from __future__ import annotations

import types

import pytest

import eventbus.webhooks as webhooks

CONTRACT = [
    "BlockletComponentSignature",
    "HmacTimestampSignature",
    "MemoryIdempotencyStore",
    "SignatureError",
    "SqliteIdempotencyStore",
    "StandardWebhooks",
    "Unverified",
    "WebhookError",
    "WebhookReceiver",
    "WebhookResponse",
]


def test_all_is_sorted_and_complete() -> None:
    """__all__ is sorted, and every public name in the module is in it."""
    assert webhooks.__all__ == sorted(set(webhooks.__all__))
    public = sorted(
        name
        for name, value in vars(webhooks).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    )
    assert public == webhooks.__all__


@pytest.mark.parametrize("name", [pytest.param(name, id=name) for name in CONTRACT])
def test_contract_name_is_exported(name: str) -> None:
    """Each name the issue promises is importable from eventbus.webhooks."""
    assert name in webhooks.__all__
    assert hasattr(webhooks, name)
