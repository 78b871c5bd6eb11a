"""Shared by the framework adapter tests: a signed delivery and the checks on an answer."""

from __future__ import annotations

import json
from typing import Any

import httpx
import webhook_vectors as v

from eventbus.webhooks import BlockletComponentSignature, StandardWebhooks

SCHEME = StandardWebhooks(v.SW2_SECRET_NEW)
#: Signs the path and query, so it shows what path an adapter passed to the receiver.
BLOCKLET = BlockletComponentSignature(v.CS1_APP_PK)
JSON = {"content-type": "application/json"}
#: Every method but POST; each must get the receiver's JSON 405.
OTHER_METHODS = ["GET", "PUT", "PATCH", "DELETE", "OPTIONS"]
ANSWER_KEYS = {"ok", "outcome", "event_id", "error"}


def signed(body: bytes, msg_id: str = "msg_1") -> dict[str, str]:
    """Standard Webhooks headers for ``body``."""
    return {**JSON, **SCHEME.sign(body, msg_id=msg_id)}


def component_signed(path: str, query: str = "") -> tuple[bytes, dict[str, str]]:
    """A body and the component signature over it, ``path`` and ``query``."""
    body = json.dumps(v.CS1_OBJECT).encode()
    headers = BLOCKLET.sign(body, private_key=v.CS1_APP_SK, path=path, query=query)
    return body, {**JSON, **headers}


def receiver_answer(response: httpx.Response) -> tuple[int, str]:
    """Check that ``response`` is the receiver's JSON answer; return (status, outcome)."""
    assert response.headers["content-type"] == "application/json", response.text
    body: dict[str, Any] = response.json()
    assert set(body) == ANSWER_KEYS, body
    assert body["ok"] is (200 <= response.status_code < 300)
    return response.status_code, body["outcome"]


def assert_405(response: httpx.Response) -> None:
    """The receiver's 405: JSON, rejected, with ``Allow: POST``."""
    assert receiver_answer(response) == (405, "rejected")
    assert response.headers["allow"] == "POST"
    assert "webhooks are delivered with POST" in response.json()["error"]


#: A path as a sender writes and signs it, and as a framework's router sees it decoded; the
#: two differ even after percent-encoding the decoded one again (``~`` needs no escape).
RAW_PATH = "/api/hook%7Ex"
DECODED_PATH = "/api/hook~x"
