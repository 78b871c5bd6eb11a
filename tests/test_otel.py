"""eventbus.otel.instrument, checked with the OpenTelemetry SDK's in-memory exporter."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from eventbus import Event, EventBus
from eventbus.otel import current_traceparent, instrument


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


@pytest.fixture
def traced(bus: EventBus, provider: TracerProvider) -> Iterator[EventBus]:
    uninstrument = instrument(bus, tracer_provider=provider)
    yield bus
    uninstrument()


def by_name(exporter: InMemorySpanExporter) -> dict[str, list[ReadableSpan]]:
    spans: dict[str, list[ReadableSpan]] = {}
    for span in exporter.get_finished_spans():
        spans.setdefault(span.name, []).append(span)
    return spans


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def span_id(span: ReadableSpan) -> int:
    context = span.get_span_context()
    assert context is not None
    return context.span_id


@pytest.mark.anyio
async def test_a_publish_and_its_handlers_make_a_trace(
    traced: EventBus, exporter: InMemorySpanExporter
) -> None:
    async def async_handler(event: Event[Any]) -> None:
        await anyio.sleep(0)

    traced.subscribe("order.created", lambda event: None, name="sync_handler")
    traced.subscribe("order.created", async_handler, name="async_handler")
    result = await traced.publish_async("order.created")
    spans = by_name(exporter)
    [publish] = spans["publish order.created"]
    process = spans["process order.created"]
    assert publish.kind is trace.SpanKind.PRODUCER
    assert publish.parent is None
    assert dict(publish.attributes or {}) == {
        "messaging.system": "eventbus",
        "messaging.operation.type": "send",
        "messaging.destination.name": "order.created",
        "messaging.message.id": result.event.id,
    }
    assert sorted(
        (s.attributes or {})["messaging.destination.subscription.name"] for s in process
    ) == ["async_handler", "sync_handler"]
    for span in process:
        assert span.kind is trace.SpanKind.CONSUMER
        assert parent_of(span) == span_id(publish)
        assert span.context.trace_id == publish.context.trace_id  # type: ignore[union-attr]
        assert (span.attributes or {})["messaging.operation.type"] == "process"
        assert (span.attributes or {})["messaging.message.id"] == result.event.id
        assert span.status.status_code is trace.StatusCode.UNSET


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_failing_handler_marks_its_span(
    traced: EventBus, exporter: InMemorySpanExporter, kind: str
) -> None:
    def fail(event: Event[Any]) -> None:
        raise LookupError("no such order")

    async def fail_async(event: Event[Any]) -> None:
        fail(event)

    traced.subscribe("order.created", fail if kind == "sync" else fail_async, name="failing")
    traced.subscribe("order.created", lambda event: None, name="fine")
    result = await traced.publish_async("order.created")
    assert [f.name for f in result.errors] == ["failing"]
    spans = {
        (s.attributes or {})["messaging.destination.subscription.name"]: s
        for s in by_name(exporter)["process order.created"]
    }
    failing = spans["failing"]
    assert (failing.attributes or {})["error.type"] == "LookupError"
    assert failing.status.status_code is trace.StatusCode.ERROR
    assert "no such order" in (failing.status.description or "")
    assert [e.name for e in failing.events] == ["exception"]
    assert "error.type" not in (spans["fine"].attributes or {})


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_handler_that_publishes_nests_its_publish_span(
    traced: EventBus, exporter: InMemorySpanExporter, kind: str
) -> None:
    def forward(event: Event[Any]) -> None:
        traced.publish("order.shipped")

    async def forward_async(event: Event[Any]) -> None:
        await traced.publish_async("order.shipped")

    traced.subscribe("order.created", forward if kind == "sync" else forward_async)
    traced.subscribe("order.shipped", lambda event: None)
    await traced.publish_async("order.created")
    spans = by_name(exporter)
    [outer] = spans["publish order.created"]
    [handling] = spans["process order.created"]
    [inner] = spans["publish order.shipped"]
    [inner_handling] = spans["process order.shipped"]
    assert parent_of(handling) == span_id(outer)
    assert parent_of(inner) == span_id(handling)
    assert parent_of(inner_handling) == span_id(inner)


def test_a_sync_publish_with_async_handlers_on_the_bus_loop(
    bus: EventBus, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    async def handler(event: Event[Any]) -> None:
        await anyio.sleep(0)

    with bus:
        instrument(bus, tracer_provider=provider)
        bus.subscribe("a.b", handler)
        bus.subscribe("a.b", lambda event: None)
        bus.publish("a.b")
    spans = by_name(exporter)
    [publish] = spans["publish a.b"]
    assert [parent_of(s) for s in spans["process a.b"]] == [span_id(publish)] * 2


def test_a_traceparent_field_continues_the_remote_trace(
    traced: EventBus, exporter: InMemorySpanExporter
) -> None:
    remote = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    traced.subscribe("a.b", lambda event: None)
    traced.publish(Event(type="a.b", traceparent=remote))  # type: ignore[call-arg]
    spans = by_name(exporter)
    [publish] = spans["publish a.b"]
    assert publish.context.trace_id == 0x0AF7651916CD43DD8448EB211C80319C  # type: ignore[union-attr]
    assert parent_of(publish) == 0xB7AD6B7169203331
    assert publish.parent is not None
    assert publish.parent.is_remote
    [process] = spans["process a.b"]
    assert parent_of(process) == span_id(publish)


def test_a_malformed_traceparent_is_ignored(
    traced: EventBus, exporter: InMemorySpanExporter
) -> None:
    traced.publish(Event(type="a.b", traceparent="not-a-traceparent"))  # type: ignore[call-arg]
    traced.publish(Event(type="a.b", traceparent=42))  # type: ignore[call-arg]
    assert [s.parent for s in exporter.get_finished_spans()] == [None, None]


def test_current_traceparent_is_what_a_transport_writes(
    traced: EventBus, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    assert current_traceparent() is None
    carried: list[str | None] = []
    traced.subscribe("a.b", lambda event: carried.append(current_traceparent()))
    traced.publish("a.b")
    [process] = by_name(exporter)["process a.b"]
    context = process.get_span_context()
    assert context is not None
    flags = f"{context.trace_flags:02x}"
    assert carried == [f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags}"]
    # ... and an event carrying it, published in another process, continues this trace.
    other = EventBus()
    instrument(other, tracer_provider=provider)
    other.publish(Event(type="c.d", traceparent=carried[0]))  # type: ignore[call-arg]
    [hop] = by_name(exporter)["publish c.d"]
    assert parent_of(hop) == context.span_id


def test_uninstrument_stops_tracing(
    bus: EventBus, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    bus.subscribe("a.b", lambda event: None)
    uninstrument = instrument(bus, tracer_provider=provider)
    bus.publish("a.b")
    uninstrument()
    bus.publish("a.b")
    assert sorted(s.name for s in exporter.get_finished_spans()) == ["process a.b", "publish a.b"]


def test_without_opentelemetry_the_error_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['opentelemetry'] = None\n"
        "try:\n"
        "    import eventbus.otel\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "pip install 'eventbus[otel]'" in done.stdout


def test_transports_send_the_events_own_traceparent_without_opentelemetry() -> None:
    """Without OpenTelemetry, the trace context a transport sends (the streams' entry, the
    sender's header) is the event's own traceparent: eventbus.otel is never required."""
    code = (
        "import sys\n"
        "sys.modules['opentelemetry'] = None\n"
        "from eventbus import Event\n"
        "from eventbus._tracing import outgoing_traceparent\n"
        "from eventbus.webhooks._attempt import trace_headers\n"
        "own = Event(type='a.b', traceparent='00-' + '1' * 32 + '-' + '2' * 16 + '-01')\n"
        "print(outgoing_traceparent(own) == own.traceparent, trace_headers(Event(type='a.b')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["True", "{}"]


def test_outgoing_traceparent_prefers_the_current_span(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """With a span current, a transport sends its traceparent, not the event's own."""
    from eventbus._tracing import outgoing_traceparent

    own = Event(type="a.b", traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01")
    with provider.get_tracer("test").start_as_current_span("outgoing") as span:
        sent = outgoing_traceparent(own)
    context = span.get_span_context()
    assert sent is not None
    assert sent.split("-")[1:3] == [f"{context.trace_id:032x}", f"{context.span_id:016x}"]
    assert outgoing_traceparent(own) == own.model_extra["traceparent"]


@pytest.mark.anyio
@pytest.mark.parametrize("handlers", [1, 2])
async def test_a_cancelled_publish_leaves_its_handlers_spans_unset(
    traced: EventBus, exporter: InMemorySpanExporter, handlers: int
) -> None:
    """The backend cancelling the publisher (asyncio or trio) is no handler's error; one
    handler is awaited in the publisher's task, two run concurrently."""
    started = anyio.Event()
    running: list[str] = []

    async def waits(event: Event[Any]) -> None:
        running.append(event.type)
        if len(running) == handlers:
            started.set()
        await anyio.sleep_forever()

    for i in range(handlers):
        traced.subscribe("order.created", waits, name=f"waits{i}")
    async with anyio.create_task_group() as group:
        group.start_soon(traced.publish_async, "order.created")
        await started.wait()
        group.cancel_scope.cancel()
    spans = by_name(exporter)["process order.created"]
    assert len(spans) == handlers
    for span in spans:
        assert span.status.status_code is trace.StatusCode.UNSET
        assert "error.type" not in (span.attributes or {})
        assert span.events == ()


@pytest.mark.anyio
async def test_a_handler_raising_cancelled_error_on_its_own_marks_its_span(
    traced: EventBus, exporter: InMemorySpanExporter
) -> None:
    async def stray(event: Event[Any]) -> None:
        raise asyncio.CancelledError

    traced.subscribe("order.created", stray, name="stray")
    result = await traced.publish_async("order.created")
    assert [f.name for f in result.errors] == ["stray"]
    (span,) = by_name(exporter)["process order.created"]
    assert (span.attributes or {})["error.type"] == "CancelledError"
    assert span.status.status_code is trace.StatusCode.ERROR


def test_instrumenting_a_bus_twice_is_refused_until_uninstrumented(
    bus: EventBus, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    uninstrument = instrument(bus, tracer_provider=provider)
    with pytest.raises(RuntimeError, match="instrumented already"):
        instrument(bus, tracer_provider=provider)
    bus.subscribe("a.b", lambda event: None)
    bus.publish("a.b")
    assert [span.name for span in exporter.get_finished_spans()] == [
        "process a.b",
        "publish a.b",
    ]
    uninstrument()
    instrument(bus, tracer_provider=provider)()
