"""Regression tests for the receiver's holes (issue 11), through ``handle``/``handle_async``.

Each fails on the receiver before the restructuring. The ones about HTTP itself (slow
senders, repeated headers under real servers) are in test_webhooks_http_holes.py.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import anyio.to_thread
import pytest
import webhook_vectors as v
from hypothesis import given, settings
from hypothesis import strategies as st
from webhook_node import run_node
from webhook_support import InvoicePaid, body_of

from eventbus import Event, EventBus, paymentkit
from eventbus.webhooks import (
    BlockletComponentSignature,
    HmacTimestampSignature,
    StandardWebhooks,
    WebhookReceiver,
    WebhookResponse,
)
from eventbus.webhooks._blocklet import signed_text
from eventbus.webhooks._stable_json import stable_stringify

JSON = {"content-type": "application/json"}
STANDARD = StandardWebhooks(v.SW2_SECRET_NEW)
STRIPE = HmacTimestampSignature(v.ST1_SECRET)
COMPONENT = BlockletComponentSignature(v.CS1_APP_PK)
BEFORE_YEAR_1 = "-62135596801"


def call(bus: EventBus, scheme: Any, body: bytes, headers: Any, **kw: Any) -> WebhookResponse:
    pairs = headers if isinstance(headers, list) else list({**JSON, **headers}.items())
    return WebhookReceiver(bus, scheme).handle(body, pairs, **kw)


def component_headers(body: bytes, **changes: str) -> dict[str, str]:
    return {**COMPONENT.sign(body, private_key=v.CS1_APP_SK), **changes}


def no_error_logged(caplog: pytest.LogCaptureFixture) -> bool:
    return not [record for record in caplog.records if record.levelno >= logging.ERROR]


# -- 1. nothing an unauthenticated sender controls yields a 5xx ----------------------------


@pytest.mark.parametrize(
    ("scheme", "headers"),
    [
        pytest.param(
            STANDARD,
            {"webhook-id": "m", "webhook-timestamp": BEFORE_YEAR_1, "webhook-signature": "v1,x"},
            id="standard",
        ),
        pytest.param(
            STANDARD,
            {"webhook-id": "m", "webhook-timestamp": "999999999999", "webhook-signature": "v1,x"},
            id="standard-after-9999",
        ),
        pytest.param(STRIPE, {"Stripe-Signature": f"t={BEFORE_YEAR_1},v1=00"}, id="stripe"),
        pytest.param(
            COMPONENT, {**v.CS1_HEADERS, "x-component-sig-iat": BEFORE_YEAR_1}, id="component-iat"
        ),
        pytest.param(
            COMPONENT, {**v.CS1_HEADERS, "x-component-sig-exp": BEFORE_YEAR_1}, id="component-exp"
        ),
    ],
)
def test_a_time_outside_1970_to_9999_is_a_malformed_header(
    bus: EventBus, scheme: Any, headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    response = call(bus, scheme, body_of(), headers)
    assert response.status == 401
    assert "malformed header" in response.body["error"]
    assert no_error_logged(caplog)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 2000 + b"]" * 2000, id="deep-array"),
        pytest.param(b'{"a":' * 2000 + b"1" + b"}" * 2000, id="deep-object"),
    ],
)
def test_component_body_nested_past_the_parser_is_refused_not_500(
    bus: EventBus, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    response = call(bus, COMPONENT, body, dict(v.CS1_HEADERS))
    assert response.status == 401
    assert "nested too deeply" in response.body["error"]
    assert no_error_logged(caplog)


def test_component_body_nested_600_deep_is_signed_and_handled(bus: EventBus) -> None:
    """The stable JSON writer walks any depth the parser accepts (it used to recurse)."""
    body = json.dumps({"id": "evt_deep", "type": "deep.one", "data": {"x": [[[]]] * 1}})
    body = body.replace("[[[]]]", "[" * 600 + "]" * 600)
    response = call(bus, COMPONENT, body.encode(), component_headers(body.encode()))
    assert (response.status, response.body["outcome"]) == (200, "handled")


def test_component_number_beyond_a_float_is_signed_as_null_like_verify_sig(bus: EventBus) -> None:
    """JS ``JSON.parse`` makes ``1000...0`` (401 digits) Infinity, ``JSON.stringify`` null:
    the component client's signature over ``{"n": null}`` verifies the raw body."""
    huge = b'{"id":"evt_n","type":"num.big","n":1' + b"0" * 400 + b"}"
    sent = run_node(
        "blocklet",
        {"app_sk": v.CS1_APP_SK, "url": "/", "json": '{"id":"evt_n","type":"num.big","n":null}'},
    )
    response = call(bus, COMPONENT, huge, sent["headers"])
    assert (response.status, response.body["outcome"]) == (200, "handled")
    assert COMPONENT.sign(huge, private_key=v.CS1_APP_SK)  # sign() no longer overflows


def test_stable_stringify_walks_any_depth_and_writes_js_numbers() -> None:
    assert stable_stringify([[[]]]) == "[[[]]]"
    deep: Any = 1
    for _ in range(5000):
        deep = {"a": deep}
    assert stable_stringify(deep) == '{"a":' * 5000 + "1" + "}" * 5000
    assert stable_stringify({"n": 10**400, "f": float("inf"), "i": 2**60}) == (
        '{"f":null,"i":1152921504606847000,"n":null}'
    )


# -- 2. Svix's default header names ---------------------------------------------------------


def svix_headers(body: bytes, msg_id: str = "msg_svix") -> dict[str, str]:
    signed = STANDARD.sign(body, msg_id=msg_id)
    return {name.replace("webhook-", "svix-"): value for name, value in signed.items()}


def test_svix_headers_are_accepted(bus: EventBus) -> None:
    response = call(bus, STANDARD, body_of(None), svix_headers(body_of(None)))
    assert (response.status, response.body["event_id"]) == (200, "msg_svix")


def test_when_both_sets_are_complete_the_webhook_set_is_checked(bus: EventBus) -> None:
    body = body_of(None)
    good_svix = svix_headers(body)
    bad_webhook = {**STANDARD.sign(b"other"), "webhook-id": "msg_w"}
    response = call(bus, STANDARD, body, {**good_svix, **bad_webhook})
    assert response.status == 401
    assert "'webhook-signature'" in response.body["error"]
    response = call(bus, STANDARD, body, {**STANDARD.sign(body, msg_id="w"), **svix_headers(b"x")})
    assert (response.status, response.body["event_id"]) == (200, "w")


def test_a_mix_of_webhook_and_svix_headers_is_refused(bus: EventBus) -> None:
    body = body_of(None)
    signed = STANDARD.sign(body, msg_id="msg_mix")
    mixed = {
        "webhook-id": "msg_mix",
        "svix-timestamp": signed["webhook-timestamp"],
        "svix-signature": signed["webhook-signature"],
    }
    response = call(bus, STANDARD, body, mixed)
    assert response.status == 401
    assert "never mixed" in response.body["error"]


# -- 3. valid JSON JavaScript senders emit; NaN and infinities are not JSON ----------------


def test_a_lone_surrogate_escape_is_accepted_and_the_event_writes_again(bus: EventBus) -> None:
    seen: list[Event[Any]] = []
    bus.subscribe(seen.append)
    body = b'{"id":"evt_cut","type":"note.cut","data":{"text":"\\ud83c"}}'
    response = call(bus, STANDARD, body, STANDARD.sign(body))
    assert (response.status, response.body["outcome"]) == (200, "handled")
    assert seen[0].data == {"text": "\ud83c"}
    assert b'"text":"\\ud83c"' in seen[0].to_json()


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_are_400(bus: EventBus, literal: str) -> None:
    body = f'{{"id":"evt_nan","type":"num.bad","data":{{"x":{literal}}}}}'.encode()
    response = call(bus, STANDARD, body, STANDARD.sign(body))
    assert response.status == 400
    assert f"{literal} is not a JSON value" in response.body["error"]


# -- 4. the component signature as verifySig computes it -----------------------------------


def test_component_keys_sort_by_utf16_code_units() -> None:
    """U+1F600 (code units D83D DE00) sorts before U+FF5E in JavaScript, after it by code
    point."""
    body = {"\uff5e": 2, "\U0001f600": 1}
    text = signed_text(body, iat=1, exp=2, method="post", url="/", query="")
    assert text.decode().startswith('{"body":{"\U0001f600":1,"\uff5e":2}')


def test_component_lone_surrogate_is_written_as_its_escape() -> None:
    text = signed_text({"s": "\ud83c"}, iat=1, exp=2, method="post", url="/", query="")
    assert text.startswith(b'{"body":{"s":"\\ud83c"}')


@pytest.mark.parametrize(
    ("query", "parsed"),
    [
        ("ids[0]=1&ids[1]=2", {"ids": ["1", "2"]}),
        ("a[b]=1", {"a": {"b": "1"}}),
        ("a=1&a=2&b=", {"a": ["1", "2"], "b": ""}),
        ("a[]=x&a[]=y", {"a": ["x", "y"]}),
        ("a%5Bb%5D=1", {"a": {"b": "1"}}),
        ("q=a+b%20c&bad=%E0%A4%A", {"q": "a b c", "bad": "%E0%A4%A"}),
        ("a[1]=b&a[0]=a", {"a": ["a", "b"]}),
        ("a[20]=x", {"a": {"20": "x"}}),
        ("a[b][c][d][e][f][g][h]=1", {"a": {"b": {"c": {"d": {"e": {"f": {"[g][h]": "1"}}}}}}}),
        ("flag&=1&__proto__=x", {"flag": ""}),
    ],
)
def test_component_query_is_parsed_as_express_4(query: str, parsed: dict[str, Any]) -> None:
    from eventbus.webhooks._qs import parse_query

    assert parse_query(query) == parsed
    assert run_node("qs", [query]) == [parsed]


def test_component_signs_the_raw_path(bus: EventBus) -> None:
    body = json.dumps(v.CS1_OBJECT).encode()
    headers = COMPONENT.sign(body, private_key=v.CS1_APP_SK, path="/api/hook%20x")
    ok = call(bus, COMPONENT, body, headers, path="/api/hook x", raw_path="/api/hook%20x")
    assert ok.status == 200
    assert call(bus, COMPONENT, body, headers, path="/api/hook x").status == 401


# -- 6. a signature header given twice ------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "repeated"),
    [
        (STANDARD, "webhook-id"),
        (STANDARD, "webhook-timestamp"),
        (STANDARD, "webhook-signature"),
        (STANDARD, "svix-signature"),
        (STRIPE, "stripe-signature"),
        (COMPONENT, "x-component-sig"),
        (COMPONENT, "x-component-sig-iat"),
    ],
)
@pytest.mark.anyio
async def test_a_signature_header_given_twice_is_401(
    bus: EventBus, scheme: Any, repeated: str
) -> None:
    body = json.dumps(v.CS1_OBJECT).encode()
    if scheme is COMPONENT:
        signed = component_headers(body)
    elif scheme is STRIPE:
        signed = STRIPE.sign(body)
    else:
        signed = {**STANDARD.sign(body), **svix_headers(body)}
    pairs = [*JSON.items(), *signed.items()]
    pairs += [(name, value) for name, value in signed.items() if name.lower() == repeated]
    receiver = WebhookReceiver(bus, scheme)
    assert (await receiver.handle_async(body, pairs[: len(JSON) + len(signed)])).status == 200
    in_thread = await anyio.to_thread.run_sync(receiver.handle, body, pairs)
    for response in (in_thread, await receiver.handle_async(body, pairs)):
        assert response.status == 401
        assert f"header {repeated!r} was given 2 times" in response.body["error"]


def test_a_joined_value_as_a_wsgi_server_makes_it_fails_to_parse(bus: EventBus) -> None:
    body = body_of()
    for scheme, signed in [(STANDARD, STANDARD.sign(body)), (STRIPE, STRIPE.sign(body))]:
        joined = {name: f"{value},{value}" for name, value in signed.items()}
        for name in signed:
            response = call(bus, scheme, body, {**signed, name: joined[name]})
            assert response.status == 401, name


# -- 7. values quoted in errors are cut -----------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"id": ["x" * 10] * 60_000, "type": "a.b"}, id="id-list"),
        pytest.param({"id": "evt_1", "type": "bad type " * 60_000}, id="invalid-type"),
    ],
)
def test_an_error_quotes_at_most_200_characters_of_a_value(
    bus: EventBus, fields: dict[str, Any]
) -> None:
    body = json.dumps(fields).encode()
    response = call(bus, STANDARD, body, STANDARD.sign(body))
    assert response.status == 400
    assert len(body) > 500_000
    assert len(response.content) < 1_000
    assert "characters)" in response.body["error"]


@pytest.mark.parametrize("source", ["body", "webhook-id"])
def test_an_id_over_255_characters_is_refused_before_any_handler_runs(
    bus: EventBus, source: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A signed 600 KB id is neither echoed in the answer or the log nor handled."""
    handled: list[Event[Any]] = []
    bus.subscribe("invoice.paid", handled.append)
    huge = "e" * 600_000
    body = body_of(huge if source == "body" else None)
    headers = STANDARD.sign(body, msg_id=huge) if source == "webhook-id" else STANDARD.sign(body)
    caplog.set_level(logging.INFO, logger="eventbus.webhooks")
    response = call(bus, STANDARD, body, headers)
    assert (response.status, response.body["event_id"]) == (400, None)
    assert "600000 characters long" in response.body["error"]
    assert "at most 255 characters" in response.body["error"]
    assert len(response.content) < 1_000
    assert all(len(record.getMessage()) < 1_000 for record in caplog.records)
    assert handled == []


def test_an_id_of_255_characters_is_handled_and_its_duplicate_answered(bus: EventBus) -> None:
    handled: list[Event[Any]] = []
    bus.subscribe("invoice.paid", handled.append)
    receiver = WebhookReceiver(bus, STANDARD)
    body = body_of("e" * 255)
    for outcome in ("handled", "duplicate"):
        assert receiver.handle(body, {**JSON, **STANDARD.sign(body)}).body["outcome"] == outcome
    assert [event.id for event in handled] == ["e" * 255]


# -- 8. every refusal leaves one line in the log ---------------------------------------------


def refusals() -> list[Any]:
    good = body_of("evt_log")
    return [
        pytest.param(b"{", STANDARD.sign(b"{"), 400, logging.WARNING, id="400"),
        pytest.param(good, {"webhook-id": "m"}, 401, logging.WARNING, id="401"),
        pytest.param(good, {"content-type": "text/plain"}, 415, logging.WARNING, id="415"),
        pytest.param(b"x" * 2000, {}, 413, logging.WARNING, id="413"),
        pytest.param(
            body_of("evt_log", amount_paid="x"),
            STANDARD.sign(body_of("evt_log", amount_paid="x")),
            422,
            logging.WARNING,
            id="422",
        ),
    ]


@pytest.mark.parametrize(("body", "headers", "status", "level"), refusals())
def test_a_refusal_logs_one_line_without_secrets(
    bus: EventBus,
    body: bytes,
    headers: dict[str, str],
    status: int,
    level: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus.register(InvoicePaid)
    receiver = WebhookReceiver(bus, STANDARD, max_body_bytes=1000)
    caplog.set_level(logging.INFO, logger="eventbus.webhooks")
    response = receiver.handle(body, {**JSON, **headers}, path="/hooks")
    assert response.status == status
    [record] = caplog.records
    assert (record.name, record.levelno) == ("eventbus.webhooks", level)
    line = record.getMessage()
    assert f"POST /hooks answered {status} rejected" in line
    assert response.body["error"] in line
    for secret in [v.SW2_SECRET_NEW, headers.get("webhook-signature", "v1,"), body.decode()]:
        assert secret not in line
    assert record.webhook_status == status  # type: ignore[attr-defined]


def test_a_duplicate_and_an_in_flight_delivery_log_at_info(
    bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = WebhookReceiver(bus, STANDARD)
    body = body_of("evt_twice")
    caplog.set_level(logging.INFO, logger="eventbus.webhooks")
    claim = receiver.inbox.store.claim("evt_busy", handlers=())  # type: ignore[union-attr]
    assert receiver.handle(body_of("evt_busy"), {**JSON, **STANDARD.sign(body_of("evt_busy"))})
    receiver.handle(body, {**JSON, **STANDARD.sign(body)})
    receiver.handle(body, {**JSON, **STANDARD.sign(body)})
    receiver.inbox.store.settle(claim, completed=(), failed={})  # type: ignore[union-attr]
    lines = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert lines == [
        (logging.INFO, "webhook POST / answered 409 in_flight, event evt_busy: another delivery "
         "of this event is being handled right now; retry later"),
        (logging.INFO, "webhook POST / answered 200 duplicate, event evt_twice: already handled"),
    ]


# -- 9. one rule for 400 vs 422 -----------------------------------------------------------


@pytest.mark.parametrize("registered", [False, True], ids=["unregistered", "paymentkit"])
def test_a_bad_envelope_field_is_400_registered_or_not(bus: EventBus, registered: bool) -> None:
    if registered:
        paymentkit.register(bus)
    fields = {
        "id": "evt_y",
        "type": "customer.subscription.renewed",
        "created_at": "yesterday",
        "data": {"object": {"id": "sub_1"}},
    }
    body = json.dumps(fields).encode()
    response = call(bus, STANDARD, body, STANDARD.sign(body))
    assert response.status == 400
    assert "created_at" in response.body["error"]


def test_data_that_does_not_fit_the_registered_model_is_422(bus: EventBus) -> None:
    bus.register(InvoicePaid)
    body = body_of("evt_bad", object={"id": "in_1", "amount_paid": "lots"})
    response = call(bus, STANDARD, body, STANDARD.sign(body))
    assert response.status == 422
    assert "data.object.amount_paid" in response.body["error"]


# -- trace context ----------------------------------------------------------------------------

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
OTHER_TRACE = "00-" + "1" * 32 + "-" + "2" * 16 + "-00"


@pytest.mark.parametrize(
    ("header", "in_body", "kept"),
    [
        (TRACEPARENT, None, TRACEPARENT),
        (TRACEPARENT, OTHER_TRACE, OTHER_TRACE),
        ("garbage", None, None),
    ],
    ids=["from-header", "body-wins", "invalid-ignored"],
)
def test_the_traceparent_header_is_kept_on_the_event(
    bus: EventBus, header: str, in_body: str | None, kept: str | None
) -> None:
    seen: list[Event[Any]] = []
    bus.subscribe(seen.append)
    fields: dict[str, Any] = {"id": "evt_t", "type": "trace.me", "data": {}}
    if in_body is not None:
        fields["traceparent"] = in_body
    body = json.dumps(fields).encode()
    assert call(bus, STANDARD, body, {**STANDARD.sign(body), "traceparent": header}).ok
    assert getattr(seen[0], "traceparent", None) == kept


def test_handle_refuses_time_of_signing_in_the_far_future_without_overflow(bus: EventBus) -> None:
    """A valid-range time far off is only 'too new', shown with both times."""
    body = body_of()
    headers = STANDARD.sign(body, timestamp=int(time.time()) + 10**10)
    response = call(bus, STANDARD, body, headers)
    assert response.status == 401
    assert "too new" in response.body["error"]


KEY_PART = st.sampled_from(
    ["a", "b", "[a]", "[b]", "[0]", "[1]", "[2]", "[]", "[c][d]", "%5Ba%5D", "["]
)
QUERY_PART = st.tuples(
    st.sampled_from(["a", "b", "c"]),
    st.lists(KEY_PART, max_size=3).map("".join),
    st.sampled_from(["", "=", "=x", "=y%20z", "=+", "=%ff", "=1&"]),
).map("".join)
QUERIES = st.lists(QUERY_PART, max_size=5).map("&".join)


@settings(max_examples=4, deadline=None)
@given(st.lists(QUERIES, min_size=100, max_size=100))
def test_component_query_parsing_agrees_with_express_qs(queries: list[str]) -> None:
    """The parsed query equals what Express 4's qs gives, for small keys and values (at
    most a few merges per key, where qs's list-and-object bookkeeping does not show)."""
    from eventbus.webhooks._qs import parse_query

    expected = run_node("qs", queries)
    for query, parsed in zip(queries, expected, strict=True):
        assert parse_query(query) == parsed, query


def test_a_number_past_pythons_digit_limit_is_400_in_the_senders_terms(bus: EventBus) -> None:
    """The sender reads how many digits are too many, not advice for the receiver's Python."""
    body = b'{"id":"evt_digits","type":"num.long","n":1' + b"0" * 4999 + b"}"
    response = call(bus, STANDARD, body, STANDARD.sign(body, msg_id="msg_digits"))
    assert response.status == 400
    assert "a number in the body has more than 4300 digits" in response.body["error"]
    assert "sys." not in response.body["error"]
