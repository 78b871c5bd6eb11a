"""Property: nothing a sender controls makes the receiver answer 5xx or raise.

For every scheme, hypothesis draws headers (the scheme's own names with hostile values,
repeated or not) and bodies (JSON of any shape, deep nesting, huge numbers, lone
surrogates, NaN, bytes that are not UTF-8), unsigned and validly signed, and checks the
answer is a 2xx/4xx and that nothing was logged as an adapter failure.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import webhook_vectors as v
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from eventbus import EventBus, paymentkit
from eventbus.webhooks import (
    BlockletComponentSignature,
    HmacTimestampSignature,
    StandardWebhooks,
    Unverified,
    WebhookReceiver,
)

STANDARD = StandardWebhooks(v.SW2_SECRET_NEW)
STRIPE = HmacTimestampSignature(v.ST1_SECRET)
COMPONENT = BlockletComponentSignature(v.CS1_APP_PK)
SCHEMES: dict[str, Any] = {
    "standard": STANDARD,
    "stripe": STRIPE,
    "component": COMPONENT,
    "unverified": Unverified(),
}
NAMES = [
    *STANDARD.signature_headers,
    "stripe-signature",
    *COMPONENT.signature_headers,
    "x-path-prefix",
    "content-type",
    "content-length",
    "traceparent",
]
HOSTILE_TEXT = st.sampled_from(
    [
        "-62135596801",
        "99999999999999999999",
        "1e400",
        "0",
        "",
        " ",
        "v1,",
        "v1,!!!",
        "t=,v1=",
        "t=1,t=2,v1=00",
        "0x" + "0" * 128,
        "0x" + "zz" * 64,
        "\u00ff\u0100",
        "application/json; charset=utf-8",
        "text/plain",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    ]
)
HEADER_VALUE = st.one_of(HOSTILE_TEXT, st.text(max_size=40), st.integers().map(str))
HEADERS = st.lists(st.tuples(st.sampled_from(NAMES), HEADER_VALUE), max_size=4)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([2**53 + 1, -(10**400)])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
EVENT_TYPE = st.sampled_from(
    ["invoice.paid", "customer.subscription.renewed", "checkout.session.completed", "bad type"]
)
OPTIONAL = ["created", "created_at", "time", "source", "parent_id", "$sender", "traceparent"]
ENVELOPES = st.fixed_dictionaries(
    {"type": EVENT_TYPE | JSON_VALUES},
    optional={
        "id": st.text(max_size=10) | JSON_VALUES,
        "data": JSON_VALUES | st.just({"object": {"id": "sub_1"}}),
        "$eventName": EVENT_TYPE,
        **dict.fromkeys(OPTIONAL, JSON_VALUES),
    },
).map(lambda fields: json.dumps(fields).encode())
SPECIAL_BODIES = st.sampled_from(
    [
        b"[" * 2000 + b"]" * 2000,
        b'{"a":' * 600 + b"1" + b"}" * 600,
        b'{"n":1' + b"0" * 400 + b"}",
        b'{"n":1' + b"0" * 5000 + b"}",
        b'{"id":"e","type":"a.b","data":{"s":"\\ud83c"}}',
        b'{"id":"e","type":"a.b","data":NaN}',
        b'{"id":"e","type":"a.b","data":-Infinity}',
        b"\xff\xfe\x00",
        b"",
        b"null",
        b'"\\udfff"',
    ]
)
BODIES = st.one_of(ENVELOPES, SPECIAL_BODIES, st.binary(max_size=64))


def sign(name: str, body: bytes, query: str) -> dict[str, str]:
    if name == "standard":
        return STANDARD.sign(body)
    if name == "stripe":
        return STRIPE.sign(body)
    if name == "component":
        try:
            return COMPONENT.sign(body, private_key=v.CS1_APP_SK, path="/hook", query=query)
        except ValueError:  # not JSON: a sender could not have signed it either
            return {}
    return {}


@pytest.mark.parametrize("name", list(SCHEMES))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    headers=HEADERS,
    body=BODIES,
    signed=st.booleans(),
    method=st.sampled_from(["POST", "POST", "POST", "post", "GET"]),
    query=st.sampled_from(["", "a[b]=1&a=2", "x=%ff&&=&[]=1", "a[0][1][2][3][4][5][6]=z"]),
)
def test_no_input_makes_the_receiver_fail(
    name: str,
    headers: list[tuple[str, str]],
    body: bytes,
    signed: bool,
    method: str,
    query: str,
) -> None:
    bus = EventBus()
    paymentkit.register(bus)
    receiver = WebhookReceiver(bus, SCHEMES[name], max_body_bytes=64_000)
    pairs = headers
    if signed:  # a genuine signature, so the body reaches the steps after verification
        loose = [(key, value) for key, value in headers if key in ("traceparent", "x-path-prefix")]
        pairs = [("content-type", "application/json"), *sign(name, body, query).items(), *loose]
    failures: list[logging.LogRecord] = []
    handler = _Collect(failures)
    logger = logging.getLogger("eventbus.webhooks")
    logger.addHandler(handler)
    try:
        response = receiver.handle(body, pairs, method=method, path="/hook", query=query)
    finally:
        logger.removeHandler(handler)
    event(f"{response.status} {response.body['outcome']}")
    assert response.status < 500, response.body
    assert not failures, failures[0].getMessage()
    json.loads(response.content)


class _Collect(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)
