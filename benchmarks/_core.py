"""The one small interface every library module implements, and the scenarios it may cover.

A library module exposes ``CONTENDERS``: one :class:`Contender` per row it puts in the table
(psygnal has two, ``emit`` and ``emit_fast``). A contender maps scenario ids to factories; a
factory takes a :class:`Kit` (which makes the handlers) and returns a :class:`Bench`, whose
``run(n)`` publishes ``n`` times. Scenarios a library cannot do are listed in ``missing`` with
the reason the table shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal

import anyio

Backend = Literal["sync", "asyncio", "trio"]

#: Scenario id -> what one operation is. Order is the table's order.
SCENARIOS: dict[str, str] = {
    "S1": "publish a built event to 1 sync handler on its exact type",
    "S2": "publish a built event to 10 sync handlers",
    "S3": "10,000 exact subscriptions + ns1.*.evt + ns1.**; publish ns1.x.evt (3 handlers)",
    "S3-1k": "as S3 with 1,000 exact subscriptions",
    "S3-10": "as S3 with 10 exact subscriptions",
    "S4 asyncio": "publish to 1 async handler, awaited (asyncio)",
    "S4 trio": "publish to 1 async handler, awaited (trio)",
    "S4c asyncio": "publish to 10 async handlers that each await anyio.sleep(0) (asyncio)",
    "S4c trio": "publish to 10 async handlers that each await anyio.sleep(0) (trio)",
    "S1-mw": "as S1 with one no-op handler middleware (bus.use)",
    "S7": "10 exact + ns.*.evt + **: publish built events of 100,000 types new to the cache",
    "S7-cached": "as S7, publishing one type already cached (ns.e0.evt, 3 handlers)",
    "SUB": "subscribe a handler to each of 100,000 distinct exact types (fresh bus)",
    "S5": 'publish("type", data): build the envelope (id, time, validation), 1 sync handler',
    "S6": "WebhookReceiver.handle of a signed 1 KB Payment Kit event, 1 handler",
}

#: Handler calls one operation makes, checked once before timing (floors may override).
DELIVERIES: dict[str, int] = {
    "S1": 1,
    "S2": 10,
    "S3": 3,
    "S3-1k": 3,
    "S3-10": 3,
    "S4 asyncio": 1,
    "S4 trio": 1,
    "S4c asyncio": 10,
    "S4c trio": 10,
    "S1-mw": 1,
    "S7": 2,
    "S7-cached": 3,
    "SUB": 0,
    "S5": 1,
    "S6": 1,
}

#: Distinct types per sample in S7 and SUB.
MANY_TYPES = 100_000

#: The exact types subscribed in S3: ``size`` distinct types, one of them the published one.
S3_SIZES = {"S3": 10_000, "S3-1k": 1_000, "S3-10": 10}
S3_PUBLISHED = "ns1.x.evt"


def s3_types(size: int) -> list[str]:
    """Distinct exact types for the S3 family, spread over 100 namespaces, ``ns1.x.evt`` last."""
    return [f"ns{i % 100}.t{i}.evt" for i in range(size - 1)] + [S3_PUBLISHED]


class Kit:
    """Makes the handlers a bench subscribes: no-ops when timing, counters when checking.

    The runner builds every bench twice: once with ``counting=True``, runs it a few times and
    checks each handler was called as often as the scenario says (a bench that silently lost
    its subscribers would otherwise look fast), then once for timing with plain no-ops.
    """

    def __init__(self, *, counting: bool) -> None:
        self.counting = counting
        self.calls = 0

    def handler(self, name: str = "handler") -> Callable[[Any], None]:
        """A sync handler taking the event (bubus and pypubsub want distinct names)."""
        if self.counting:

            def handler(event: Any) -> None:
                self.calls += 1

        else:

            def handler(event: Any) -> None:
                return None

        handler.__name__ = handler.__qualname__ = name
        return handler

    def async_handler(self, name: str = "handler", *, sleep: bool = False) -> Callable[[Any], Any]:
        """An ``async def`` handler; ``sleep=True`` makes it ``await anyio.sleep(0)`` (S4c)."""
        kit = self
        if sleep:

            async def handler(event: Any) -> None:
                if kit.counting:
                    kit.calls += 1
                await anyio.sleep(0)

        elif self.counting:

            async def handler(event: Any) -> None:
                kit.calls += 1

        else:

            async def handler(event: Any) -> None:
                return None

        handler.__name__ = handler.__qualname__ = name
        return handler


@dataclass
class Bench:
    """One contender set up for one scenario.

    :ivar run: ``run(n)`` performs ``n`` operations; for an async backend it returns a
        coroutine, awaited inside that backend's event loop
    :ivar backend: where ``run`` runs
    :ivar call: the call being timed, as shown in the table
    :ivar prepare: ``prepare(n)``, run untimed before each sample (fresh ids and signatures)
    :ivar deliveries: handler calls per operation when it differs from the scenario's
    :ivar keep: objects the bench must keep alive (blinker and PyPubSub hold handlers weakly)
    :ivar close: called (and awaited, for an async backend) once the bench is done
    :ivar batch: operations per sample when fixed by the scenario (else calibrated)
    """

    run: Callable[[int], Any]
    backend: Backend = "sync"
    call: str = ""
    prepare: Callable[[int], None] | None = None
    deliveries: int | None = None
    keep: Any = None
    close: Callable[[], Any] | None = None
    batch: int | None = None


Factory = Callable[[Kit], Bench]


@dataclass
class Contender:
    """One row per scenario in the table: a library (or a floor) and how it does each one.

    :ivar name: the row label
    :ivar package: the distribution whose version is reported (``None`` for floors)
    :ivar benches: scenario id -> factory
    :ivar missing: scenario id -> why this contender cannot do it (shown as ``n/a (...)``)
    :ivar floor: a floor appears only in the scenarios it has a bench for
    :ivar normal: counts as the library's normal publish call for the S1 target
    """

    name: str
    package: str | None
    benches: dict[str, Factory]
    missing: dict[str, str] = field(default_factory=dict)
    floor: bool = False
    normal: bool = True

    @property
    def version(self) -> str:
        if self.package is None:
            return ""
        try:
            return version(self.package)
        except PackageNotFoundError:
            return "not installed"

    def reason(self, scenario: str) -> str:
        """Why this contender has no bench for ``scenario``."""
        return self.missing.get(scenario, "not supported")
