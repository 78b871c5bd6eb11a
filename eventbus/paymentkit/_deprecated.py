"""Old names that still import, with a :class:`DeprecationWarning` saying what replaced them."""

from __future__ import annotations

import warnings
from typing import Any

from ._models import CustomerSubscription

_RENAMED: dict[str, tuple[str, Any]] = {
    # Shared its name with eventbus.Subscription (what subscribe() returns).
    "Subscription": ("CustomerSubscription", CustomerSubscription),
}


def __getattr__(name: str) -> Any:
    """Resolve a renamed attribute of :mod:`eventbus.paymentkit`, warning once per use.

    :raises AttributeError: ``name`` is not a renamed attribute either
    """
    if name in _RENAMED:
        new_name, value = _RENAMED[name]
        warnings.warn(
            f"eventbus.paymentkit.{name} was renamed {new_name}; import "
            f"eventbus.paymentkit.{new_name} instead (the old name will be removed)",
            DeprecationWarning,
            stacklevel=2,
        )
        return value
    raise AttributeError(f"module 'eventbus.paymentkit' has no attribute {name!r}")
