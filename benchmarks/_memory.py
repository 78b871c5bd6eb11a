"""The memory check: 1,000,000 publishes to a handler that keeps nothing leave memory flat.

Two passes of ``publish("type", data)`` (the envelope is built each time, so every object a
publish makes is new): one under plain conditions, reading the resident set size before and
after, and one under ``tracemalloc``, reading the traced Python heap before and after. A
warm-up publish first fills the route cache and any lazy import.
"""

from __future__ import annotations

import gc
import resource
import time
import tracemalloc
from pathlib import Path

from eventbus import EventBus

EVENTS = 1_000_000
#: Growth allowed before the check calls memory not flat (allocator noise, not events).
RSS_SLACK = 2 * 1024 * 1024
TRACED_SLACK = 64 * 1024


def rss() -> int:
    """Current resident set size in bytes (Linux), else the peak from ``getrusage``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _publish_many(bus: EventBus, count: int) -> float:
    publish = bus.publish
    data = {"order_id": "ord_1", "amount": 2000}
    start = time.perf_counter()
    for _ in range(count):
        publish("order.created", data)
    return time.perf_counter() - start


def _mib(value: int) -> str:
    return f"{value / 2**20:+.2f} MiB"


def main() -> int:
    bus = EventBus()
    bus.subscribe("order.created", lambda event: None)
    _publish_many(bus, 10_000)
    gc.collect()

    before = rss()
    seconds = _publish_many(bus, EVENTS)
    gc.collect()
    after = rss()
    print(
        f"\nRSS: {before / 2**20:.2f} MiB before, {after / 2**20:.2f} MiB after "
        f"{EVENTS:,} publishes ({_mib(after - before)}; {seconds:.1f} s)"
    )

    tracemalloc.start()
    _publish_many(bus, 10_000)
    gc.collect()
    traced_before, _ = tracemalloc.get_traced_memory()
    snapshot = tracemalloc.take_snapshot()
    seconds = _publish_many(bus, EVENTS)
    gc.collect()
    traced_after, peak = tracemalloc.get_traced_memory()
    growth = tracemalloc.take_snapshot().compare_to(snapshot, "lineno")[:3]
    tracemalloc.stop()
    print(
        f"tracemalloc: {traced_before / 1024:.1f} KiB before, {traced_after / 1024:.1f} KiB "
        f"after {EVENTS:,} publishes ({(traced_after - traced_before) / 1024:+.1f} KiB; "
        f"peak {peak / 1024:.1f} KiB; {seconds:.1f} s)"
    )
    flat = after - before <= RSS_SLACK and traced_after - traced_before <= TRACED_SLACK
    if not flat:
        print("Largest growth:", *(f"  {stat}" for stat in growth), sep="\n")
    print("Memory flat: " + ("yes" if flat else "NO"))
    return 0 if flat else 1
