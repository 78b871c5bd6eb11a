"""``python -m benchmarks``: time eventbus against its peers and floors; print and save.

Options: ``--quick`` (a few rounds of short samples, about a minute), ``--rounds N``,
``--json PATH`` (default ``benchmarks/results/latest.json``), ``--only S1,S3`` to time some
scenarios, and ``--memory`` for the separate memory check (1,000,000 publishes; nothing is
timed).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import _memory, _report
from ._core import SCENARIOS
from ._runner import Runner
from .libs import CONTENDERS

DEFAULT_JSON = Path(__file__).parent / "results" / "latest.json"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and repeats")
    parser.add_argument("--rounds", type=int, help="rounds (default 20, or 5 with --quick)")
    parser.add_argument(
        "--repeats", type=int, help="samples per turn, best kept (default 5, or 3 with --quick)"
    )
    parser.add_argument("--sample-ms", type=float, default=2.0, help="least time per sample")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write JSON")
    parser.add_argument("--only", help="comma-separated scenario ids, e.g. S1,S2,S5")
    parser.add_argument(
        "--memory", action="store_true", help="run the memory check (1,000,000 publishes) only"
    )
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = 5 if args.quick else 20
    if args.repeats is None:
        args.repeats = 3 if args.quick else 5
    if args.only:
        args.only = [name.strip() for name in args.only.split(",")]
        unknown = [name for name in args.only if name not in SCENARIOS]
        if unknown:
            parser.error(f"unknown scenario(s) {unknown}; choose from {list(SCENARIOS)}")
    return args


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    info = _report.machine()
    print(_report.header(info))
    if args.memory:
        return _memory.main()
    started = time.perf_counter()
    scenarios = args.only or list(SCENARIOS)
    runner = Runner(
        CONTENDERS,
        scenarios,
        rounds=args.rounds,
        repeats=args.repeats,
        sample_ns=int(args.sample_ms * 1e6),
        log=_log,
    )
    rows = runner.run()
    verdicts = _report.evaluate(rows, CONTENDERS)
    print(
        f"Per event: median over {args.rounds} rounds of the best of {args.repeats} samples "
        f"of at least {args.sample_ms:g} ms each.\n"
    )
    print("\n".join(f"  {key}: {SCENARIOS[key]}" for key in scenarios))
    print()
    print(_report.table(rows))
    print("\nTargets (issue 10):")
    print(_report.targets_text(verdicts))
    options = {
        "command": _report.command_line(),
        "rounds": args.rounds,
        "repeats": args.repeats,
        "sample_ms": args.sample_ms,
    }
    _report.write_json(args.json, info, options, rows, verdicts)
    print(f"\nWrote {args.json} in {time.perf_counter() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
