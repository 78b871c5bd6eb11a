"""``eventbus worker``: consume a Redis stream with an application's handlers, one line per
delivery, stopping gracefully on SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import functools
import importlib
import math
import os
import signal
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import anyio

from .._bus import EventBus
from ._errors import CliError, UsageError
from ._output import object_view, say

if TYPE_CHECKING:
    from ..redis import RedisStreams, StreamDelivery
    from ..redis._streams import OnDelivery

HELP = "handle the events of a Redis stream with an application's handlers"
EPILOG = """\
examples:
  eventbus worker myapp.events:streams
  eventbus worker myapp.events:bus --redis redis://127.0.0.1:6379/0 --group billing

MODULE:ATTR names a RedisStreams (its settings are used; --concurrency overrides its
concurrency) or an EventBus (then --redis is required, and --stream and --group choose the
stream and consumer group). The current directory is importable, as with uvicorn.

One line per delivery: time, outcome, event type, event id, {id amount status} of
data.object, and the failing handlers or the reason. SIGTERM or Ctrl-C stops reading and
finishes the deliveries in flight (up to --grace seconds; a second Ctrl-C stops at once),
then exits 0. Interrupted deliveries stay pending: another worker of the group takes them
over after the streams' claim_idle.
"""


def add_parser(commands: Any) -> None:
    """Add the ``worker`` command to the sub-parsers ``commands``."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "worker",
        help=HELP,
        description=HELP[0].upper() + HELP[1:] + ".",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("target", metavar="MODULE:ATTR", help="the RedisStreams or EventBus")
    parser.add_argument("--redis", metavar="URL", help="the Redis URL (with an EventBus)")
    parser.add_argument(
        "--group", metavar="NAME", help="consumer group (with an EventBus; default: default)"
    )
    parser.add_argument(
        "--stream", metavar="NAME", help="stream key (with an EventBus; default: eventbus)"
    )
    parser.add_argument(
        "--concurrency",
        type=_positive(int),
        metavar="N",
        help="deliveries handled at once (default: 16)",
    )
    parser.add_argument(
        "--grace",
        type=_positive(float),
        default=30.0,
        metavar="SECONDS",
        help="how long to let deliveries in flight finish on shutdown (default: %(default)g)",
    )
    parser.set_defaults(run=run, prog=parser.prog)


def _positive(kind: type[int] | type[float]) -> Any:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


def run(args: argparse.Namespace) -> int:
    """Consume until SIGTERM or SIGINT; return the exit status."""
    streams = _streams(args)
    counter = _Counter()
    stopped = anyio.run(_work, streams, args.grace, counter.report, backend="asyncio")
    say(f"Stopped after {counter.count} deliver{'y' if counter.count == 1 else 'ies'}{stopped}")
    return 0


def load_target(target: str) -> object:
    """Import ``MODULE:ATTR`` (the current directory importable) and return the attribute.

    :raises UsageError: it is not of that form, or does not import
    """
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise UsageError(f"expected MODULE:ATTR such as myapp.events:streams, got {target!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"cannot import {module_name!r}: {exc}") from None
    try:
        return functools.reduce(getattr, attr.split("."), module)
    except AttributeError:
        raise UsageError(f"module {module_name!r} has no attribute {attr!r}") from None


def _streams(args: argparse.Namespace) -> RedisStreams:
    try:
        from ..redis import RedisStreams
    except ImportError:
        raise CliError("'eventbus worker' needs redis: pip install 'eventbus[redis]'") from None

    target = load_target(args.target)
    if isinstance(target, RedisStreams):
        given = [f"--{name}" for name in ("redis", "group", "stream") if getattr(args, name)]
        if given:
            raise UsageError(
                f"{args.target} is a RedisStreams, which sets its own Redis, stream and "
                f"group; drop {', '.join(given)} (or point at the EventBus instead)"
            )
        if args.concurrency:
            target.concurrency = args.concurrency
        return target
    if not isinstance(target, EventBus):
        raise UsageError(
            f"{args.target} is a {type(target).__name__}; expected a RedisStreams or an EventBus"
        )
    if not args.redis:
        raise UsageError(f"{args.target} is an EventBus: say where Redis is with --redis URL")
    options = {"stream": args.stream, "group": args.group, "concurrency": args.concurrency}
    return RedisStreams(target, args.redis, **{k: v for k, v in options.items() if v})


async def _work(streams: RedisStreams, grace: float, report: OnDelivery) -> str:
    """Consume until a signal, then let deliveries in flight finish for up to ``grace``
    seconds; return what the final line adds about the shutdown."""
    import redis

    scope = anyio.CancelScope()
    failure: redis.RedisError | None = None
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with anyio.create_task_group() as group:
            group.start_soon(_on_signals, signals, streams, scope, grace)
            with scope:
                try:
                    await streams.consume(on_delivery=report, task_status=_Started(streams))
                except redis.RedisError as exc:  # before reading: Redis unreachable
                    failure = exc
            group.cancel_scope.cancel()
    if failure is not None:
        raise CliError(f"cannot consume stream {streams.stream!r}: {failure}")
    return " (deliveries still in flight were interrupted)" if scope.cancel_called else ""


async def _on_signals(
    signals: AsyncIterator[int], streams: RedisStreams, scope: anyio.CancelScope, grace: float
) -> None:
    """The first signal stops reading and starts the grace period; a second one ends it."""
    async for _ in signals:
        if scope.deadline != math.inf:
            scope.cancel()
            return
        say(f"Stopping: finishing the deliveries in flight (up to {grace:g}s)")
        streams.stop()
        scope.deadline = anyio.current_time() + grace


class _Started:
    """The consumer's task status: once it reads, say so."""

    def __init__(self, streams: RedisStreams) -> None:
        self.streams = streams

    def started(self, value: object = None) -> None:
        streams = self.streams
        group = "broadcast" if streams.group is None else f"in group {streams.group!r}"
        say(
            f"Consuming stream {streams.stream!r} as {streams.consumer!r} {group} "
            f"(concurrency {streams.concurrency}); Ctrl-C to stop"
        )


class _Counter:
    """Prints each delivery's line and counts them."""

    def __init__(self) -> None:
        self.count = 0

    def report(self, delivery: StreamDelivery) -> None:
        self.count += 1
        say(delivery_line(datetime.now(), delivery))


def delivery_line(when: datetime, delivery: StreamDelivery) -> str:
    """``time outcome type id {object}``, then the failing handlers or the reason."""
    event = delivery.event
    fields = [
        when.strftime("%H:%M:%S"),
        f"{delivery.outcome:<11}",
        f"{event.type if event else '-':<30}",
        event.id if event else f"entry {delivery.entry_id}",
    ]
    view = object_view(event.model_dump(mode="json")) if event else ""
    if view:
        fields.append(view)
    failed = delivery.delivery.failed if delivery.delivery else ()
    if failed:
        fields.append(f"failed: {', '.join(failed)}")
    if delivery.error:
        fields.append(f"reason: {delivery.error}")
    return " ".join(fields)
