"""Inbox.deliver and deliver_sync refuse what is not an Event, saying how to get one."""

from __future__ import annotations

from typing import Any

import pytest

from eventbus import EventBus
from eventbus.inbox import Inbox

RAW = {"id": "evt_1", "type": "order.paid"}


def test_deliver_sync_refuses_a_dict_saying_to_parse_it(bus: EventBus) -> None:
    seen: list[Any] = []
    bus.subscribe("order.paid", seen.append)
    inbox = Inbox(bus)
    with pytest.raises(TypeError, match=r"deliver_sync takes an Event, not dict: use bus\.parse"):
        inbox.deliver_sync(RAW)  # type: ignore[arg-type]
    assert inbox.deliver_sync(bus.parse(RAW)).status == "handled"
    assert [event.id for event in seen] == ["evt_1"]


@pytest.mark.anyio
async def test_deliver_refuses_a_dict_saying_to_parse_it(bus: EventBus) -> None:
    inbox = Inbox(bus)
    with pytest.raises(TypeError, match=r"deliver takes an Event, not dict: use bus\.parse"):
        await inbox.deliver(RAW)  # type: ignore[arg-type]
    assert (await inbox.deliver(bus.parse(RAW))).status == "handled"
