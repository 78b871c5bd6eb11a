"""The table, the targets of issue 10 with MET/MISSED, the machine, and the JSON result."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from ._core import SCENARIOS, Contender
from ._runner import Row

_PACKAGES = ("eventbus", "blinker", "pyee", "psygnal", "pymitter", "Pypubsub", "bubus")
_RUNTIME = ("anyio", "trio", "pydantic", "pydantic-core")


def machine() -> dict[str, Any]:
    """Python, platform, CPU and the versions of every library in the run."""
    versions = {}
    for name in (*_PACKAGES, *_RUNTIME):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    try:
        import psygnal

        versions["psygnal"] += " (compiled)" if psygnal._compiled else " (pure Python)"
    except ImportError:
        pass
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "versions": versions,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ns(value: float) -> str:
    if value >= 100_000:
        return f"{value / 1000:,.0f} us"
    if value >= 10_000:
        return f"{value / 1000:,.1f} us"
    return f"{value:,.0f} ns"


def ratios(rows: list[Row]) -> dict[tuple[str, str], str]:
    """Per row: peer/eventbus for libraries, eventbus/floor for floors."""
    out: dict[tuple[str, str], str] = {}
    base = {row.scenario: row.median for row in rows if row.contender == "eventbus"}
    for row in rows:
        ours, theirs = base.get(row.scenario), row.median
        if not ours or not theirs:
            continue
        if row.floor:
            out[row.scenario, row.contender] = f"eventbus = {ours / theirs:.2f}x floor"
        elif row.contender != "eventbus":
            out[row.scenario, row.contender] = f"{theirs / ours:.2f}x eventbus"
    return out


def table(rows: list[Row]) -> str:
    """The result table as Markdown, one block of rows per scenario."""
    relative = ratios(rows)
    lines = [
        "| scenario | library | median per event | IQR | ratio | call timed |",
        "| --- | --- | ---: | ---: | --- | --- |",
    ]
    for row in rows:
        name = row.contender if not row.version else f"{row.contender} {row.version}"
        if row.status != "ok":
            cell = f"{row.status} ({row.reason})" if row.reason else row.status
            lines.append(f"| {row.scenario} | {name} | {cell} | | | |")
            continue
        median, spread = row.median, row.spread
        assert median is not None
        iqr = "" if spread is None else f"{spread:.0%}"
        ratio = relative.get((row.scenario, row.contender), "1.00" if not row.floor else "")
        lines.append(
            f"| {row.scenario} | {name} | {_ns(median)} | {iqr} | {ratio} | `{row.call}` |"
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class Target:
    """A ratio issue 10 sets: ``numerator / denominator`` compared with ``limit``; a ratio
    without a limit is only reported (``INFO``)."""

    name: str
    numerator: tuple[str, str]
    denominator: tuple[str, str]
    limit: float | None
    at_least: bool  # True: the ratio must exceed the limit; False: stay within it

    @property
    def rule(self) -> str:
        num, den = (f"{c} {s}" for s, c in (self.numerator, self.denominator))
        if self.limit is None:
            return f"{num} / {den}, reported"
        return f"{num} / {den} {'>' if self.at_least else '<='} {self.limit:g}"


def targets(contenders: Iterable[Contender]) -> list[Target]:
    """Every target of issue 10, the S1 one once per peer's normal publish call."""
    out = [
        Target(f"S1 faster than {c.name}", ("S1", c.name), ("S1", "eventbus"), 1.0, True)
        for c in contenders
        if c.normal and c.name != "eventbus" and "S1" in c.benches
    ]
    out += [
        Target(
            "S1 within 2.2x psygnal emit_fast",
            ("S1", "eventbus"),
            ("S1", "psygnal emit_fast"),
            2.2,
            False,
        ),
        Target(
            "S2 within 1.6x loop over 10 functions", ("S2", "eventbus"), ("S2", "floor"), 1.6, False
        ),
        Target(
            "S1 cost of one no-op middleware",
            ("S1-mw", "eventbus"),
            ("S1", "eventbus"),
            None,
            False,
        ),
        Target(
            "S3 10,000 subs within 1.2x of 10",
            ("S3", "eventbus"),
            ("S3-10", "eventbus"),
            1.2,
            False,
        ),
        Target(
            "S3 50x faster than pymitter (1,000 subs)",
            ("S3-1k", "pymitter"),
            ("S3", "eventbus"),
            50.0,
            True,
        ),
    ]
    for backend in ("asyncio", "trio"):
        out += [
            Target(
                f"S4 {backend} within 6x await f(x)",
                (f"S4 {backend}", "eventbus"),
                (f"S4 {backend}", "floor"),
                6.0,
                False,
            ),
            Target(
                f"S4c {backend} within 1.3x the native floor",
                (f"S4c {backend}", "eventbus"),
                (f"S4c {backend}", "native floor"),
                1.3,
                False,
            ),
            Target(
                f"S4c {backend} vs an anyio task group",
                (f"S4c {backend}", "eventbus"),
                (f"S4c {backend}", "floor"),
                None,
                False,
            ),
        ]
    out += [
        Target(
            "S7 a new type within 2x a cached one",
            ("S7", "eventbus"),
            ("S7-cached", "eventbus"),
            2.0,
            False,
        ),
        Target("subscribe within 3x pyee's on", ("SUB", "eventbus"), ("SUB", "pyee"), 3.0, False),
        Target("S5 within 2x pydantic envelope", ("S5", "eventbus"), ("S5", "floor"), 2.0, False),
        Target("S6 within 2.5x hmac + json.loads", ("S6", "eventbus"), ("S6", "floor"), 2.5, False),
    ]
    return out


def evaluate(rows: list[Row], contenders: Iterable[Contender]) -> list[dict[str, Any]]:
    """Each target's measured ratio and verdict (MET, MISSED, or why it was not measured)."""
    by_key = {(row.scenario, row.contender): row for row in rows}
    results = []
    for target in targets(contenders):
        num, den = by_key.get(target.numerator), by_key.get(target.denominator)
        entry: dict[str, Any] = {"target": target.name, "rule": target.rule, "ratio": None}
        missing = [row for row in (num, den) if row is None or row.median is None]
        if missing or num is None or den is None:
            reasons = {f"{r.status} ({r.reason})" for r in missing if r is not None}
            entry["verdict"] = "not measured: " + ("; ".join(sorted(reasons)) or "not run")
        else:
            ratio = num.median / den.median  # type: ignore[operator]
            if target.limit is None:
                verdict = "INFO"
            elif ratio > target.limit if target.at_least else ratio <= target.limit:
                verdict = "MET"
            else:
                verdict = "MISSED"
            entry.update(ratio=round(ratio, 3), verdict=verdict)
        results.append(entry)
    return results


def targets_text(results: list[dict[str, Any]]) -> str:
    lines = []
    for entry in results:
        ratio = "" if entry["ratio"] is None else f"{entry['ratio']:.2f}"
        lines.append(f"  {entry['verdict']:<7} {ratio:>7}  {entry['target']}  [{entry['rule']}]")
    return "\n".join(lines)


def header(info: dict[str, Any]) -> str:
    versions = ", ".join(f"{name} {v}" for name, v in info["versions"].items())
    return (
        f"{info['python']} on {info['platform']}\n"
        f"CPU: {info['processor']} ({info['cpu_count']} logical CPUs)\n"
        f"Versions: {versions}"
    )


def write_json(
    path: Path, info: dict[str, Any], options: dict[str, Any], rows: list[Row], verdicts: Any
) -> None:
    """Write the machine-readable result: machine, options, every row's samples, targets."""
    result = {
        "machine": info,
        "options": options,
        "scenarios": {key: SCENARIOS[key] for key in dict.fromkeys(r.scenario for r in rows)},
        "results": [
            {
                "scenario": row.scenario,
                "contender": row.contender,
                "version": row.version,
                "floor": row.floor,
                "status": row.status,
                "reason": row.reason,
                "call": row.call,
                "batch": row.batch,
                "median_ns": row.median,
                "iqr_ratio": row.spread,
                "samples_ns": row.samples,
            }
            for row in rows
        ],
        "targets": verdicts,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")


def command_line() -> str:
    return " ".join(["python -m benchmarks", *sys.argv[1:]])
