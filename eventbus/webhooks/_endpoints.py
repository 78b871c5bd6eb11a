"""Webhook endpoints, as Payment Kit models them: a URL, the event types it wants, a status,
and the secret it is signed with (``whsec_...``), rotated with an overlap.
"""

from __future__ import annotations

import base64
import builtins
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from .._topics import compile_pattern, matches
from ._sender_errors import EndpointNotFoundError

if TYPE_CHECKING:
    from ._addresses import AddressPolicy
    from ._outbox import Outbox

EndpointStatus = Literal["enabled", "disabled"]
SchemeName = Literal["standard", "hmac-timestamp"]
_SCHEMES = ("standard", "hmac-timestamp")
_STATUSES = ("enabled", "disabled")


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC: every time the sender stores is."""
    return datetime.now(UTC)


def new_secret() -> str:
    """A new signing secret: ``whsec_`` + base64 of 24 random bytes (Standard Webhooks' form;
    the ``hmac-timestamp`` scheme uses the whole string as its key, as Stripe does)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A registered receiver of webhooks.

    :ivar id: ``we_`` + 24 hex digits
    :ivar url: where deliveries are POSTed
    :ivar enabled_events: bus patterns of the types it receives (``invoice.*``; ``**`` all)
    :ivar status: ``"enabled"``, or ``"disabled"`` (nothing is queued or sent to it)
    :ivar secret: the current signing secret (left out of ``repr``)
    :ivar scheme: ``"standard"`` (Standard Webhooks) or ``"hmac-timestamp"``
        (``X-Webhook-Signature: t=...,v1=...``, as Blocklet Server signs)
    :ivar previous_secrets: secrets replaced by :meth:`Endpoints.rotate_secret`, each with the
        time until which it still signs
    :ivar failing_since: when the current run of failures began (``None`` after a success)
    :ivar disabled_reason: why the sender disabled it, if it did
    """

    id: str
    url: str
    enabled_events: tuple[str, ...]
    status: EndpointStatus
    secret: str = field(repr=False)
    description: str
    metadata: Mapping[str, Any]
    scheme: SchemeName
    created_at: datetime
    updated_at: datetime
    previous_secrets: tuple[tuple[str, datetime], ...] = field(default=(), repr=False)
    failing_since: datetime | None = None
    disabled_reason: str | None = None

    def wants(self, event_type: str) -> bool:
        """Tell whether an event of ``event_type`` is for this endpoint."""
        return any(matches(pattern, event_type) for pattern in self.enabled_events)

    def signing_secrets(self, now: datetime) -> tuple[str, ...]:
        """The secrets that sign a delivery sent at ``now``: the current one first, then the
        replaced ones whose overlap has not ended."""
        return (self.secret, *(old for old, until in self.previous_secrets if until > now))


def check_patterns(enabled_events: str | Iterable[str]) -> tuple[str, ...]:
    """Validate ``enabled_events``: one pattern or a non-empty list of them.

    :raises InvalidPatternError: a pattern is malformed
    :raises ValueError: the list is empty
    """
    patterns = (enabled_events,) if isinstance(enabled_events, str) else tuple(enabled_events)
    if not patterns:
        raise ValueError("enabled_events is empty; give the patterns to send, '**' for all")
    for pattern in patterns:
        compile_pattern(pattern)
    return patterns


def _check_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    value = dict(metadata or {})
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"metadata must be JSON-serialisable: {exc}") from None
    return value


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, not {value!r}")


class Endpoints:
    """``sender.endpoints``: create, read, change, delete endpoints and rotate their secrets.

    Every method is synchronous: it touches the outbox and resolves host names only.
    """

    def __init__(self, outbox: Outbox, policy: AddressPolicy) -> None:
        self._outbox = outbox
        self._policy = policy

    def create(
        self,
        url: str,
        *,
        enabled_events: str | Iterable[str],
        description: str = "",
        metadata: Mapping[str, Any] | None = None,
        scheme: SchemeName = "standard",
    ) -> Endpoint:
        """Register an endpoint, enabled, with a new secret.

        :raises EndpointURLError: the URL is not ``http(s)`` or its host does not resolve
        :raises UnsafeAddressError: the host is or resolves to an internal address
        :raises InvalidPatternError: a pattern in ``enabled_events`` is malformed
        :raises ValueError: ``enabled_events`` is empty, or ``scheme`` is unknown
        """
        _check_choice("scheme", scheme, _SCHEMES)
        now = utc_now()
        endpoint = Endpoint(
            id="we_" + secrets.token_hex(12),
            url=self._policy.check_url(url),
            enabled_events=check_patterns(enabled_events),
            status="enabled",
            secret=new_secret(),
            description=description,
            metadata=_check_metadata(metadata),
            scheme=scheme,
            created_at=now,
            updated_at=now,
        )
        self._outbox.add_endpoint(endpoint)
        return endpoint

    def get(self, endpoint_id: str, /) -> Endpoint:
        """The endpoint with this id.

        :raises EndpointNotFoundError: there is none
        """
        endpoint = self._outbox.get_endpoint(endpoint_id)
        if endpoint is None:
            raise EndpointNotFoundError(endpoint_id)
        return endpoint

    def list(self) -> builtins.list[Endpoint]:
        """Every endpoint, oldest first."""
        return self._outbox.list_endpoints()

    def update(
        self,
        endpoint_id: str,
        /,
        *,
        url: str | None = None,
        enabled_events: str | Iterable[str] | None = None,
        status: EndpointStatus | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Endpoint:
        """Change the given fields. Enabling an endpoint clears its failure history, so its
        pending deliveries are sent again and the disable clock starts afresh.

        :raises EndpointNotFoundError: there is no such endpoint
        :raises EndpointURLError: the new URL is refused (see :meth:`create`)
        :raises ValueError: ``status`` is neither ``"enabled"`` nor ``"disabled"``
        """
        changes: dict[str, Any] = {}
        if url is not None:
            changes["url"] = self._policy.check_url(url)
        if enabled_events is not None:
            changes["enabled_events"] = check_patterns(enabled_events)
        if status is not None:
            _check_choice("status", status, _STATUSES)
            changes.update(status=status, failing_since=None, disabled_reason=None)
        if description is not None:
            changes["description"] = description
        if metadata is not None:
            changes["metadata"] = _check_metadata(metadata)
        return self._change(endpoint_id, changes)

    def delete(self, endpoint_id: str, /) -> None:
        """Delete the endpoint with its deliveries and attempts.

        :raises EndpointNotFoundError: there is no such endpoint
        """
        if not self._outbox.delete_endpoint(endpoint_id):
            raise EndpointNotFoundError(endpoint_id)

    def rotate_secret(
        self, endpoint_id: str, /, *, overlap: timedelta = timedelta(hours=24)
    ) -> Endpoint:
        """Give the endpoint a new secret; the old one keeps signing for ``overlap``.

        During the overlap every delivery carries a signature under each secret, so a
        receiver still configured with the old secret verifies until it is updated.

        :raises EndpointNotFoundError: there is no such endpoint
        :raises ValueError: ``overlap`` is negative
        """
        if overlap < timedelta(0):
            raise ValueError(f"overlap must not be negative, not {overlap!r}")
        now = utc_now()
        current = self.get(endpoint_id)
        kept = tuple((old, until) for old, until in current.previous_secrets if until > now)
        retiring = ((current.secret, now + overlap),) if overlap else ()
        changes = {"secret": new_secret(), "previous_secrets": retiring + kept}
        return self._change(endpoint_id, changes)

    def _change(self, endpoint_id: str, changes: dict[str, Any]) -> Endpoint:
        changes["updated_at"] = utc_now()
        endpoint = self._outbox.update_endpoint(endpoint_id, changes)
        if endpoint is None:
            raise EndpointNotFoundError(endpoint_id)
        return endpoint
