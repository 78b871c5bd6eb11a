"""PyPubSub: ``pub.sendMessage(topic, event=...)`` on the process-wide publisher.

Its listeners are held weakly, so each bench keeps its handlers alive itself. Topics are
hierarchical (a listener on ``a`` hears ``a.b``) but there are no wildcard patterns, and no async.
"""

from __future__ import annotations

import itertools
from typing import Any

from pubsub import pub

from .._core import Bench, Contender, Kit

_topics = itertools.count(1)


def _sync(count: int) -> Any:
    def factory(kit: Kit) -> Bench:
        topic = f"bench_{next(_topics)}"
        handlers = [kit.handler(f"h{i}") for i in range(count)]
        for handler in handlers:
            pub.subscribe(handler, topic)
        event = object()
        send = pub.sendMessage

        def run(n: int) -> None:
            for _ in range(n):
                send(topic, event=event)

        return Bench(run, call="pub.sendMessage(topic, event=event)", keep=handlers)

    return factory


_NO_ASYNC = "no async"
CONTENDERS = [
    Contender(
        "pypubsub",
        "Pypubsub",
        {"S1": _sync(1), "S2": _sync(10)},
        {
            "S3": "no wildcards",
            "S3-1k": "no wildcards",
            "S3-10": "no wildcards",
            "S4 asyncio": _NO_ASYNC,
            "S4 trio": _NO_ASYNC,
            "S4c asyncio": _NO_ASYNC,
            "S4c trio": _NO_ASYNC,
            "S5": "no envelope",
            "S6": "no webhook ingest",
        },
    )
]
