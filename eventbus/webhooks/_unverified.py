"""The explicit opt-out of signature verification, for local development only."""

from __future__ import annotations

import logging
from collections.abc import Mapping

logger = logging.getLogger("eventbus.webhooks")


class Unverified:
    """Accept every delivery without checking a signature, logging a warning each time.

    For local development and tests against senders that cannot sign. Anyone who can reach
    the endpoint can publish events on the bus: never use it in production.
    """

    def verify(
        self,
        body: bytes,
        headers: Mapping[str, str],
        *,
        method: str = "POST",
        path: str = "/",
        query: str = "",
    ) -> None:
        """Accept the delivery and log a warning on the ``eventbus.webhooks`` logger."""
        logger.warning(
            "webhook delivery to %s accepted WITHOUT signature verification (Unverified "
            "scheme); configure StandardWebhooks, HmacTimestampSignature or "
            "BlockletComponentSignature before going to production",
            path,
        )

    def sign(self, body: bytes, /) -> dict[str, str]:
        """Return no headers: nothing is signed."""
        return {}

    def __repr__(self) -> str:
        return "Unverified()"
