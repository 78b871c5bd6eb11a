"""The trace context a transport writes into an event leaving the process.

One function for every transport (the Redis Streams producer, the webhook sender), usable
without OpenTelemetry: :mod:`eventbus.otel` is imported only when the API is installed.
"""

from __future__ import annotations

from typing import Any

from ._envelope import Event


def outgoing_traceparent(event: Event[Any]) -> str | None:
    """The W3C ``traceparent`` to send ``event`` with: the current span's
    (:func:`eventbus.otel.current_traceparent`) when OpenTelemetry's API is installed and a
    span is current, else the event's own ``traceparent`` field (one that came from another
    process keeps its trace across a further hop), else ``None``."""
    try:
        from .otel import current_traceparent
    except ImportError:  # no eventbus[otel]: tracing is off
        current = None
    else:
        current = current_traceparent()
    if current is not None:
        return current
    own = (event.model_extra or {}).get("traceparent")
    return own if isinstance(own, str) and own else None
