"""Looking the catalogue up and registering it on a bus.

The platform accepts any dotted string as a type (its ``EventType`` is a literal union widened
to ``string``), so the catalogue is what the documents promise, not a closed list: types not
listed are still delivered, as plain events or through a family class.
"""

from __future__ import annotations

from .._bus import EventBus
from ._generated import DESCRIPTIONS, EVENT_CLASSES


def describe(event_type: str, /) -> str:
    """The documents' one-line description of ``event_type``.

    :raises KeyError: the documents do not name ``event_type``
    """
    try:
        return DESCRIPTIONS[event_type]
    except KeyError:
        raise KeyError(
            f"{event_type!r} is not in the Payment Kit catalogue; "
            "see eventbus.paymentkit.DESCRIPTIONS for the documented types"
        ) from None


def register(bus: EventBus, /) -> None:
    """Register the whole catalogue on ``bus``: each documented type and each family.

    After it, publishing or parsing a Payment Kit event validates its data into the entity's
    model; ``customer.subscription.*`` types the documents do not name (``.past_due``) get
    :class:`SubscriptionEvent`, and so on for each family.

    Classes registered later win for the same type, so register your own subclasses of the
    catalogue's classes (or families) after calling this.

    :raises EventClassConflictError: ``bus`` already has a class for a type a catalogue
        family covers, and that class does not subclass the family
    """
    bus.register(*EVENT_CLASSES)
