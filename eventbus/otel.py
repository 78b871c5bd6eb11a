"""OpenTelemetry tracing for a bus: a span per publish and one per handler call.

Needs the ``otel`` extra (``pip install 'eventbus[otel]'``, which brings ``opentelemetry-api``);
you bring the SDK and exporter of your choice::

    from eventbus.otel import instrument

    uninstrument = instrument(bus)  # the global tracer provider, or tracer_provider=...

Spans follow OpenTelemetry's messaging conventions: ``publish {type}`` (kind ``PRODUCER``,
``messaging.operation.type = "send"``) around each publish, and ``process {type}`` (kind
``CONSUMER``, ``"process"``) around each handler call, a child of its publish span, with the
subscription's name in ``messaging.destination.subscription.name``. A handler that raised
gets ``error.type`` and an ``ERROR`` status; a handler cut short because its publish was
cancelled (the backend's cancellation, not a ``CancelledError`` it raised on its own) leaves
its span's status unset. An event carrying a W3C ``traceparent`` extra
field (one that came from another process) has its publish span made a child of that remote
context, so a trace survives the hop; :func:`current_traceparent` gives the value a
transport carrying events out should write.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

try:
    from opentelemetry import trace
    from opentelemetry.context import Context
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
except ImportError as exc:  # pragma: no cover - the message is tested in a subprocess
    raise ImportError(
        "eventbus.otel needs OpenTelemetry's API: install the extra with "
        "pip install 'eventbus[otel]' (it brings opentelemetry-api)"
    ) from exc

from ._bus import EventBus
from ._dispatch import is_cancellation
from ._envelope import Event
from ._middleware import HandlerCall, PublishCall

__all__ = ["current_traceparent", "instrument"]

_propagator = TraceContextTextMapPropagator()
_TRACEPARENT = "traceparent"
_instrumented: weakref.WeakSet[EventBus] = weakref.WeakSet()


def instrument(
    bus: EventBus, *, tracer_provider: trace.TracerProvider | None = None
) -> Callable[[], None]:
    """Trace every publish and handler call of ``bus`` from now on.

    A bus is instrumented once: a second call would trace every publish and handler call
    twice, so it is refused until the function the first call returned has been called.

    :param tracer_provider: where spans go; default: the global tracer provider
    :return: a function that uninstruments the bus
    :raises RuntimeError: ``bus`` is instrumented already
    """
    if bus in _instrumented:
        raise RuntimeError(
            f"{bus!r} is instrumented already: call the function the first instrument() "
            "returned to uninstrument it before instrumenting it again"
        )
    tracer = trace.get_tracer("eventbus", tracer_provider=tracer_provider)

    @contextmanager
    def publish_span(call: PublishCall) -> Iterator[None]:
        event = call.event
        with tracer.start_as_current_span(
            f"publish {event.type}",
            context=_remote_parent(event),
            kind=trace.SpanKind.PRODUCER,
            attributes=_attributes(event, "send"),
        ):
            yield

    @contextmanager
    def process_span(call: HandlerCall) -> Iterator[None]:
        event = call.event
        attributes = _attributes(event, "process")
        attributes["messaging.destination.subscription.name"] = call.subscription.name
        with tracer.start_as_current_span(
            f"process {event.type}",
            kind=trace.SpanKind.CONSUMER,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield
            except BaseException as exc:
                if not is_cancellation(exc):  # a cancelled publish is no handler's error
                    span.record_exception(exc)
                    span.set_attribute("error.type", type(exc).__qualname__)
                    span.set_status(trace.StatusCode.ERROR, f"{type(exc).__name__}: {exc}")
                raise

    stop_publish = bus.use(publish_span, on="publish")
    stop_handler = bus.use(process_span, on="handler")
    _instrumented.add(bus)

    def uninstrument() -> None:
        stop_handler()
        stop_publish()
        _instrumented.discard(bus)

    return uninstrument


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span, to write into an event leaving the
    process (``None`` when no span is recording)."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get(_TRACEPARENT)


def _remote_parent(event: Event[Any]) -> Context | None:
    """The context an event's ``traceparent`` names, or ``None`` (the current one) when it
    has none or it is malformed."""
    value = (event.model_extra or {}).get(_TRACEPARENT)
    if not isinstance(value, str):
        return None
    context = _propagator.extract({_TRACEPARENT: value})
    if not trace.get_current_span(context).get_span_context().is_valid:
        return None
    return context


def _attributes(event: Event[Any], operation: str) -> dict[str, Any]:
    return {
        "messaging.system": "eventbus",
        "messaging.operation.type": operation,
        "messaging.destination.name": event.type,
        "messaging.message.id": event.id,
    }
