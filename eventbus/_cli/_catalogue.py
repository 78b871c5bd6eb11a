"""The Payment Kit catalogue the commands use, taken from :mod:`eventbus.paymentkit`."""

from __future__ import annotations

from .. import paymentkit
from .._bus import EventBus


def catalogue() -> dict[str, str]:
    """Every Payment Kit event type eventbus knows, with its one-line description."""
    return dict(paymentkit.DESCRIPTIONS)


def register_models(bus: EventBus) -> None:
    """Register the Payment Kit payload models on ``bus``, so ``listen`` validates as an
    application would: a payload that does not fit its model is answered 422."""
    paymentkit.register(bus)
