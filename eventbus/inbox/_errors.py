"""The inbox's own errors (a vanished store file is :class:`StoreFileMissingError`)."""

from __future__ import annotations

from .._exceptions import EventBusError


class DeadLetterNotFoundError(EventBusError, LookupError):
    """:meth:`Inbox.retry_dead_letter` was given an id that is not a dead letter.

    It was never one, was already retried, or is older than the store's ttl; list the
    current ones with :meth:`Inbox.dead_letters`.

    :ivar event_id: the id asked for
    """

    def __init__(self, event_id: str) -> None:
        self.event_id = event_id
        super().__init__(
            f"event {event_id!r} is not a dead letter (never given up, already retried, or "
            "forgotten after the store's ttl); see inbox.dead_letters() for the current ones"
        )
