"""How the commands print: one flushed line per message, deliveries in one line each."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import Any

_VIEW_KEYS = ("id", "amount", "status")


def say(line: str) -> None:
    """Print ``line`` on stdout and flush, so a process reading a pipe sees it at once."""
    print(line, flush=True)


def note(line: str) -> None:
    """Print ``line`` on stderr (remarks that are not the command's result)."""
    print(line, file=sys.stderr, flush=True)


def load_json(raw: bytes | str) -> Any:
    """Decode JSON, or return ``None`` for anything that is not."""
    try:
        return json.loads(raw)
    except ValueError:
        return None


def event_type_of(body: Any) -> str | None:
    """The type a delivery claims: ``type``, or ``$eventName`` in Blocklet Server's shape."""
    if not isinstance(body, Mapping):
        return None
    claimed = body.get("$eventName", body.get("type"))
    return claimed if isinstance(claimed, str) else None


def object_view(body: Any) -> str:
    """A short view of ``data.object``: its ``id``, ``amount`` and ``status`` where present.

    A notification (``manual.notification``) has none of them; its original ``type`` is shown.
    """
    data = body.get("data") if isinstance(body, Mapping) else None
    obj = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(obj, Mapping):
        return ""
    parts = [f"{key}={obj[key]}" for key in _VIEW_KEYS if key in obj and obj[key] is not None]
    if not parts and isinstance(obj.get("type"), str):
        parts.append(f"type={obj['type']}")
    return "{" + " ".join(parts) + "}" if parts else ""


def delivery_line(
    when: datetime,
    status: int,
    request_body: bytes,
    response_body: bytes,
    *,
    forwarded: str | None = None,
) -> str:
    """The line ``listen`` prints for one delivery.

    ``time status outcome type id {object}``, then, with ``--forward-to``, the status line
    the application's endpoint answered, and the reason of a refused or failed delivery.
    For a forwarded delivery the status, outcome and reason are the application's. For a
    401 the type, id and object are read from the unverified body, to help find the
    sender's mistake, and marked ``(unverified)``: the receiver parsed nothing.
    """
    request = load_json(request_body)
    response = load_json(response_body)
    answer: Mapping[str, Any] = response if isinstance(response, Mapping) else {}
    outcome = str(answer.get("outcome") or "-")
    event_id = answer.get("event_id") or (
        request.get("id") if isinstance(request, Mapping) else None
    )
    fields = [
        when.strftime("%H:%M:%S"),
        str(status),
        f"{outcome:<9}",
        f"{event_type_of(request) or '-':<30}",
        str(event_id or "-"),
    ]
    view = object_view(request)
    if view:
        fields.append(view)
    if status == 401:
        fields.append("(unverified)")
    if forwarded is not None:
        fields.append(f"forwarded: {forwarded}")
    error = answer.get("error")
    if error:
        fields.append(f"reason: {error}")
    return " ".join(fields)
