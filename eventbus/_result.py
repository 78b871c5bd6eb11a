"""What a publish reports back: which handlers ran and which of them failed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._envelope import Event
from ._exceptions import PublishError

if TYPE_CHECKING:
    from ._subscription import Subscription


@dataclass(frozen=True, slots=True)
class HandlerFailure:
    """One handler's exception during a publish.

    :ivar handler: the handler that raised
    :ivar exception: what it raised
    :ivar subscription: the subscription that called it (its ``name`` identifies it)
    """

    handler: Callable[..., Any]
    exception: Exception
    subscription: Subscription

    @property
    def name(self) -> str:
        """The subscription's name: an explicit ``name=`` or the handler's qualified name."""
        return self.subscription.name


class PublishResult:
    """The outcome of one publish.

    Every matching handler runs even when another raises, so a failure never hides the
    others. Check :attr:`ok`, read :attr:`errors`, or call :meth:`raise_for_errors` for the
    strict path. Treat it as read-only; it is a plain slotted class because one is made for
    every publish.

    :ivar event: the event as delivered (the built one when a type string was published)
    :ivar called: the subscriptions whose handlers were called, in delivery order
    :ivar errors: one :class:`HandlerFailure` per handler that raised, in delivery order
    """

    __slots__ = ("called", "errors", "event")

    def __init__(
        self, event: Event[Any], called: tuple[Subscription, ...], errors: list[HandlerFailure]
    ) -> None:
        self.event = event
        self.called = called
        self.errors = errors

    @property
    def handled(self) -> int:
        """How many handlers were called, failed ones included."""
        return len(self.called)

    @property
    def ok(self) -> bool:
        """True when no handler raised (also when no handler matched)."""
        return not self.errors

    def raise_for_errors(self) -> None:
        """Raise :class:`PublishError` grouping every handler's exception, if any raised."""
        if not self.errors:
            return
        names = ", ".join(failure.name for failure in self.errors)
        error = PublishError(
            f"{len(self.errors)} of {self.handled} handler(s) failed on {self.event.type!r} "
            f"event {self.event.id}: {names}",
            [failure.exception for failure in self.errors],
        )
        error.result = self
        raise error

    def __repr__(self) -> str:
        return (
            f"PublishResult(event={self.event.type!r}/{self.event.id}, handled={self.handled}, "
            f"errors={len(self.errors)})"
        )
