"""Deliveries signed by the senders' own libraries: npm packages run with node, and the
Python reference libraries. Each must be handled (200) by the matching scheme."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import standardwebhooks
import stripe
import svix.webhooks
import webhook_vectors as v
from webhook_node import run_node
from webhook_support import serve_asgi, serve_wsgi

from eventbus import Event, EventBus
from eventbus.webhooks import (
    BlockletComponentSignature,
    HmacTimestampSignature,
    StandardWebhooks,
    WebhookReceiver,
)

JSON = {"content-type": "application/json"}
#: A string cut mid-emoji, as JavaScript's JSON.stringify writes it: a lone surrogate escape.
CUT = '{"id":"evt_cut","type":"note.cut","data":{"text":"caf\\u00e9 \\ud83c"}}'
PLAIN = '{"id":"evt_plain","type":"invoice.paid","data":{"object":{"id":"in_1"}}}'


def handled(bus: EventBus, scheme: Any, body: bytes, headers: dict[str, str], **call: Any) -> Any:
    seen: list[Event[Any]] = []
    bus.subscribe(seen.append)
    response = WebhookReceiver(bus, scheme).handle(body, {**JSON, **headers}, **call)
    assert (response.status, response.body["outcome"]) == (200, "handled"), response.body
    assert len(seen) == 1
    return seen[0]


@pytest.mark.parametrize("text", [PLAIN, CUT], ids=["plain", "lone-surrogate"])
def test_npm_standardwebhooks_signature_is_handled(bus: EventBus, text: str) -> None:
    headers = run_node(
        "standardwebhooks",
        {"secret": v.SW2_SECRET_NEW, "id": "msg_npm", "timestamp": int(time.time()), "body": text},
    )
    event = handled(bus, StandardWebhooks(v.SW2_SECRET_NEW), text.encode(), headers)
    assert event.id == json.loads(text)["id"]


@pytest.mark.parametrize("text", [PLAIN, CUT], ids=["plain", "lone-surrogate"])
def test_npm_svix_default_headers_are_handled(bus: EventBus, text: str) -> None:
    """Svix sends svix-id/-timestamp/-signature; StandardWebhooks accepts them."""
    headers = run_node(
        "svix",
        {"secret": v.SW1_SECRET, "id": "msg_svix", "timestamp": int(time.time()), "body": text},
    )
    assert set(headers) == {"svix-id", "svix-timestamp", "svix-signature"}
    event = handled(bus, StandardWebhooks(v.SW1_SECRET), text.encode(), headers)
    assert event.data["text" if text == CUT else "object"]


def test_npm_stripe_signature_is_handled(bus: EventBus) -> None:
    headers = run_node(
        "stripe", {"secret": v.ST1_SECRET, "timestamp": int(time.time()), "body": PLAIN}
    )
    handled(bus, HmacTimestampSignature(v.ST1_SECRET), PLAIN.encode(), headers)


def test_python_svix_library_signature_is_handled(bus: EventBus) -> None:
    now = datetime.now(UTC)
    signature = svix.webhooks.Webhook(v.SW1_SECRET).sign("msg_py", now, CUT)
    headers = {"svix-id": "msg_py", "svix-timestamp": str(int(now.timestamp()))}
    event = handled(
        bus, StandardWebhooks(v.SW1_SECRET), CUT.encode(), {**headers, "svix-signature": signature}
    )
    assert event.data["text"] == "caf\u00e9 \ud83c"
    assert b"\\ud83c" in event.to_json()


def test_python_standardwebhooks_library_signature_is_handled(bus: EventBus) -> None:
    now = datetime.now(UTC)
    signature = standardwebhooks.Webhook(v.SW2_SECRET_NEW).sign("msg_sw", now, CUT)
    headers = {
        "webhook-id": "msg_sw",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    handled(bus, StandardWebhooks(v.SW2_SECRET_NEW), CUT.encode(), headers)


def test_python_stripe_library_signature_of_a_lone_surrogate_body_is_handled(
    bus: EventBus,
) -> None:
    header = stripe.WebhookSignature.generate_signature_header(
        CUT, v.ST1_SECRET, timestamp=int(time.time())
    )
    handled(bus, HmacTimestampSignature(v.ST1_SECRET), CUT.encode(), {"Stripe-Signature": header})


# -- Blocklet's component client (@blocklet/sdk), signing what verifySig checks -------------

#: Keys JavaScript sorts differently from Python (U+1F600 < U+FF5E in UTF-16 code units, the
#: other way round in code points), a lone surrogate and a large float.
COMPONENT_BODY = json.dumps(
    {
        "id": "evt_component",
        "type": "customer.subscription.renewed",
        "data": {"\uff5e": 1, "\U0001f600": 2, "text": "\ud83c", "n": 1.5e300},
    }
)
COMPONENT_CASES = [
    pytest.param("/api/payment/callback", "", id="plain"),
    pytest.param("/api/hook%20x", "", id="percent-encoded-path"),
    pytest.param("/api/hook", "ids[0]=1&ids[1]=2", id="qs-indexed-array"),
    pytest.param("/api/hook", "a[b]=1&a[c][d]=2&e=1&e=2&f[]=x", id="qs-nested"),
    pytest.param("/api/hook", "q=a+b%20c&empty=&flag", id="qs-decoding"),
]


def component_delivery(path: str, query: str) -> tuple[bytes, dict[str, str]]:
    url = path + ("?" + query if query else "")
    sent = run_node("blocklet", {"app_sk": v.CS1_APP_SK, "url": url, "json": COMPONENT_BODY})
    return sent["body"].encode(), sent["headers"]


@pytest.mark.parametrize(("path", "query"), COMPONENT_CASES)
def test_npm_component_client_signature_is_handled(bus: EventBus, path: str, query: str) -> None:
    body, headers = component_delivery(path, query)
    event = handled(
        bus,
        BlockletComponentSignature(v.CS1_APP_PK),
        body,
        headers,
        path=path.replace("%20", " "),
        raw_path=path,
        query=query,
    )
    assert event.data["text"] == "\ud83c"


@pytest.mark.parametrize("server", [serve_asgi, serve_wsgi], ids=["uvicorn", "werkzeug"])
@pytest.mark.parametrize(("path", "query"), COMPONENT_CASES)
def test_npm_component_client_signature_over_http(
    bus: EventBus, server: Any, path: str, query: str
) -> None:
    """Under a real server the scheme sees the raw, percent-encoded path as sent."""
    receiver = WebhookReceiver(bus, BlockletComponentSignature(v.CS1_APP_PK))
    app = receiver.asgi_app() if server is serve_asgi else receiver.wsgi_app()
    body, headers = component_delivery(path, query)
    with server(app) as url:
        target = httpx.URL(url + path, query=query.encode())
        response = httpx.post(target, content=body, headers={**JSON, **headers}, timeout=30)
    assert response.status_code == 200, response.json()
