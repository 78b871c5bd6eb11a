"""Signature schemes: the published vectors, the reference libraries, and every failed check."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
import standardwebhooks
import stripe
import webhook_vectors as v

from eventbus.webhooks import (
    BlockletComponentSignature,
    HmacTimestampSignature,
    SignatureError,
    SignatureScheme,
    StandardWebhooks,
    Unverified,
    WebhookError,
)
from eventbus.webhooks._blocklet import signed_text
from eventbus.webhooks._qs import parse_query
from eventbus.webhooks._stable_json import js_number, stable_stringify

NOW = int(time.time())


def sw1_headers(**changes: str) -> dict[str, str]:
    headers = {
        "webhook-id": v.SW1_ID,
        "webhook-timestamp": v.SW1_TIMESTAMP,
        "webhook-signature": v.SW1_SIGNATURE,
    }
    headers.update(changes)
    return headers


def sw2_headers() -> dict[str, str]:
    return {
        "webhook-id": v.SW2_ID,
        "webhook-timestamp": v.SW2_TIMESTAMP,
        "webhook-signature": v.SW2_SIGNATURE_HEADER,
    }


# -- Standard Webhooks ------------------------------------------------------------------------


def test_standard_sw1_vector_verifies_and_returns_the_delivery_id() -> None:
    """SW-1, the canonical Svix example, passes and yields its webhook-id."""
    scheme = StandardWebhooks(v.SW1_SECRET, tolerance=None)
    assert scheme.verify(v.SW1_BODY, sw1_headers()) == v.SW1_ID


def test_standard_sw1_one_character_change_fails() -> None:
    """The reference library's invalid signature (one character off) is refused."""
    scheme = StandardWebhooks(v.SW1_SECRET, tolerance=None)
    with pytest.raises(SignatureError, match="no matching signature"):
        scheme.verify(v.SW1_BODY, sw1_headers(**{"webhook-signature": v.SW1_BAD_SIGNATURE}))


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param(v.SW2_SECRET_NEW, id="new-secret"),
        pytest.param(v.SW2_SECRET_OLD, id="old-secret"),
        pytest.param([v.SW2_SECRET_OLD, v.SW2_SECRET_NEW], id="both"),
    ],
)
def test_standard_sw2_rotated_header_passes_under_either_secret(secret: str | list[str]) -> None:
    """SW-2's two-signature header (non-ASCII body) passes under the old or the new secret."""
    assert len(v.SW2_BODY) == 376
    scheme = StandardWebhooks(secret, tolerance=None)
    assert scheme.verify(v.SW2_BODY, sw2_headers()) == v.SW2_ID


def test_standard_sign_reproduces_the_published_signatures() -> None:
    """sign() with both secrets gives exactly the SW-2 signatures."""
    scheme = StandardWebhooks([v.SW2_SECRET_NEW, v.SW2_SECRET_OLD])
    headers = scheme.sign(v.SW2_BODY, msg_id=v.SW2_ID, timestamp=int(v.SW2_TIMESTAMP))
    assert headers["webhook-signature"] == f"{v.SW2_SIGNATURE_NEW} {v.SW2_SIGNATURE_OLD}"
    assert headers["webhook-id"] == v.SW2_ID


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(json.dumps(v.SW2_OBJECT, ensure_ascii=False).encode(), id="spaces"),
        pytest.param(json.dumps(v.SW2_OBJECT, separators=(",", ":")).encode(), id="escaped"),
        pytest.param(
            json.dumps(
                v.SW2_OBJECT, separators=(",", ":"), ensure_ascii=False, sort_keys=True
            ).encode(),
            id="key-order",
        ),
    ],
)
def test_standard_reserialised_body_fails(body: bytes) -> None:
    """The same event re-serialised (spaces, escaping, key order) is not what was signed."""
    scheme = StandardWebhooks(v.SW2_SECRET_NEW, tolerance=None)
    with pytest.raises(SignatureError, match=r"no matching signature.*raw bytes"):
        scheme.verify(body, sw2_headers())


def test_standard_reference_library_signature_verifies() -> None:
    """A signature made now by ``standardwebhooks`` passes with the default tolerance."""
    when = datetime.now(UTC)
    signature = standardwebhooks.Webhook(v.SW2_SECRET_NEW).sign(
        "msg_ref", when, v.SW2_BODY.decode()
    )
    headers = {
        "webhook-id": "msg_ref",
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signature,
    }
    assert StandardWebhooks(v.SW2_SECRET_NEW).verify(v.SW2_BODY, headers) == "msg_ref"


def test_standard_sign_is_accepted_by_the_reference_library() -> None:
    """Headers from sign() pass ``standardwebhooks.Webhook.verify``."""
    headers = StandardWebhooks(v.SW1_SECRET).sign(v.SW1_BODY)
    assert standardwebhooks.Webhook(v.SW1_SECRET).verify(v.SW1_BODY, headers) == json.loads(
        v.SW1_BODY
    )


def test_standard_raw_bytes_secret_equals_whsec_form() -> None:
    """The secret's raw bytes and its whsec_ form sign alike."""
    headers = StandardWebhooks(bytes(range(32))).sign(b"{}", msg_id="m", timestamp=NOW)
    assert StandardWebhooks(v.SW2_SECRET_NEW).verify(b"{}", headers) == "m"


def test_standard_headers_are_case_insensitive_in_a_plain_dict() -> None:
    """Header names match whatever their case, even in a plain dict."""
    headers = {key.title(): value for key, value in sw1_headers().items()}
    headers["WEBHOOK-SIGNATURE"] = headers.pop("Webhook-Signature")
    assert StandardWebhooks(v.SW1_SECRET, tolerance=None).verify(v.SW1_BODY, headers) == v.SW1_ID


@pytest.mark.parametrize(
    ("offset", "word"),
    [pytest.param(-301, "too old", id="too-old"), pytest.param(301, "too new", id="too-new")],
)
def test_standard_timestamp_outside_tolerance_says_which_and_shows_both_times(
    offset: int, word: str
) -> None:
    """301 s either way fails, naming the direction and both clocks."""
    scheme = StandardWebhooks(v.SW1_SECRET)
    sent = int(time.time()) + offset
    headers = scheme.sign(v.SW1_BODY, timestamp=sent)
    with pytest.raises(SignatureError, match=word) as caught:
        scheme.verify(v.SW1_BODY, headers)
    message = str(caught.value)
    assert str(sent) in message
    assert "receiver's clock says" in message


def test_standard_timestamp_at_the_tolerance_passes() -> None:
    """A timestamp 299 s old is inside a 300 s tolerance."""
    scheme = StandardWebhooks(v.SW1_SECRET)
    headers = scheme.sign(v.SW1_BODY, msg_id="m", timestamp=int(time.time()) - 299)
    assert scheme.verify(v.SW1_BODY, headers) == "m"


def test_standard_custom_tolerance() -> None:
    """A larger tolerance accepts older deliveries (replays)."""
    scheme = StandardWebhooks(v.SW1_SECRET, tolerance=3600)
    headers = scheme.sign(v.SW1_BODY, msg_id="m", timestamp=int(time.time()) - 1800)
    assert scheme.verify(v.SW1_BODY, headers) == "m"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        pytest.param(
            {"webhook-id": "", "webhook-timestamp": "1", "webhook-signature": "v1,x"},
            "missing header 'webhook-id'",
            id="empty-id",
        ),
        pytest.param(
            {"webhook-id": "m", "webhook-signature": "v1,x"},
            "missing header 'webhook-timestamp'",
            id="no-timestamp",
        ),
        pytest.param(
            {"webhook-id": "m", "webhook-timestamp": "1"},
            "missing header 'webhook-signature'",
            id="no-signature",
        ),
        pytest.param(
            {"webhook-id": "m", "webhook-timestamp": "soon", "webhook-signature": "v1,x"},
            "malformed header 'webhook-timestamp'",
            id="timestamp-not-integer",
        ),
        pytest.param(
            {"webhook-id": "m", "webhook-timestamp": "1.5", "webhook-signature": "v1,x"},
            "malformed header 'webhook-timestamp'",
            id="timestamp-fraction",
        ),
        pytest.param(
            {"webhook-id": "m", "webhook-timestamp": "9" * 40, "webhook-signature": "v1,x"},
            "malformed header 'webhook-timestamp'",
            id="timestamp-huge",
        ),
        pytest.param(
            {"webhook-id": "m", "webhook-timestamp": "1", "webhook-signature": "garbage"},
            "malformed header 'webhook-signature'",
            id="no-comma",
        ),
        pytest.param(
            {"webhook-id": "m", "webhook-timestamp": "1", "webhook-signature": "v1,@@"},
            "not base64",
            id="not-base64",
        ),
        pytest.param(
            {"webhook-id": "m", "webhook-timestamp": "1", "webhook-signature": "v1,\u00e9\u00e9"},
            "not base64",
            id="non-ascii",
        ),
        pytest.param(
            {"webhook-id": "m", "webhook-timestamp": "1", "webhook-signature": "v1a,AA=="},
            "no 'v1,<base64>'",
            id="only-other-versions",
        ),
    ],
)
def test_standard_bad_headers_name_the_check(headers: dict[str, str], message: str) -> None:
    """Each malformed or missing header fails with a message naming it."""
    with pytest.raises(SignatureError, match=message):
        StandardWebhooks(v.SW1_SECRET, tolerance=None).verify(v.SW1_BODY, headers)


def test_standard_skips_other_versions_among_v1() -> None:
    """Non-v1 entries are skipped, a matching v1 still passes."""
    headers = sw1_headers(**{"webhook-signature": f"v1a,AAAA {v.SW1_SIGNATURE}"})
    assert StandardWebhooks(v.SW1_SECRET, tolerance=None).verify(v.SW1_BODY, headers) == v.SW1_ID


@pytest.mark.parametrize(
    ("secret", "error"),
    [
        pytest.param("whsec_", "empty", id="empty"),
        pytest.param("whsec_not base64!", "is base64, usually after 'whsec_'", id="not-base64"),
        pytest.param([], "at least one", id="no-secrets"),
    ],
)
def test_standard_bad_secret_is_refused_at_construction(
    secret: str | list[str], error: str
) -> None:
    """An empty or undecodable secret fails when the scheme is made, not per delivery."""
    with pytest.raises(ValueError, match=error):
        StandardWebhooks(secret)


def test_negative_tolerance_is_refused() -> None:
    """A negative tolerance is a configuration error."""
    with pytest.raises(ValueError, match="tolerance"):
        StandardWebhooks(v.SW1_SECRET, tolerance=-1)


def test_signature_error_is_a_webhook_error_and_a_value_error() -> None:
    """SignatureError can be caught as WebhookError, EventBusError or ValueError."""
    from eventbus import EventBusError

    assert issubclass(SignatureError, WebhookError)
    assert issubclass(SignatureError, ValueError)
    assert issubclass(WebhookError, EventBusError)


# -- HMAC timestamp (Stripe, Blocklet Server) -------------------------------------------------


def test_hmac_st1_vector_verifies() -> None:
    """ST-1, produced by the stripe library, passes."""
    scheme = HmacTimestampSignature(v.ST1_SECRET, tolerance=None)
    scheme.verify(v.ST1_BODY, {"Stripe-Signature": v.ST1_HEADER})


def test_hmac_sw2_body_with_stripe_header_verifies() -> None:
    """The non-ASCII SW-2 body signed by stripe passes; the secret is used verbatim."""
    scheme = HmacTimestampSignature(v.ST1_SECRET, tolerance=None)
    scheme.verify(v.SW2_BODY, {"stripe-signature": v.SW2_STRIPE_HEADER})


def test_hmac_bs1_blocklet_server_vector_verifies() -> None:
    """BS-1, Blocklet Server's X-Webhook-Signature, passes with header=X-Webhook-Signature."""
    scheme = HmacTimestampSignature(v.BS1_SECRET, header="X-Webhook-Signature", tolerance=None)
    scheme.verify(v.BS1_BODY, {"x-webhook-signature": v.BS1_HEADER})


def test_hmac_bs1_is_what_the_stripe_library_accepts() -> None:
    """The stripe library itself accepts BS-1 (no age check in verify_header)."""
    assert stripe.WebhookSignature.verify_header(v.BS1_BODY, v.BS1_HEADER, v.BS1_SECRET)


def test_hmac_sign_reproduces_st1() -> None:
    """sign() gives exactly the stripe library's header."""
    headers = HmacTimestampSignature(v.ST1_SECRET).sign(v.ST1_BODY, timestamp=1740000000)
    assert headers == {"Stripe-Signature": v.ST1_HEADER}


def test_hmac_stripe_library_signature_made_now_verifies() -> None:
    """A header generated now by ``stripe`` passes with the default tolerance."""
    header = stripe.WebhookSignature.generate_signature_header(
        v.ST1_BODY.decode(), v.ST1_SECRET, timestamp=int(time.time())
    )
    HmacTimestampSignature(v.ST1_SECRET).verify(v.ST1_BODY, {"stripe-signature": header})


def test_hmac_sign_is_accepted_by_stripe_construct_event() -> None:
    """Headers from sign() pass ``stripe.Webhook.construct_event`` (tolerance 300)."""
    headers = HmacTimestampSignature(v.ST1_SECRET).sign(v.ST1_BODY)
    event = stripe.Webhook.construct_event(v.ST1_BODY, headers["Stripe-Signature"], v.ST1_SECRET)
    assert event["id"] == "evt_1"


def test_hmac_rotation_accepts_old_and_new_secret() -> None:
    """Given [new, old], a header signed by either passes."""
    old = HmacTimestampSignature("old-secret")
    new = HmacTimestampSignature("new-secret")
    both = HmacTimestampSignature(["new-secret", "old-secret"])
    for sender in (old, new):
        both.verify(b"{}", sender.sign(b"{}"))


def test_hmac_reserialised_body_fails() -> None:
    """ST-1's event re-serialised with spaces is refused."""
    body = json.dumps(json.loads(v.ST1_BODY)).encode()
    with pytest.raises(SignatureError, match="no matching signature"):
        HmacTimestampSignature(v.ST1_SECRET, tolerance=None).verify(
            body, {"stripe-signature": v.ST1_HEADER}
        )


@pytest.mark.parametrize(
    ("offset", "word"),
    [pytest.param(-301, "too old", id="too-old"), pytest.param(301, "too new", id="too-new")],
)
def test_hmac_tolerance_bounds_past_and_future(offset: int, word: str) -> None:
    """Unlike stripe, the future is bounded too; the message shows both times."""
    scheme = HmacTimestampSignature(v.ST1_SECRET)
    sent = int(time.time()) + offset
    with pytest.raises(SignatureError, match=word) as caught:
        scheme.verify(v.ST1_BODY, scheme.sign(v.ST1_BODY, timestamp=sent))
    assert str(sent) in str(caught.value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(None, "missing header 'Stripe-Signature'", id="missing"),
        pytest.param("v1=abc", "no 't=<unix seconds>'", id="no-t"),
        pytest.param("t=1740000000", "no 'v1=<hex>' signature", id="no-v1"),
        pytest.param("t=soon,v1=ab", "malformed header", id="t-not-integer"),
        pytest.param("t=1740000000;v1=ab", "malformed header", id="not-key-value"),
        pytest.param("t=1740000000,v1=\u00e9", "no matching signature", id="non-ascii-v1"),
        pytest.param("t=1740000000,v0=" + "0" * 64, "malformed header", id="only-v0"),
    ],
)
def test_hmac_bad_headers_name_the_check(value: str | None, message: str) -> None:
    """Each missing or malformed header fails with a message naming it."""
    headers = {} if value is None else {"Stripe-Signature": value}
    with pytest.raises(SignatureError, match=message):
        HmacTimestampSignature(v.ST1_SECRET, tolerance=None).verify(v.ST1_BODY, headers)


def test_hmac_empty_secret_is_refused() -> None:
    """An empty secret is a configuration error."""
    with pytest.raises(ValueError, match="empty"):
        HmacTimestampSignature("")


# -- Blocklet component signature -------------------------------------------------------------


def test_blocklet_cs1_signed_text_and_digest_match_the_vector() -> None:
    """The stable JSON of CS-1's inputs and its SHA3-256 are exactly the published ones."""
    text = signed_text(
        v.CS1_OBJECT, iat=v.CS1_IAT, exp=v.CS1_IAT + 300, method="POST", url=v.CS1_PATH, query=""
    )
    assert text.decode() == v.CS1_SIGNED
    assert hashlib.sha3_256(text).hexdigest() == v.CS1_SHA3


def test_blocklet_cs1_vector_verifies() -> None:
    """CS-1, made by @ocap/wallet, passes for POST /api/payment/callback."""
    scheme = BlockletComponentSignature(v.CS1_APP_PK, tolerance=None)
    body = json.dumps(v.CS1_OBJECT).encode()
    scheme.verify(body, v.CS1_HEADERS, method="POST", path=v.CS1_PATH)


def test_blocklet_whitespace_does_not_matter_but_content_does() -> None:
    """The scheme signs the parsed body: re-spacing passes, a changed value fails."""
    scheme = BlockletComponentSignature(bytes.fromhex(v.CS1_APP_PK[2:]), tolerance=None)
    spaced = json.dumps(v.CS1_OBJECT, indent=2).encode()
    scheme.verify(spaced, v.CS1_HEADERS, method="POST", path=v.CS1_PATH)
    changed = json.dumps({**v.CS1_OBJECT, "id": "evt_2"}).encode()
    with pytest.raises(SignatureError, match="no matching signature"):
        scheme.verify(changed, v.CS1_HEADERS, method="POST", path=v.CS1_PATH)


@pytest.mark.parametrize(
    ("method", "path", "query"),
    [
        pytest.param("PUT", v.CS1_PATH, "", id="other-method"),
        pytest.param("POST", "/callback", "", id="path-without-prefix"),
        pytest.param("POST", v.CS1_PATH, "a=1", id="extra-query"),
    ],
)
def test_blocklet_method_path_and_query_are_signed(method: str, path: str, query: str) -> None:
    """Changing the method, the path or the query breaks the signature."""
    scheme = BlockletComponentSignature(v.CS1_APP_PK, tolerance=None)
    with pytest.raises(SignatureError, match="no matching signature"):
        scheme.verify(
            json.dumps(v.CS1_OBJECT).encode(), v.CS1_HEADERS, method=method, path=path, query=query
        )


def test_blocklet_sign_reproduces_cs1() -> None:
    """sign() with the app secret key gives exactly the published signature (ed25519 is
    deterministic)."""
    headers = BlockletComponentSignature.sign(
        json.dumps(v.CS1_OBJECT).encode(),
        private_key=v.CS1_APP_SK,
        path=v.CS1_PATH,
        iat=v.CS1_IAT,
    )
    assert headers == v.CS1_HEADERS


def test_blocklet_sign_and_verify_with_query_round_trip() -> None:
    """A signed query (repeated keys become a list) verifies with the same query."""
    scheme = BlockletComponentSignature([v.CS1_APP_PK])
    body = b'{"id":"evt_9","type":"refund.succeeded","amount":1.0}'
    headers = scheme.sign(body, private_key=v.CS1_APP_SK, path="/hook", query="a=1&a=2&b=")
    scheme.verify(body, headers, method="post", path="/hook", query="a=1&a=2&b=")


def test_blocklet_x_path_prefix_is_tried_as_verify_sig_does() -> None:
    """Signed for the prefixed URL, received at the stripped path with x-path-prefix: passes."""
    scheme = BlockletComponentSignature(v.CS1_APP_PK, tolerance=None)
    headers = {**v.CS1_HEADERS, "x-path-prefix": "/api"}
    scheme.verify(json.dumps(v.CS1_OBJECT).encode(), headers, path="/payment/callback")


@pytest.mark.parametrize(
    ("offset", "word"),
    [pytest.param(-301, "too old", id="too-old"), pytest.param(301, "too new", id="too-new")],
)
def test_blocklet_iat_outside_tolerance(offset: int, word: str) -> None:
    """The signed iat is checked against the tolerance both ways."""
    scheme = BlockletComponentSignature(v.CS1_APP_PK)
    iat = int(time.time()) + offset
    headers = scheme.sign(b"{}", private_key=v.CS1_APP_SK, iat=iat)
    with pytest.raises(SignatureError, match=word):
        scheme.verify(b"{}", headers)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"x-component-sig": ""}, "missing header 'x-component-sig'", id="no-sig"),
        pytest.param(
            {"x-component-sig": "0x1234"}, "malformed header 'x-component-sig'", id="short-sig"
        ),
        pytest.param(
            {"x-component-sig-iat": "now"}, "malformed header 'x-component-sig-iat'", id="bad-iat"
        ),
        pytest.param(
            {"x-component-sig-version": "2"}, "x-component-sig-version", id="unknown-version"
        ),
    ],
)
def test_blocklet_bad_headers_name_the_check(changes: dict[str, str], message: str) -> None:
    """Each missing or malformed header fails with a message naming it."""
    scheme = BlockletComponentSignature(v.CS1_APP_PK, tolerance=None)
    with pytest.raises(SignatureError, match=message):
        scheme.verify(
            json.dumps(v.CS1_OBJECT).encode(), {**v.CS1_HEADERS, **changes}, path=v.CS1_PATH
        )


def test_blocklet_body_not_json_is_a_signature_error() -> None:
    """The scheme signs the parsed body, so a non-JSON body cannot be verified."""
    scheme = BlockletComponentSignature(v.CS1_APP_PK, tolerance=None)
    with pytest.raises(SignatureError, match="not JSON"):
        scheme.verify(b"<xml/>", v.CS1_HEADERS, path=v.CS1_PATH)


def test_blocklet_empty_body_signs_as_empty_object() -> None:
    """Like Express's body parser, an empty body is {}."""
    scheme = BlockletComponentSignature(v.CS1_APP_PK)
    scheme.verify(b"", scheme.sign(b"{}", private_key=v.CS1_APP_SK))


def test_blocklet_bad_key_is_refused() -> None:
    """A key that is not 32 bytes of hex fails at construction."""
    with pytest.raises(ValueError, match="32 bytes"):
        BlockletComponentSignature("0xabcd")
    with pytest.raises(ValueError, match="not hex"):
        BlockletComponentSignature("zz")


def test_blocklet_without_cryptography_names_the_extra() -> None:
    """Without cryptography installed, the error says to install eventbus[blocklet]."""
    code = (
        "import sys; sys.modules['cryptography'] = None\n"
        "from eventbus.webhooks import BlockletComponentSignature\n"
        "try:\n"
        f"    BlockletComponentSignature({v.CS1_APP_PK!r})\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'eventbus[blocklet]'" in out.stdout


@pytest.mark.parametrize(
    ("query", "parsed"),
    [
        pytest.param("", {}, id="empty"),
        pytest.param("a=1", {"a": "1"}, id="one"),
        pytest.param("a=1&a=2", {"a": ["1", "2"]}, id="repeated"),
        pytest.param("a=1&a=2&a=3", {"a": ["1", "2", "3"]}, id="thrice"),
        pytest.param("b=&c=%C3%A9", {"b": "", "c": "\u00e9"}, id="blank-and-encoded"),
    ],
)
def test_blocklet_query_parses_like_express(query: str, parsed: dict[str, object]) -> None:
    """Queries parse as Express's req.query does for flat keys."""
    assert parse_query(query) == parsed


@pytest.mark.parametrize(
    ("number", "text"),
    [
        pytest.param(1.0, "1", id="integral-float"),
        pytest.param(1.5, "1.5", id="fraction"),
        pytest.param(-0.0, "0", id="negative-zero"),
        pytest.param(1e21, "1e+21", id="1e21"),
        pytest.param(1e20, "100000000000000000000", id="1e20"),
        pytest.param(1e-7, "1e-7", id="1e-7"),
        pytest.param(0.00001, "0.00001", id="1e-5"),
        pytest.param(1.234e-5, "0.00001234", id="small-fraction"),
        pytest.param(0.1 + 0.2, "0.30000000000000004", id="shortest-round-trip"),
        pytest.param(1.2345678901234569e23, "1.2345678901234569e+23", id="big"),
        pytest.param(5e-324, "5e-324", id="denormal"),
    ],
)
def test_js_number_matches_node(number: float, text: str) -> None:
    """Floats render as Node 20's JSON.stringify renders them (expected values from Node)."""
    assert js_number(number) == text


def test_stable_stringify_sorts_keys_and_rounds_unsafe_integers() -> None:
    """Keys sort, nothing is spaced, integers beyond 2**53 round as JSON.parse rounded them."""
    value = {"b": [True, None, "\u00e9\n"], "a": 2**60, "c": {"z": 1, "y": 2.0}}
    assert stable_stringify(value) == (
        '{"a":1152921504606847000,"b":[true,null,"\u00e9\\n"],"c":{"y":2,"z":1}}'
    )


# -- Unverified and the protocol ----------------------------------------------------------------


def test_unverified_accepts_anything_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    """Unverified passes every delivery and logs a warning each time."""
    scheme = Unverified()
    scheme.verify(b"anything", {}, path="/hooks")
    assert scheme.sign(b"{}") == {}
    assert "WITHOUT signature verification" in caplog.text
    assert caplog.records[0].levelname == "WARNING"


@pytest.mark.parametrize(
    "scheme",
    [
        pytest.param(StandardWebhooks(v.SW1_SECRET), id="standard"),
        pytest.param(HmacTimestampSignature("s"), id="hmac"),
        pytest.param(BlockletComponentSignature(v.CS1_APP_PK), id="blocklet"),
        pytest.param(Unverified(), id="unverified"),
    ],
)
def test_every_scheme_implements_the_protocol(scheme: object) -> None:
    """Each built-in scheme satisfies SignatureScheme and shows no secret in its repr."""
    assert isinstance(scheme, SignatureScheme)
    assert "MfKQ" not in repr(scheme)


@pytest.mark.parametrize(
    ("secret", "signature"),
    [
        pytest.param(v.SW2_SECRET_NEW, v.SW2_SIGNATURE_NEW, id="new"),
        pytest.param(v.SW2_SECRET_OLD, v.SW2_SIGNATURE_OLD, id="old"),
        pytest.param(v.SW1_SECRET, None, id="sw1"),
    ],
)
def test_published_vectors_match_the_reference_library(secret: str, signature: str | None) -> None:
    """The stored vectors are what ``standardwebhooks`` computes today (provenance check)."""
    reference = standardwebhooks.Webhook(secret)
    if signature is None:
        when = datetime.fromtimestamp(int(v.SW1_TIMESTAMP), UTC)
        assert reference.sign(v.SW1_ID, when, v.SW1_BODY.decode()) == v.SW1_SIGNATURE
    else:
        when = datetime.fromtimestamp(int(v.SW2_TIMESTAMP), UTC)
        assert reference.sign(v.SW2_ID, when, v.SW2_BODY.decode()) == signature


def test_st1_vector_matches_the_stripe_library() -> None:
    """ST-1 is what ``stripe`` generates today for its body, secret and timestamp."""
    header = stripe.WebhookSignature.generate_signature_header(
        v.ST1_BODY.decode(), v.ST1_SECRET, timestamp=1740000000
    )
    assert header == v.ST1_HEADER


@pytest.mark.parametrize("tolerance", ["300", [300]])
def test_tolerance_must_be_a_number(tolerance: object) -> None:
    """A tolerance that is not a number is refused with a TypeError saying so."""
    with pytest.raises(TypeError, match="tolerance must be a number"):
        StandardWebhooks("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", tolerance=tolerance)  # type: ignore[arg-type]


# -- what a refused sender learns -----------------------------------------------------------


def test_no_match_answers_never_tell_how_many_secrets_are_configured() -> None:
    """The 401 reason an unauthenticated sender reads names the signatures it sent, never
    the number of secrets (or keys) the receiver holds."""
    body = b'{"id":"evt_1","type":"a.b"}'
    standard = StandardWebhooks(["whsec_" + "a" * 32, "whsec_" + "b" * 32])
    forged = StandardWebhooks("whsec_" + "c" * 32).sign(body, msg_id="msg_1")
    hmac_scheme = HmacTimestampSignature(["whsec_one", "whsec_two", "whsec_three"])
    forged_hmac = HmacTimestampSignature("whsec_other").sign(body)
    blocklet = BlockletComponentSignature([v.CS1_APP_PK, v.CS1_APP_PK], tolerance=None)
    changed = json.dumps({**v.CS1_OBJECT, "id": "evt_2"}).encode()
    reasons = []
    for verify in (
        lambda: standard.verify(body, forged),
        lambda: hmac_scheme.verify(body, forged_hmac),
        lambda: blocklet.verify(changed, v.CS1_HEADERS, method="POST", path=v.CS1_PATH),
    ):
        with pytest.raises(SignatureError, match="no matching signature") as caught:
            verify()
        reasons.append(str(caught.value))
    assert all("configured" in reason for reason in reasons)
    assert not any(f"{n} secret" in r or f"{n} key" in r for n in (2, 3) for r in reasons)
    assert "none of the 1 v1 signature(s) in 'webhook-signature'" in reasons[0]
