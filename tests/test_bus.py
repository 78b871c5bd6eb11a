"""EventBus from sync code: subscribing, ordering, failures, results, references, names."""

from __future__ import annotations

import gc
import logging
import re
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from eventbus import (
    DuplicateHandlerNameError,
    Event,
    EventBus,
    EventBusError,
    HandlerFailure,
    InvalidEventTypeError,
    PublishError,
    PublishResult,
    Subscription,
)


class Recorder:
    """Handlers that append ``(label, event type)`` to one shared list."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def handler(self, label: str) -> Callable[[Event], None]:
        def handle(event: Event) -> None:
            self.calls.append((label, event.type))

        return handle

    @property
    def labels(self) -> list[str]:
        return [label for label, _ in self.calls]


# -- subscribing ---------------------------------------------------------------------------


def test_exact_subscription_receives_only_its_type(bus: EventBus) -> None:
    """A subscription to an exact type receives that type and nothing else."""
    rec = Recorder()
    bus.subscribe("invoice.paid", rec.handler("paid"))
    bus.publish("invoice.paid")
    bus.publish("invoice.voided")
    bus.publish("invoice.paid.late")
    assert rec.calls == [("paid", "invoice.paid")]


def test_wildcard_subscription_receives_matching_types(bus: EventBus) -> None:
    """A wildcard subscription receives every type its pattern matches."""
    rec = Recorder()
    bus.subscribe("customer.subscription.*", rec.handler("sub"))
    for event_type in ("customer.subscription.created", "customer.updated", "invoice.paid"):
        bus.publish(event_type)
    assert rec.calls == [("sub", "customer.subscription.created")]


def test_subscribe_without_pattern_receives_everything(bus: EventBus) -> None:
    """subscribe(handler) with no pattern receives every event."""
    rec = Recorder()
    sub = bus.subscribe(rec.handler("all"))
    for event_type in ("a", "invoice.paid", "customer.subscription.trial_will_end"):
        bus.publish(event_type)
    assert rec.labels == ["all"] * 3
    assert isinstance(sub, Subscription)


def test_handler_receives_the_event(bus: EventBus) -> None:
    """A handler is called with the Event as its one argument."""
    received: list[Any] = []
    bus.subscribe("invoice.paid", lambda *args, **kwargs: received.append((args, kwargs)))
    result = bus.publish("invoice.paid")
    assert received == [((result.event,), {})]


def test_on_decorator_returns_function_unchanged(bus: EventBus) -> None:
    """@bus.on(pattern) subscribes the function and returns the very same function."""
    calls: list[str] = []

    def handler(event: Event) -> None:
        calls.append(event.type)

    decorated = bus.on("invoice.paid")(handler)
    assert decorated is handler
    bus.publish("invoice.paid")
    bus.publish("invoice.voided")
    assert calls == ["invoice.paid"]


@pytest.mark.parametrize(
    "form",
    [
        pytest.param("bare", id="bare-decorator"),
        pytest.param("called", id="called-without-arguments"),
    ],
)
def test_on_without_pattern_receives_everything(bus: EventBus, form: str) -> None:
    """@bus.on and @bus.on() subscribe the function to every event and return it unchanged."""
    calls: list[str] = []

    def handler(event: Event) -> None:
        calls.append(event.type)

    decorated = bus.on(handler) if form == "bare" else bus.on()(handler)
    assert decorated is handler
    bus.publish("a")
    bus.publish("invoice.paid")
    assert calls == ["a", "invoice.paid"]


def test_on_decorator_syntax(bus: EventBus) -> None:
    """The decorator forms work with @ syntax and keep the names bound to the functions."""
    calls: list[str] = []

    @bus.on
    def everything(event: Event) -> None:
        calls.append("everything")

    @bus.on("invoice.*", priority=5)
    def invoices(event: Event) -> None:
        calls.append("invoices")

    assert callable(everything)
    assert callable(invoices)
    bus.publish("invoice.paid")
    assert calls == ["invoices", "everything"]


def test_on_once(bus: EventBus) -> None:
    """@bus.on(pattern, once=True) delivers one event only."""
    calls: list[str] = []
    bus.on("invoice.paid", once=True)(lambda event: calls.append(event.id))
    bus.publish("invoice.paid")
    bus.publish("invoice.paid")
    assert len(calls) == 1


def test_same_handler_twice_is_two_subscriptions(bus: EventBus) -> None:
    """Subscribing one handler twice calls it twice per event."""
    rec = Recorder()
    handler = rec.handler("h")
    first = bus.subscribe("invoice.paid", handler)
    second = bus.subscribe("invoice.paid", handler)
    assert first is not second
    assert bus.publish("invoice.paid").handled == 2
    assert rec.labels == ["h", "h"]


def test_same_handler_on_overlapping_patterns_is_called_for_each(bus: EventBus) -> None:
    """One handler subscribed to an exact type and to a wildcard covering it is called twice."""
    rec = Recorder()
    handler = rec.handler("h")
    bus.subscribe("invoice.paid", handler)
    bus.subscribe("invoice.*", handler)
    bus.subscribe(handler)
    assert bus.publish("invoice.paid").handled == 3


def test_unsubscribing_one_of_two_keeps_the_other(bus: EventBus) -> None:
    """Unsubscribing one subscription of a handler leaves its other subscription in place."""
    rec = Recorder()
    handler = rec.handler("h")
    first = bus.subscribe("invoice.paid", handler)
    bus.subscribe("invoice.paid", handler)
    first.unsubscribe()
    assert bus.publish("invoice.paid").handled == 1


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param("invoice.paid", id="exact"),
        pytest.param("invoice.*", id="wildcard"),
        pytest.param(None, id="catch-all"),
    ],
)
def test_unsubscribe_stops_delivery_and_is_idempotent(bus: EventBus, pattern: str | None) -> None:
    """After unsubscribe a handler gets nothing; unsubscribing again, either way, does nothing."""
    rec = Recorder()
    handler = rec.handler("h")
    sub = bus.subscribe(handler) if pattern is None else bus.subscribe(pattern, handler)
    bus.unsubscribe(sub)
    bus.unsubscribe(sub)
    sub.unsubscribe()
    sub.unsubscribe()
    assert bus.publish("invoice.paid").handled == 0
    assert rec.calls == []


def test_unsubscribe_after_once_fired_does_nothing(bus: EventBus) -> None:
    """Unsubscribing a once subscription that already fired does nothing."""
    rec = Recorder()
    sub = bus.subscribe("invoice.paid", rec.handler("h"), once=True)
    bus.publish("invoice.paid")
    sub.unsubscribe()
    bus.unsubscribe(sub)
    assert rec.labels == ["h"]


def test_subscription_as_context_manager(bus: EventBus) -> None:
    """A subscription used in a with block delivers inside it and is gone after it."""
    rec = Recorder()
    with bus.subscribe("invoice.paid", rec.handler("h")) as sub:
        assert isinstance(sub, Subscription)
        assert bus.publish("invoice.paid").handled == 1
    assert bus.publish("invoice.paid").handled == 0
    assert rec.labels == ["h"]


def test_subscription_context_manager_unsubscribes_on_error(bus: EventBus) -> None:
    """Leaving the with block by an exception unsubscribes too, and the exception propagates."""
    rec = Recorder()
    with pytest.raises(KeyError), bus.subscribe("invoice.paid", rec.handler("h")):
        raise KeyError("boom")
    assert bus.publish("invoice.paid").handled == 0


def test_unsubscribe_leaves_other_subscriptions(bus: EventBus) -> None:
    """Unsubscribing one subscription leaves the others on the same and other patterns."""
    rec = Recorder()
    bus.subscribe("invoice.paid", rec.handler("a"))
    gone = bus.subscribe("invoice.paid", rec.handler("b"))
    bus.subscribe("invoice.*", rec.handler("c"))
    gone.unsubscribe()
    bus.publish("invoice.paid")
    assert rec.labels == ["a", "c"]


# -- ordering ------------------------------------------------------------------------------

ORDERS = [
    pytest.param(
        [("invoice.paid", 0, "a"), ("invoice.*", 0, "b"), ("**", 0, "c")],
        ["a", "b", "c"],
        id="same-priority-subscription-order",
    ),
    pytest.param(
        [("**", 0, "c"), ("invoice.*", 0, "b"), ("invoice.paid", 0, "a")],
        ["c", "b", "a"],
        id="wildcards-subscribed-first-run-first",
    ),
    pytest.param(
        [
            ("invoice.*", 0, "w1"),
            ("invoice.paid", 0, "e1"),
            ("*.paid", 0, "w2"),
            ("invoice.paid", 0, "e2"),
        ],
        ["w1", "e1", "w2", "e2"],
        id="exact-and-wildcard-interleaved",
    ),
    pytest.param(
        [("invoice.paid", 0, "low"), ("invoice.*", 10, "high"), ("**", 5, "mid")],
        ["high", "mid", "low"],
        id="priority-beats-subscription-order",
    ),
    pytest.param(
        [
            ("invoice.paid", 0, "a"),
            ("invoice.*", 0, "b"),
            ("**", 5, "c"),
            ("invoice.paid", 5, "d"),
            ("*.paid", -1, "e"),
            ("invoice.**", 0, "f"),
            ("invoice.paid", -1, "g"),
        ],
        ["c", "d", "a", "b", "f", "e", "g"],
        id="priorities-with-ties-across-kinds",
    ),
]


@pytest.mark.parametrize(("subscriptions", "expected"), ORDERS)
def test_delivery_order(
    bus: EventBus, subscriptions: list[tuple[str, int, str]], expected: list[str]
) -> None:
    """Higher priority first, then subscription order, across exact and wildcard alike."""
    rec = Recorder()
    for pattern, priority, label in subscriptions:
        bus.subscribe(pattern, rec.handler(label), priority=priority)
    bus.publish("invoice.paid")
    bus.publish("invoice.paid")
    assert rec.labels == expected + expected


@pytest.mark.parametrize(("subscriptions", "expected"), ORDERS)
def test_delivery_order_on_general_path(
    bus: EventBus, subscriptions: list[tuple[str, int, str]], expected: list[str]
) -> None:
    """The order holds when the route has once and weak subscriptions too."""
    rec = Recorder()
    keep: list[Any] = []
    for index, (pattern, priority, label) in enumerate(subscriptions):
        handler = rec.handler(label)
        keep.append(handler)
        bus.subscribe(pattern, handler, priority=priority, once=index == 0, weak=index == 1)
    bus.publish("invoice.paid")
    assert rec.labels == expected


def test_resubscribing_goes_to_the_end(bus: EventBus) -> None:
    """A handler unsubscribed and subscribed again runs after those that stayed."""
    rec = Recorder()
    first = bus.subscribe("invoice.paid", rec.handler("a"))
    bus.subscribe("invoice.*", rec.handler("b"))
    first.unsubscribe()
    bus.subscribe("invoice.paid", rec.handler("a"))
    bus.publish("invoice.paid")
    assert rec.labels == ["b", "a"]


# -- failures and results ------------------------------------------------------------------


def failing(exc: Exception) -> Callable[[Event], None]:
    """A handler that raises ``exc``."""

    def fail(event: Event) -> None:
        raise exc

    return fail


def test_failing_handler_does_not_stop_the_others(bus: EventBus) -> None:
    """Every matching handler runs even when one before it raises."""
    rec = Recorder()
    bus.subscribe("invoice.paid", rec.handler("before"))
    bus.subscribe("invoice.*", failing(ValueError("bad")))
    bus.subscribe("**", rec.handler("after"))
    result = bus.publish("invoice.paid")
    assert rec.labels == ["before", "after"]
    assert result.handled == 3


def test_result_fields(bus: EventBus) -> None:
    """The result has the event, the count of handlers called, failures included, and errors."""
    first_error, second_error = ValueError("first"), KeyError("second")
    first, second = failing(first_error), failing(second_error)
    bus.subscribe("invoice.paid", lambda event: None)
    bus.subscribe("invoice.paid", first)
    bus.subscribe("invoice.*", second)
    result = bus.publish("invoice.paid", {"amount": 3})
    assert isinstance(result, PublishResult)
    assert result.event.type == "invoice.paid"
    assert result.event.data == {"amount": 3}
    assert result.handled == 3
    assert result.ok is False
    assert all(isinstance(failure, HandlerFailure) for failure in result.errors)
    assert [(f.handler, f.exception) for f in result.errors] == [
        (first, first_error),
        (second, second_error),
    ]


def test_result_when_all_succeed(bus: EventBus) -> None:
    """A publish where no handler raised is ok, with no errors, and raise_for_errors is silent."""
    bus.subscribe("invoice.paid", lambda event: None)
    result = bus.publish("invoice.paid")
    assert (result.ok, result.errors, result.handled) == (True, [], 1)
    result.raise_for_errors()


def test_result_when_nothing_matches(bus: EventBus) -> None:
    """A publish no handler matches is ok and handled nothing."""
    bus.subscribe("invoice.paid", lambda event: None)
    result = bus.publish("invoice.voided")
    assert (result.ok, result.errors, result.handled) == (True, [], 0)
    assert result.event.type == "invoice.voided"


def test_raise_for_errors_groups_every_exception(bus: EventBus) -> None:
    """raise_for_errors raises PublishError, an ExceptionGroup of every handler's exception."""
    value_error, key_error = ValueError("v"), KeyError("k")
    bus.subscribe("invoice.paid", failing(value_error))
    bus.subscribe("invoice.paid", lambda event: None)
    bus.subscribe("invoice.*", failing(key_error))
    result = bus.publish("invoice.paid")
    with pytest.raises(PublishError) as caught:
        result.raise_for_errors()
    group = caught.value
    assert isinstance(group, ExceptionGroup)
    assert isinstance(group, EventBusError)
    assert list(group.exceptions) == [value_error, key_error]


def test_publish_error_works_with_except_star(bus: EventBus) -> None:
    """Each handler's exception can be caught from PublishError with except*."""
    bus.subscribe("invoice.paid", failing(ValueError("v")))
    bus.subscribe("invoice.paid", failing(KeyError("k")))
    bus.subscribe("invoice.paid", failing(ValueError("w")))
    caught_values: list[Exception] = []
    caught_keys: list[Exception] = []
    try:
        bus.publish("invoice.paid").raise_for_errors()
    except* ValueError as group:
        caught_values.extend(group.exceptions)  # type: ignore[arg-type]
    except* KeyError as group:
        caught_keys.extend(group.exceptions)  # type: ignore[arg-type]
    assert [str(exc) for exc in caught_values] == ["v", "w"]
    assert [exc.args for exc in caught_keys] == [("k",)]


@pytest.mark.parametrize(
    ("bus_option", "publish_option", "raises"),
    [
        pytest.param(False, None, False, id="default-returns-result"),
        pytest.param(True, None, True, id="bus-option-raises"),
        pytest.param(False, True, True, id="publish-option-raises"),
        pytest.param(True, False, False, id="publish-option-overrides-bus"),
        pytest.param(True, True, True, id="both-raise"),
    ],
)
def test_raise_errors_option(bus_option: bool, publish_option: bool | None, raises: bool) -> None:
    """raise_errors on the bus or on publish raises PublishError after every handler ran."""
    bus = EventBus(raise_errors=bus_option)
    rec = Recorder()
    error = ValueError("bad")
    bus.subscribe("invoice.paid", failing(error))
    bus.subscribe("invoice.paid", rec.handler("after"))
    if raises:
        with pytest.raises(PublishError) as caught:
            bus.publish("invoice.paid", raise_errors=publish_option)
        assert list(caught.value.exceptions) == [error]
    else:
        assert not bus.publish("invoice.paid", raise_errors=publish_option).ok
    assert rec.labels == ["after"]


def test_raise_errors_is_silent_without_failures() -> None:
    """A bus with raise_errors=True publishes normally when no handler raised."""
    bus = EventBus(raise_errors=True)
    bus.subscribe("invoice.paid", lambda event: None)
    assert bus.publish("invoice.paid").ok


def test_failures_are_logged_with_traceback(
    bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    """Each failure is logged at error level on the eventbus logger with its traceback."""
    error = ValueError("handler broke")

    def broken_handler(event: Event) -> None:
        raise error

    bus.subscribe("invoice.paid", broken_handler)
    bus.subscribe("invoice.paid", failing(KeyError("second")))
    with caplog.at_level(logging.ERROR, logger="eventbus"):
        result = bus.publish("invoice.paid")
    records = [record for record in caplog.records if record.name == "eventbus"]
    assert len(records) == 2
    first = records[0]
    assert first.levelno >= logging.ERROR
    assert first.exc_info is not None
    assert first.exc_info[1] is error
    assert first.exc_info[2] is not None
    assert "broken_handler" in first.getMessage()
    assert result.event.id in first.getMessage()
    assert "Traceback (most recent call last)" in caplog.text
    assert "handler broke" in caplog.text


def test_success_logs_nothing(bus: EventBus, caplog: pytest.LogCaptureFixture) -> None:
    """A publish where every handler succeeded logs no error."""
    bus.subscribe("invoice.paid", lambda event: None)
    with caplog.at_level(logging.ERROR, logger="eventbus"):
        bus.publish("invoice.paid")
    assert caplog.records == []


# -- once ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param("invoice.paid", id="exact"),
        pytest.param("invoice.*", id="wildcard"),
    ],
)
def test_once_is_delivered_once(bus: EventBus, pattern: str) -> None:
    """A once subscription receives its first event only; others keep receiving."""
    rec = Recorder()
    bus.subscribe(pattern, rec.handler("once"), once=True)
    bus.subscribe(pattern, rec.handler("always"))
    assert bus.publish("invoice.paid").handled == 2
    assert bus.publish("invoice.paid").handled == 1
    assert rec.labels == ["once", "always", "always"]


def test_once_ends_even_when_the_handler_raised(bus: EventBus) -> None:
    """A once handler that raised has been delivered to and is not called again."""
    calls: list[str] = []

    def fail(event: Event) -> None:
        calls.append(event.id)
        raise ValueError("bad")

    bus.subscribe("invoice.paid", fail, once=True)
    assert not bus.publish("invoice.paid").ok
    assert bus.publish("invoice.paid").handled == 0
    assert len(calls) == 1


def test_once_handler_publishing_the_same_type_is_not_reentered(bus: EventBus) -> None:
    """A once handler that publishes its own type from inside is not called a second time."""
    calls: list[str] = []

    def handler(event: Event) -> None:
        calls.append(event.id)
        bus.publish("invoice.paid")

    bus.subscribe("invoice.paid", handler, once=True)
    bus.publish("invoice.paid")
    assert len(calls) == 1


# -- references ----------------------------------------------------------------------------


class Listener:
    """An object whose bound method is a handler."""

    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def handle(self, event: Event) -> None:
        self.calls.append(event.type)


def test_weak_bound_method_is_dropped_when_its_object_is_collected(bus: EventBus) -> None:
    """weak=True on a bound method ends the subscription when the object is collected."""
    calls: list[str] = []
    listener = Listener(calls)
    bus.subscribe("invoice.paid", listener.handle, weak=True)
    assert bus.publish("invoice.paid").handled == 1
    del listener
    gc.collect()
    assert bus.publish("invoice.paid").handled == 0
    assert calls == ["invoice.paid"]


def test_weak_function_is_dropped_when_collected(bus: EventBus) -> None:
    """weak=True on a function ends the subscription when the function is collected."""
    calls: list[str] = []

    def make() -> Callable[[Event], None]:
        def handler(event: Event) -> None:
            calls.append(event.type)

        return handler

    handler = make()
    bus.subscribe("invoice.*", handler, weak=True)
    assert bus.publish("invoice.paid").handled == 1
    del handler
    gc.collect()
    assert bus.publish("invoice.paid").handled == 0
    assert calls == ["invoice.paid"]


def test_weak_subscription_dropped_after_route_was_cached(bus: EventBus) -> None:
    """A collected weak handler is dropped from a type whose route was already resolved."""
    calls: list[str] = []
    listener = Listener(calls)
    bus.subscribe("invoice.paid", listener.handle, weak=True)
    bus.subscribe("invoice.paid", lambda event: calls.append("strong"))
    bus.publish("invoice.paid")
    del listener
    gc.collect()
    result = bus.publish("invoice.paid")
    assert result.handled == 1
    assert calls == ["invoice.paid", "strong", "strong"]


def test_weak_handler_alive_keeps_receiving(bus: EventBus) -> None:
    """A weakly held handler whose object is still referenced keeps receiving."""
    calls: list[str] = []
    listener = Listener(calls)
    bus.subscribe("invoice.paid", listener.handle, weak=True)
    gc.collect()
    bus.publish("invoice.paid")
    assert calls == ["invoice.paid"]


def test_strong_default_keeps_lambdas_and_bound_methods_alive(bus: EventBus) -> None:
    """Handlers are held strongly by default: a lambda or a temporary object's method works."""
    calls: list[str] = []
    bus.subscribe("invoice.paid", lambda event: calls.append("lambda"))
    bus.subscribe("invoice.paid", Listener(calls).handle)
    gc.collect()
    assert bus.publish("invoice.paid").handled == 2
    assert calls == ["lambda", "invoice.paid"]


# -- names ---------------------------------------------------------------------------------


def named_handler(event: Event) -> None:
    """A module-level handler with a known qualified name."""


def test_explicit_name(bus: EventBus) -> None:
    """name= becomes the subscription's name."""
    assert bus.subscribe("invoice.paid", named_handler, name="billing.paid").name == "billing.paid"


def test_default_name_is_the_qualname(bus: EventBus) -> None:
    """Without name=, a subscription is named by its handler's qualified name."""
    listener = Listener([])
    assert bus.subscribe("invoice.paid", named_handler).name == "named_handler"
    assert bus.subscribe("invoice.paid", listener.handle).name == "Listener.handle"


def test_shared_default_names_get_suffixes(bus: EventBus) -> None:
    """Later subscriptions sharing a default name get #2, #3 and so on."""
    names = [bus.subscribe("invoice.*", named_handler).name for _ in range(3)]
    assert names == ["named_handler", "named_handler#2", "named_handler#3"]
    lambdas = [bus.subscribe(lambda event: None).name for _ in range(2)]
    base = lambdas[0]
    assert base.endswith("<lambda>")
    assert lambdas == [base, f"{base}#2"]


def test_duplicate_explicit_name_is_rejected(bus: EventBus) -> None:
    """A name= already used by a live subscription raises DuplicateHandlerNameError."""
    bus.subscribe("invoice.paid", named_handler, name="billing")
    with pytest.raises(DuplicateHandlerNameError, match=re.escape("'billing'")) as caught:
        bus.subscribe("invoice.voided", lambda event: None, name="billing")
    assert isinstance(caught.value, ValueError)
    assert caught.value.name == "billing"
    assert bus.publish("invoice.voided").handled == 0


def test_explicit_name_is_free_again_after_unsubscribe(bus: EventBus) -> None:
    """Once its subscription ended, an explicit name can be used again."""
    sub = bus.subscribe("invoice.paid", named_handler, name="billing")
    sub.unsubscribe()
    assert bus.subscribe("invoice.paid", named_handler, name="billing").name == "billing"


def test_explicit_name_stays_taken_when_a_same_named_default_subscription_ends(
    bus: EventBus,
) -> None:
    """Ending a subscription whose default name equals a live explicit name keeps it taken."""
    bus.subscribe("invoice.paid", lambda event: None, name="named_handler")
    bus.subscribe("invoice.paid", named_handler).unsubscribe()
    with pytest.raises(DuplicateHandlerNameError):
        bus.subscribe("invoice.paid", lambda event: None, name="named_handler")


def test_explicit_name_taken_by_a_default_name_is_rejected(bus: EventBus) -> None:
    """name= equal to the default name of a live subscription raises DuplicateHandlerNameError."""
    bus.subscribe("invoice.paid", named_handler)
    with pytest.raises(DuplicateHandlerNameError):
        bus.subscribe("invoice.paid", lambda event: None, name="named_handler")


def test_default_name_never_repeats_a_live_explicit_name(bus: EventBus) -> None:
    """A default name does not take a name already given explicitly to a live subscription."""
    explicit = bus.subscribe("invoice.paid", lambda event: None, name="named_handler")
    default = bus.subscribe("invoice.paid", named_handler)
    assert default.name != explicit.name


# -- the route cache -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "options"),
    [
        pytest.param("invoice.paid", {}, id="exact"),
        pytest.param("invoice.*", {}, id="wildcard"),
        pytest.param(None, {}, id="catch-all"),
        pytest.param("invoice.paid", {"once": True}, id="exact-once"),
        pytest.param("invoice.**", {"weak": True}, id="wildcard-weak"),
        pytest.param("invoice.paid", {"priority": 9}, id="exact-priority"),
    ],
)
def test_subscribe_after_publish_is_seen(
    bus: EventBus, pattern: str | None, options: dict[str, Any]
) -> None:
    """A subscription made after a type was published receives that type's next publish."""
    rec = Recorder()
    bus.subscribe("invoice.paid", rec.handler("old"))
    bus.publish("invoice.paid")
    handler = rec.handler("new")
    if pattern is None:
        bus.subscribe(handler, **options)
    else:
        bus.subscribe(pattern, handler, **options)
    assert bus.publish("invoice.paid").handled == 2
    assert sorted(rec.labels) == ["new", "old", "old"]


@pytest.mark.parametrize(
    ("pattern", "options"),
    [
        pytest.param("invoice.paid", {}, id="exact"),
        pytest.param("invoice.*", {}, id="wildcard"),
        pytest.param(None, {}, id="catch-all"),
        pytest.param("invoice.**", {"weak": True}, id="wildcard-weak"),
        pytest.param("invoice.paid", {"priority": -3}, id="exact-priority"),
    ],
)
def test_unsubscribe_after_publish_is_seen(
    bus: EventBus, pattern: str | None, options: dict[str, Any]
) -> None:
    """A subscription ended after its type was published is not called on the next publish."""
    rec = Recorder()
    bus.subscribe("invoice.paid", rec.handler("stays"))
    handler = rec.handler("leaves")
    sub = (
        bus.subscribe(handler, **options)
        if pattern is None
        else bus.subscribe(pattern, handler, **options)
    )
    assert bus.publish("invoice.paid").handled == 2
    sub.unsubscribe()
    assert bus.publish("invoice.paid").handled == 1
    assert rec.labels == ["stays", "leaves", "stays"]


def test_unsubscribe_after_publish_of_the_type_is_seen(bus: EventBus) -> None:
    """Unsubscribing after the same type was published removes it from the next publish."""
    rec = Recorder()
    exact = bus.subscribe("invoice.paid", rec.handler("exact"))
    wild = bus.subscribe("invoice.*", rec.handler("wild"))
    bus.publish("invoice.paid")
    exact.unsubscribe()
    bus.publish("invoice.paid")
    wild.unsubscribe()
    bus.publish("invoice.paid")
    assert rec.labels == ["exact", "wild", "wild"]


def test_many_types_and_subscriptions_route_correctly(bus: EventBus) -> None:
    """With many types and subscriptions each publish reaches exactly its matching handlers."""
    rec = Recorder()
    for index in range(200):
        bus.subscribe(f"t{index}.created", rec.handler(f"exact{index}"))
    bus.subscribe("*.created", rec.handler("wild"))
    for index in range(0, 200, 7):
        rec.calls.clear()
        assert bus.publish(f"t{index}.created").handled == 2
        assert rec.labels == [f"exact{index}", "wild"]


# -- what publish accepts ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(None, {}, id="no-data"),
        pytest.param({"object": {"id": "in_1"}}, {"object": {"id": "in_1"}}, id="dict-data"),
    ],
)
def test_publish_type_string_builds_event(
    bus: EventBus, data: dict[str, Any] | None, expected: dict[str, Any]
) -> None:
    """Publishing a type string builds an Event with that type and data and delivers it."""
    delivered: list[Event] = []
    bus.subscribe("invoice.paid", delivered.append)
    result = bus.publish("invoice.paid", data)
    assert len(delivered) == 1
    event = delivered[0]
    assert isinstance(event, Event)
    assert event is result.event
    assert (event.type, event.data) == ("invoice.paid", expected)
    assert event.id.startswith("evt_")


def test_publish_built_event_as_is(bus: EventBus) -> None:
    """Publishing an Event delivers that very object."""
    event = Event(type="invoice.paid", data={"a": 1}, source="test")
    delivered: list[Event] = []
    bus.subscribe("invoice.*", delivered.append)
    result = bus.publish(event)
    assert delivered == [event]
    assert delivered[0] is event
    assert result.event is event


def test_every_handler_sees_the_same_event(bus: EventBus) -> None:
    """All handlers of one publish receive one and the same event."""
    delivered: list[Event] = []
    bus.subscribe("invoice.paid", delivered.append)
    bus.subscribe("invoice.*", delivered.append)
    bus.subscribe(delivered.append)
    bus.publish("invoice.paid", {"a": 1})
    assert len(delivered) == 3
    assert delivered[0] is delivered[1] is delivered[2]


def test_data_with_a_built_event_is_a_type_error(bus: EventBus) -> None:
    """Passing data along with a built Event raises TypeError and calls no handler."""
    rec = Recorder()
    bus.subscribe(rec.handler("all"))
    with pytest.raises(TypeError):
        bus.publish(Event(type="invoice.paid"), {"a": 1})
    assert rec.calls == []


@pytest.mark.parametrize(
    ("event_type", "named_part"),
    [
        pytest.param("invoice..paid", "segment 2", id="empty-segment"),
        pytest.param("invoice.pa id", "'pa id'", id="space"),
        pytest.param("invoice.*", "'*'", id="wildcard"),
        pytest.param("", "empty", id="empty"),
    ],
)
def test_bad_type_string_raises_and_calls_no_handler(
    bus: EventBus, event_type: str, named_part: str
) -> None:
    """A malformed type string raises a ValueError naming the bad part; no handler is called."""
    rec = Recorder()
    bus.subscribe(rec.handler("all"))
    bus.subscribe("invoice.*", rec.handler("invoices"))
    with pytest.raises(InvalidEventTypeError, match=re.escape(named_part)) as caught:
        bus.publish(event_type)
    assert isinstance(caught.value, ValueError)
    assert rec.calls == []


def test_subscribe_rejects_a_non_callable(bus: EventBus) -> None:
    """Subscribing something that is not callable raises TypeError."""
    with pytest.raises(TypeError):
        bus.subscribe("invoice.paid", "not callable")  # type: ignore[call-overload]


def test_bus_rejects_an_unknown_sync_handlers_mode() -> None:
    """EventBus(sync_handlers=...) accepts only the documented modes."""
    with pytest.raises(ValueError, match="sync_handlers"):
        EventBus(sync_handlers="process")  # type: ignore[arg-type]


def test_buses_are_independent() -> None:
    """Subscriptions on one bus do not receive events published on another."""
    first, second = EventBus(), EventBus()
    rec = Recorder()
    first.subscribe(rec.handler("first"))
    assert second.publish("invoice.paid").handled == 0
    assert rec.calls == []


def test_contract_methods_take_their_arguments_by_name(bus: EventBus) -> None:
    """subscribe, publish, publish_async, unsubscribe and on accept the issue's names."""
    got: list[Any] = []
    sub = bus.subscribe(pattern="a.b", handler=got.append)
    bus.on(pattern="a.*")(got.append)
    result = bus.publish(event_or_type="a.b", data={"x": 1})
    assert result.handled == 2
    assert anyio.run(lambda: bus.publish_async(event_or_type="a.b", data={"x": 2})).handled == 2
    bus.unsubscribe(subscription=sub)
    assert bus.publish("a.b").handled == 1


def test_priority_must_be_an_int(bus: EventBus) -> None:
    """A non-integer priority is refused at subscribe, not at the next publish."""
    with pytest.raises(TypeError, match="priority must be an int"):
        bus.subscribe("a", lambda event: None, priority="high")  # type: ignore[arg-type]
    assert bus.publish("a").ok


def test_bus_keeps_no_reference_to_published_events(bus: EventBus) -> None:
    """After a publish returns and its result is dropped, the event can be collected."""
    import gc
    import weakref

    bus.subscribe("a.b", lambda event: None)
    bus.subscribe("a.*", lambda event: None, once=True)
    event = Event(type="a.b")
    ref = weakref.ref(event)
    bus.publish(event)
    del event
    gc.collect()
    assert ref() is None


def test_object_with_a_type_attribute_is_not_an_event(bus: EventBus) -> None:
    """Duck-typed objects are refused even once the type's route is cached."""
    from types import SimpleNamespace

    got: list[Any] = []
    bus.subscribe("a.b", got.append)
    bus.publish("a.b")
    with pytest.raises(TypeError, match="an Event or a type string"):
        bus.publish(SimpleNamespace(type="a.b"))  # type: ignore[arg-type]
    assert len(got) == 1


def test_handlers_for_lists_the_route_in_delivery_order(bus: EventBus) -> None:
    """handlers_for shows which subscriptions a type reaches, in delivery order."""
    low = bus.subscribe("a.*", lambda event: None, name="low")
    high = bus.subscribe("a.b", lambda event: None, priority=5, name="high")
    bus.subscribe("c", lambda event: None, name="other")
    assert bus.handlers_for("a.b") == (high, low)
    with pytest.raises(ValueError, match="segment 2"):
        bus.handlers_for("a..b")


# -- issue 10: unsubscribe by handler (bug 5), on(weak=) and signature checks (bug 6) --------


def test_unsubscribe_by_handler_ends_each_of_its_subscriptions(bus: EventBus) -> None:
    got: list[str] = []

    def handler(event: Event[Any]) -> None:
        got.append(event.type)

    other = bus.subscribe("a.b", lambda event: got.append("other"))
    bus.subscribe("a.b", handler)
    bus.subscribe("a.*", handler)
    assert bus.unsubscribe(handler) == 2
    assert bus.unsubscribe(handler) == 0
    bus.publish("a.b")
    assert got == ["other"]
    assert bus.subscriptions == (other,)


def test_unsubscribe_a_bound_method_by_an_equal_one(bus: EventBus) -> None:
    class Listener:
        def __init__(self) -> None:
            self.seen = 0

        def on_event(self, event: Event[Any]) -> None:
            self.seen += 1

    listener = Listener()
    bus.subscribe("a.b", listener.on_event)
    assert bus.unsubscribe(listener.on_event) == 1  # a new bound method object, equal
    bus.publish("a.b")
    assert listener.seen == 0


def test_unsubscribe_returns_how_many_ended(bus: EventBus) -> None:
    sub = bus.subscribe("a.b", lambda event: None)
    assert bus.unsubscribe(sub) == 1
    assert bus.unsubscribe(sub) == 0
    once = bus.subscribe("a.b", lambda event: None, once=True)
    bus.publish("a.b")
    assert bus.unsubscribe(once) == 0


def test_unsubscribe_refuses_a_pattern_and_other_things(bus: EventBus) -> None:
    bus.subscribe("a.b", lambda event: None)
    with pytest.raises(TypeError, match="Subscription or a handler"):
        bus.unsubscribe("a.b")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Subscription or a handler"):
        bus.unsubscribe(42)  # type: ignore[arg-type]
    assert len(bus.subscriptions) == 1


def test_unsubscribe_refuses_a_subscription_of_another_bus(bus: EventBus) -> None:
    other = EventBus()
    sub = other.subscribe("a.b", lambda event: None)
    with pytest.raises(ValueError, match="another bus"):
        bus.unsubscribe(sub)
    assert sub.active


def test_on_takes_weak(bus: EventBus) -> None:
    def make() -> None:
        @bus.on("a.b", weak=True)
        def handler(event: Event[Any]) -> None:
            raise AssertionError("collected handlers are not called")

    make()
    gc.collect()
    assert bus.publish("a.b").handled == 0
    assert bus.subscriptions == ()


def test_a_subscription_does_not_keep_its_bus_alive() -> None:
    import weakref

    bus = EventBus()
    sub = bus.subscribe("a.b", lambda event: None)
    ref = weakref.ref(bus)
    del bus
    gc.collect()
    assert ref() is None
    assert not sub.active
    sub.unsubscribe()  # nothing left to end it on: does nothing


@pytest.mark.parametrize(
    "handler",
    [lambda: None, lambda a, b: None, lambda *, event: None, lambda a, b, *rest: None],
    ids=["none", "two", "keyword-only", "two-and-rest"],
)
def test_a_handler_that_cannot_take_the_event_is_refused_at_subscribe(
    bus: EventBus, handler: Any
) -> None:
    with pytest.raises(TypeError, match="one positional argument"):
        bus.subscribe("a.b", handler)
    with pytest.raises(TypeError, match="one positional argument"):
        bus.on("a.b")(handler)
    assert bus.subscriptions == ()


@pytest.mark.parametrize(
    "handler",
    [lambda a, b=1: None, lambda *args: None, lambda a, *, b=2: None, print, dict],
    ids=["default", "varargs", "keyword-default", "builtin", "no-signature"],
)
def test_handlers_callable_with_one_argument_are_accepted(bus: EventBus, handler: Any) -> None:
    bus.subscribe("a.b", handler)
    assert len(bus.subscriptions) == 1


def test_skip_leaves_out_once_and_weak_subscriptions_by_name(bus: EventBus) -> None:
    got: list[str] = []

    def weak_handler(event: Event[Any]) -> None:
        got.append("weak")

    bus.subscribe("a.b", weak_handler, weak=True, name="weak")
    once = bus.subscribe("a.b", lambda event: got.append("once"), once=True, name="once")
    result = bus.publish("a.b", skip={"once"})
    assert [sub.name for sub in result.called] == ["weak"]
    assert once.active  # skipped, so not delivered, so not ended
    assert once.handler is not None
    assert bus.publish("a.b", skip={"weak"}).handled == 1
    assert got == ["weak", "once"]
    assert not once.active
