"""eventbus: an in-process event bus with typed envelopes, wildcard routing and webhooks."""

from ._bus import EventBus
from ._default import default_bus, on, publish, publish_async, subscribe, use_bus
from ._envelope import Event
from ._exceptions import (
    AsyncHandlersInSyncPublishError,
    DuplicateHandlerNameError,
    EventBusError,
    EventClassConflictError,
    EventValidationError,
    HandlerCancelledError,
    InvalidEventTypeError,
    InvalidPatternError,
    MalformedEventError,
    PublishError,
)
from ._middleware import HandlerCall, PublishCall
from ._result import HandlerFailure, PublishResult
from ._subscription import Subscription
from ._topics import compile_pattern, matches, validate_event_type

__all__ = [
    "AsyncHandlersInSyncPublishError",
    "DuplicateHandlerNameError",
    "Event",
    "EventBus",
    "EventBusError",
    "EventClassConflictError",
    "EventValidationError",
    "HandlerCall",
    "HandlerCancelledError",
    "HandlerFailure",
    "InvalidEventTypeError",
    "InvalidPatternError",
    "MalformedEventError",
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
