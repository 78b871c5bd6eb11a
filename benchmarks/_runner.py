"""Timing: every contender of a scenario in the same process, interleaved over rounds.

Each bench is first built with counting handlers and run a few times to check that every
handler was called (then thrown away), built again with no-op handlers, and calibrated: the
batch ``n`` doubles until one sample takes at least the sample time. Then, in each round,
every scenario's contenders take one sample each, in an order rotated from round to round;
the garbage collector is off during a sample and runs between rounds. The result per row is
the median over rounds of ``ns / n``.

Sync benches run as plain calls; asyncio benches on one long-lived ``asyncio.Runner`` (bubus
and pyee keep loop-bound state); trio benches in one ``trio.run`` per sample. Time is measured
inside the loop, so starting it is not counted.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from time import perf_counter_ns
from typing import Any

import trio

from ._core import DELIVERIES, Bench, Contender, Kit

_CHECK_OPS = 3
_MAX_BATCH = 10_000_000


@dataclass
class Row:
    """One line of the table: a contender in a scenario, timed or with the reason it is not."""

    scenario: str
    contender: str
    version: str
    floor: bool
    status: str  # "ok", "n/a" or "error"
    reason: str = ""
    call: str = ""
    batch: int = 0
    samples: list[float] = field(default_factory=list)  # ns per operation, one per round
    bench: Bench | None = field(default=None, repr=False)

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None

    @property
    def spread(self) -> float | None:
        """Interquartile range relative to the median (0.05 = 5%)."""
        if len(self.samples) < 4 or not self.median:
            return None
        quartiles = statistics.quantiles(self.samples, n=4)
        return (quartiles[2] - quartiles[0]) / self.median


async def _timed(run: Callable[[int], Any], n: int) -> int:
    start = perf_counter_ns()
    await run(n)
    return perf_counter_ns() - start


class Runner:
    """Builds, checks, calibrates and times every (scenario, contender) pair.

    :param repeats: samples per turn, of which the fastest counts
    :param sample_ns: the least time one sample takes; the batch grows until it does
    :param log: progress lines (to stderr, so the table stays clean)
    """

    def __init__(
        self,
        contenders: list[Contender],
        scenarios: list[str],
        *,
        rounds: int,
        repeats: int,
        sample_ns: int,
        log: Callable[[str], None],
    ) -> None:
        self.contenders = contenders
        self.scenarios = scenarios
        self.rounds = rounds
        self.repeats = repeats
        self.sample_ns = sample_ns
        self.log = log
        self._asyncio = asyncio.Runner()

    def run(self) -> list[Row]:
        """Time everything; return the rows in table order."""
        with self._asyncio:
            rows = [row for scenario in self.scenarios for row in self._set_up(scenario)]
            timed = [row for row in rows if row.bench is not None]
            for number in range(self.rounds):
                self.log(f"round {number + 1}/{self.rounds}")
                gc.collect()
                for scenario in self.scenarios:
                    group = [row for row in timed if row.scenario == scenario]
                    shift = number % len(group) if group else 0
                    for row in group[shift:] + group[:shift]:
                        assert row.bench is not None
                        best = min(self._sample(row.bench, row.batch) for _ in range(self.repeats))
                        row.samples.append(best / row.batch)
            for row in timed:
                assert row.bench is not None
                self._close(row.bench)
                row.bench = None
        return rows

    def _set_up(self, scenario: str) -> list[Row]:
        rows = []
        for contender in self.contenders:
            factory = contender.benches.get(scenario)
            if factory is None and contender.floor:
                continue
            row = Row(scenario, contender.name, contender.version, contender.floor, "ok")
            rows.append(row)
            if factory is None:
                row.status, row.reason = "n/a", contender.reason(scenario)
                continue
            self.log(f"set-up {scenario}: {contender.name}")
            try:
                self._check(scenario, factory)
                row.bench = factory(Kit(counting=False))
                row.call = row.bench.call
                row.batch = row.bench.batch or self._calibrate(row.bench)
            except Exception as exc:
                traceback.print_exc()
                row.status, row.reason = "error", f"{type(exc).__name__}: {exc}"[:120]
                row.bench = None
        return rows

    def _check(self, scenario: str, factory: Callable[[Kit], Bench]) -> None:
        """Run a counting copy of the bench and make sure every handler was called."""
        kit = Kit(counting=True)
        bench = factory(kit)
        kit.calls = 0
        try:
            self._sample(bench, _CHECK_OPS)
        finally:
            self._close(bench)
        per_op = DELIVERIES[scenario] if bench.deliveries is None else bench.deliveries
        if kit.calls != per_op * _CHECK_OPS:
            raise RuntimeError(
                f"{_CHECK_OPS} operations made {kit.calls} handler calls, "
                f"expected {per_op * _CHECK_OPS}"
            )

    def _calibrate(self, bench: Bench) -> int:
        n = 1
        while n < _MAX_BATCH:
            elapsed = self._sample(bench, n)
            if elapsed >= self.sample_ns:
                break
            grow = int(n * self.sample_ns / max(elapsed, 1) * 1.2)
            n = min(n * 100, max(n * 2, grow))
        return n

    def _sample(self, bench: Bench, n: int) -> int:
        """Run ``n`` operations; return the elapsed nanoseconds."""
        if bench.prepare is not None:
            bench.prepare(n)
        gc.disable()
        try:
            if bench.backend == "sync":
                start = perf_counter_ns()
                bench.run(n)
                return perf_counter_ns() - start
            if bench.backend == "asyncio":
                return self._asyncio.run(_timed(bench.run, n))
            return trio.run(_timed, bench.run, n)
        finally:
            gc.enable()

    def _close(self, bench: Bench) -> None:
        if bench.close is None:
            return
        if bench.backend == "asyncio":
            self._asyncio.run(bench.close())
        elif bench.backend == "trio":
            trio.run(bench.close)
        else:
            bench.close()
