"""Every exception of the core, in one place, and the tree of all that eventbus raises.

The tree (the opt-in packages keep theirs in their own errors module, named on the right)::

    EventBusError
    ├── InvalidPatternError (ValueError)      a subscription pattern is malformed
    ├── InvalidEventTypeError (ValueError)    an event type is malformed
    ├── MalformedEventError (ValueError)      raw input is not a JSON object with a valid type
    ├── EventValidationError (ValueError)     event data does not fit its typed model
    ├── EventClassConflictError (TypeError)   two event classes claim overlapping types badly
    ├── DuplicateHandlerNameError (ValueError)  an explicit ``name=`` is already in use
    ├── AsyncHandlersInSyncPublishError (RuntimeError)
    │                                         ``publish`` met async handlers inside a running loop
    ├── HandlerCancelledError (RuntimeError)  a handler raised CancelledError on its own
    ├── PublishError (ExceptionGroup)         one or more handlers raised
    ├── StoreFileMissingError (RuntimeError)  a durable store's SQLite file vanished
    ├── DeadLetterNotFoundError (LookupError)          eventbus.inbox
    ├── NotificationFailedError (RuntimeError)         eventbus.paymentkit
    ├── AsyncioRequiredError (RuntimeError)            eventbus.redis
    └── WebhookError                                   eventbus.webhooks
        ├── SignatureError (ValueError)       a delivery's signature did not verify
        ├── EndpointURLError (ValueError)     an outgoing endpoint's URL is refused
        │   └── UnsafeAddressError            ... because it reaches an internal address
        ├── EndpointNotFoundError (LookupError)   no endpoint has that id
        └── DeliveryNotFoundError (LookupError)   no delivery for that event and endpoint

Each keeps the offending value as an attribute and says in its message what to do instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._result import PublishResult


class EventBusError(Exception):
    """Base class of every error raised by eventbus."""


class InvalidPatternError(EventBusError, ValueError):
    """A subscription pattern is not a valid dotted pattern.

    :ivar pattern: the pattern as given
    """

    def __init__(self, pattern: str, reason: str) -> None:
        self.pattern = pattern
        super().__init__(
            f"invalid pattern {pattern!r}: {reason}; patterns are dot-separated segments of "
            "letters, digits, '_' and '-', where a whole segment may be '*' (one segment) "
            "or '**' (zero or more segments)"
        )


class InvalidEventTypeError(EventBusError, ValueError):
    """An event type is not a valid dotted name.

    :ivar event_type: the type as given
    """

    def __init__(self, event_type: object, reason: str) -> None:
        self.event_type = event_type
        super().__init__(
            f"invalid event type {event_type!r}: {reason}; event types are dot-separated "
            "segments of letters, digits, '_' and '-', such as 'invoice.paid'"
        )


class MalformedEventError(EventBusError, ValueError):
    """Raw input given to :meth:`EventBus.parse` is not an event at all.

    :ivar raw: the input as given
    """

    def __init__(self, raw: object, reason: str) -> None:
        self.raw = raw
        super().__init__(
            f"cannot parse an event: {reason}; an event is a JSON object with a 'type' "
            "such as 'invoice.paid', and optionally 'id', 'data' and 'created'"
        )


class EventValidationError(EventBusError, ValueError):
    """Event data does not fit the typed model registered for its type; nothing was published.

    :ivar event_type: the event's type
    :ivar event_class: the class the data was validated against
    :ivar errors: pydantic's error list, each with its ``loc`` field path
    """

    def __init__(self, event_type: str, event_class: type, errors: Sequence[Any]) -> None:
        self.event_type = event_type
        self.event_class = event_class
        self.errors = list(errors)
        details = "; ".join(
            f"{'.'.join(str(part) for part in err['loc']) or '<root>'}: {err['msg']}"
            for err in self.errors
        )
        super().__init__(
            f"invalid {event_type!r} event for {event_class.__name__}: {details}; "
            "fix the data or the model registered for this type"
        )


class EventClassConflictError(EventBusError, TypeError):
    """An event class would take over types whose handlers expect another class it does not
    subclass: a family covering it, or a class already subscribed to for the same type.

    :ivar event_class: the class being registered
    :ivar family_class: the class it must subclass
    """

    def __init__(self, event_class: type, family_class: type, event_type: str) -> None:
        self.event_class = event_class
        self.family_class = family_class
        super().__init__(
            f"{event_class.__qualname__} is registered for {event_type!r}, which "
            f"{family_class.__qualname__} also stands for; make {event_class.__qualname__} "
            f"subclass {family_class.__qualname__} so handlers that asked for "
            f"{family_class.__qualname__} still receive instances of it"
        )


class DuplicateHandlerNameError(EventBusError, ValueError):
    """An explicit handler ``name=`` is already used by a live subscription on this bus.

    :ivar name: the name as given
    """

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"a subscription named {name!r} already exists on this bus; names key per-handler "
            "completion records, so give each subscription its own name"
        )


class AsyncHandlersInSyncPublishError(EventBusError, RuntimeError):
    """``publish`` was called inside a running event loop and async handlers matched.

    Nothing was delivered: running them would need to block the loop they need.

    :ivar event_type: the type of the event that was not published
    :ivar handlers: names of the async handlers that matched
    """

    def __init__(self, event_type: str, handlers: Sequence[str]) -> None:
        self.event_type = event_type
        self.handlers = list(handlers)
        super().__init__(
            f"{event_type!r} matched async handlers ({', '.join(self.handlers)}) but publish() "
            "was called inside a running event loop; use 'await bus.publish_async(...)' there"
        )


class HandlerCancelledError(EventBusError, RuntimeError):
    """A handler raised ``asyncio.CancelledError`` although nothing was cancelling its publish.

    Recorded as that handler's failure (its ``__cause__`` is the ``CancelledError``); the
    other handlers of the publish ran to completion.

    :ivar name: the subscription name of the handler
    """

    def __init__(self, name: str, cancelled: BaseException) -> None:
        self.name = name
        super().__init__(
            f"handler {name} raised {type(cancelled).__name__} while its publish was not being "
            "cancelled; a handler that cancels work it started should catch the cancellation "
            "of that work instead of letting it escape"
        )
        self.__cause__ = cancelled


class PublishError(EventBusError, ExceptionGroup):
    """One or more handlers raised while an event was published.

    Raised by :meth:`PublishResult.raise_for_errors` and by publishing with
    ``raise_errors=True``. Every handler ran; this groups each one's exception.

    :ivar result: the :class:`PublishResult` of the publish
    """

    result: PublishResult

    def __new__(cls, message: str, exceptions: Sequence[Exception]) -> PublishError:
        return super().__new__(cls, message, exceptions)

    def derive(self, excs: Sequence[Exception]) -> ExceptionGroup[Exception]:  # type: ignore[override]
        """Build the plain group that ``split``/``subgroup`` return for a part of this one."""
        return ExceptionGroup(self.message, excs)


class StoreFileMissingError(EventBusError, RuntimeError):
    """A durable store's SQLite file was deleted or replaced while the store was open.

    The store refuses every operation rather than start an empty history, which would run
    events already handled again. Restore the file (or point the store at the right one) and
    restart the process.

    :ivar path: the file the store was opened on
    """

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(
            f"the SQLite file {path!r} was deleted or replaced while the store was open; "
            "refusing to start an empty history (events already handled would run again): "
            "restore the file and restart the process"
        )
