"""The physical floors, timed in the same run as the libraries (issue 7).

- S1: a direct call ``f(x)``; S2: a loop over 10 functions;
- S4: ``await f(x)``; S4c: an anyio task group starting the 10 handlers, and the "native
  floor": the running backend's own primitive (an ``asyncio.TaskGroup``, a trio nursery) with
  what eventbus promises (ordered start, each handler's exception caught, a context variable
  set around the delivery);
- S5: constructing a frozen pydantic model shaped like the envelope, from values already typed
  (id, type, aware datetime, data), so no id or clock is paid for;
- S6: ``hmac`` (Standard Webhooks: HMAC-SHA256, base64, constant-time compare) plus
  ``json.loads`` of the same 1 KB body.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import anyio
import trio
from pydantic import BaseModel, ConfigDict

from .. import _payload as payload
from .._core import Bench, Contender, Kit


def _call(kit: Kit) -> Bench:
    f = kit.handler()
    x = object()

    def run(n: int) -> None:
        for _ in range(n):
            f(x)

    return Bench(run, call="f(x)")


def _loop(kit: Kit) -> Bench:
    functions = tuple(kit.handler(f"h{i}") for i in range(10))
    x = object()

    def run(n: int) -> None:
        for _ in range(n):
            for f in functions:
                f(x)

    return Bench(run, call="for f in fs: f(x)")


def _await(backend: Any) -> Any:
    def factory(kit: Kit) -> Bench:
        f = kit.async_handler()
        x = object()

        async def run(n: int) -> None:
            for _ in range(n):
                await f(x)

        return Bench(run, backend, call="await f(x)")

    return factory


def _task_group(backend: Any) -> Any:
    def factory(kit: Kit) -> Bench:
        functions = [kit.async_handler(f"h{i}", sleep=True) for i in range(10)]
        x = object()
        create_task_group = anyio.create_task_group

        async def run(n: int) -> None:
            for _ in range(n):
                async with create_task_group() as group:
                    for f in functions:
                        group.start_soon(f, x)

        return Bench(run, backend, call="anyio task group starting 10 tasks")

    return factory


_current: contextvars.ContextVar[object] = contextvars.ContextVar("floor_current")


async def _guarded(f: Any, x: object, failures: list[Exception]) -> None:
    try:
        await f(x)
    except Exception as exc:
        failures.append(exc)


def _native_asyncio(kit: Kit) -> Bench:
    functions = [kit.async_handler(f"h{i}", sleep=True) for i in range(10)]
    x = object()

    async def run(n: int) -> None:
        for _ in range(n):
            failures: list[Exception] = []
            token = _current.set(x)
            try:
                async with asyncio.TaskGroup() as group:  # starts tasks in creation order
                    for f in functions:
                        group.create_task(_guarded(f, x, failures))
            finally:
                _current.reset(token)

    return Bench(run, "asyncio", call="asyncio.TaskGroup, guarded tasks, context set")


async def _in_turn(
    previous: trio.Event | None, turn: trio.Event, f: Any, x: object, failures: list[Exception]
) -> None:
    if previous is not None:
        await previous.wait()
    turn.set()
    await _guarded(f, x, failures)


def _native_trio(kit: Kit) -> Bench:
    functions = [kit.async_handler(f"h{i}", sleep=True) for i in range(10)]
    x = object()

    async def run(n: int) -> None:
        for _ in range(n):
            failures: list[Exception] = []
            token = _current.set(x)
            try:
                previous = None
                async with trio.open_nursery() as nursery:
                    for f in functions:  # trio runs new tasks in any order: each waits its turn
                        turn = trio.Event()
                        nursery.start_soon(_in_turn, previous, turn, f, x, failures)
                        previous = turn
            finally:
                _current.reset(token)

    return Bench(run, "trio", call="trio nursery, tasks started in turn, guarded, context set")


class _Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    id: str
    type: str
    created: datetime
    data: dict[str, Any]
    source: str | None = None
    parent_id: str | None = None


def _envelope(kit: Kit) -> Bench:
    created = datetime.now(UTC)
    data = {"order_id": "ord_1", "amount": 2000, "currency": "usd"}

    def run(n: int) -> None:
        for _ in range(n):
            _Envelope(
                id="evt_0123456789abcdef00000001", type="order.created", created=created, data=data
            )

    return Bench(run, call="pydantic envelope from typed values", deliveries=0)


def _hmac_json(kit: Kit) -> Bench:
    deliveries = payload.Deliveries()
    key = payload.KEY

    def run(n: int) -> None:
        for body, headers in deliveries.items[:n]:
            signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
            mac = hmac.new(key, signed, hashlib.sha256).digest()
            expected = "v1," + base64.b64encode(mac).decode()
            if not hmac.compare_digest(expected, headers["webhook-signature"]):
                raise RuntimeError("bad signature")
            json.loads(body)

    return Bench(run, call="hmac + json.loads (1 KB)", prepare=deliveries.prepare, deliveries=0)


CONTENDERS = [
    Contender(
        "floor",
        None,
        {
            "S1": _call,
            "S2": _loop,
            "S4 asyncio": _await("asyncio"),
            "S4 trio": _await("trio"),
            "S4c asyncio": _task_group("asyncio"),
            "S4c trio": _task_group("trio"),
            "S5": _envelope,
            "S6": _hmac_json,
        },
        floor=True,
        normal=False,
    ),
    Contender(
        "native floor",
        None,
        {"S4c asyncio": _native_asyncio, "S4c trio": _native_trio},
        floor=True,
        normal=False,
    ),
]
