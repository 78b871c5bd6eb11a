"""Payment Kit's own errors."""

from __future__ import annotations

from .._exceptions import EventBusError


class NotificationFailedError(EventBusError, RuntimeError):
    """A self-handled notification's handlers failed, so the trigger's delivery fails too.

    Raised by :class:`NotificationPolicy` while an inbox delivers the trigger: the sender's
    retry delivers the trigger again, and the follow-up's handlers that failed run again
    (only those).

    :ivar event_id: the follow-up's id (``<trigger id>:manual.notification``)
    :ivar status: the follow-up delivery's status (``"failed"``, ``"in_flight"`` or
        ``"dead_letter"``)
    :ivar failed: names of the follow-up handlers that failed
    """

    def __init__(self, event_id: str, status: str, failed: tuple[str, ...]) -> None:
        self.event_id = event_id
        self.status = status
        self.failed = failed
        handlers = ", ".join(failed) or "none ran"
        super().__init__(
            f"the follow-up notification {event_id} was not handled ({status}; failed: "
            f"{handlers}); the trigger's retry runs the failed handlers again, see the log "
            "for their errors"
        )
