"""The public surface: eventbus.__all__ is sorted, complete and holds the contract's names."""

from __future__ import annotations

import types

import pytest

import eventbus

CONTRACT = [
    "Event",
    "EventBus",
    "HandlerCall",
    "HandlerFailure",
    "InvalidPatternError",
    "PublishCall",
    "PublishError",
    "PublishResult",
    "Subscription",
    "compile_pattern",
    "default_bus",
    "matches",
    "on",
    "publish",
    "publish_async",
    "subscribe",
    "use_bus",
    "validate_event_type",
]


def test_all_is_sorted() -> None:
    """__all__ is in sorted order, without duplicates."""
    assert eventbus.__all__ == sorted(set(eventbus.__all__))


def test_all_imports_are_exported() -> None:
    """Every public name in the package namespace that is not a submodule is in __all__."""
    public = sorted(
        name
        for name, value in vars(eventbus).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    )
    assert public == sorted(eventbus.__all__)


def test_all_names_exist() -> None:
    """Every name in __all__ is an attribute of the package."""
    missing = [name for name in eventbus.__all__ if not hasattr(eventbus, name)]
    assert missing == []


@pytest.mark.parametrize("name", [pytest.param(name, id=name) for name in CONTRACT])
def test_contract_name_is_exported(name: str) -> None:
    """Each name the core's contract promises is exported from eventbus."""
    assert name in eventbus.__all__


@pytest.mark.parametrize(
    ("name", "base"),
    [
        pytest.param("InvalidPatternError", ValueError, id="InvalidPatternError-ValueError"),
        pytest.param("InvalidEventTypeError", ValueError, id="InvalidEventTypeError-ValueError"),
        pytest.param("PublishError", ExceptionGroup, id="PublishError-ExceptionGroup"),
        pytest.param(
            "HandlerCancelledError", RuntimeError, id="HandlerCancelledError-RuntimeError"
        ),
        pytest.param(
            "DuplicateHandlerNameError", ValueError, id="DuplicateHandlerNameError-ValueError"
        ),
        pytest.param(
            "AsyncHandlersInSyncPublishError",
            RuntimeError,
            id="AsyncHandlersInSyncPublishError-RuntimeError",
        ),
    ],
)
def test_exceptions_subclass_builtins(name: str, base: type[BaseException]) -> None:
    """Each exception is an EventBusError and the matching builtin, so either can catch it."""
    exc_type = getattr(eventbus, name)
    assert issubclass(exc_type, eventbus.EventBusError)
    assert issubclass(exc_type, base)


def test_otel_exports_instrument() -> None:
    """eventbus.otel exposes instrument (and the traceparent helper), sorted."""
    import eventbus.otel

    assert eventbus.otel.__all__ == ["current_traceparent", "instrument"]
