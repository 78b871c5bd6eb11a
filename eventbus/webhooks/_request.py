"""One delivery as a plain value: what every entry point turns its request into."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


class HeadersLike(Protocol):
    """Request headers: a ``Mapping[str, str]`` or anything with ``get`` and ``items``
    (werkzeug's ``Headers``, which Flask's ``request.headers`` is, is not a ``Mapping``)."""

    def get(self, key: str, /) -> str | None: ...

    def items(self) -> Iterable[tuple[str, str]]: ...


#: What ``handle`` accepts as headers: a mapping, Flask's headers, or ``(name, value)``
#: pairs, the only form in which a repeated header stays visible.
Headers = Mapping[str, str] | HeadersLike | Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """A delivery as received, before any step looked at it.

    :ivar method: the request method, upper-case
    :ivar path: the decoded path the sender requested, mount prefix included
    :ivar raw_path: the same path percent-encoded as sent (what senders sign)
    :ivar query: the raw query string, without ``?``
    :ivar header_pairs: every header as ``(lower-case name, value)``, repeats kept, in order
    :ivar body: the raw body
    """

    method: str
    path: str
    raw_path: str
    query: str
    header_pairs: tuple[tuple[str, str], ...]
    body: bytes

    @classmethod
    def of(
        cls,
        body: bytes,
        headers: Headers,
        *,
        method: str = "POST",
        path: str = "/",
        query: str = "",
        raw_path: str | None = None,
    ) -> WebhookRequest:
        """Build the value from what a web framework hands over."""
        items: Iterable[tuple[str, str]] = (
            headers.items() if not isinstance(headers, Sequence) else headers
        )
        pairs = tuple([(name.lower(), value) for name, value in items])
        return cls(
            method.upper(), path, path if raw_path is None else raw_path, query, pairs, bytes(body)
        )

    @property
    def headers(self) -> dict[str, str]:
        """The headers as a dict with lower-case names; a repeated one keeps its first value."""
        plain: dict[str, str] = {}
        for name, value in self.header_pairs:
            plain.setdefault(name, value)
        return plain

    def count(self, name: str) -> int:
        """How many times header ``name`` (lower-case) was given."""
        return sum(1 for key, _ in self.header_pairs if key == name)

    @property
    def where(self) -> str:
        """``METHOD path``, to say in the log which request a line is about."""
        return f"{self.method} {self.path}"
