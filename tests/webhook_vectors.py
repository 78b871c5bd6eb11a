"""Published webhook signature vectors, with where each came from.

Source: ../shared/webhook-notes.md (the project's research notes), which produced them with
the schemes' reference implementations:

- SW-1, SW-2: ``standardwebhooks==1.1.0`` ``Webhook(secret).sign(...)``; SW-1 is also the
  canonical example of docs.svix.com "How to Verify Webhooks".
- ST-1: ``stripe==16.1.0`` ``WebhookSignature.generate_signature_header(body, secret,
  timestamp=1740000000)``; ``construct_event`` accepts it.
- BS-1: a Node ``crypto`` restatement of Blocklet Server's ``createWebhookSignature``
  (``ArcBlock/blocklet-server`` @ 508beda, ``core/state/lib/blocklet/webhook/signature.js``),
  verified with ``stripe``.
- CS-1: produced with ``@ocap/wallet@1.29.27`` (Blocklet's component-call signature),
  re-verified in Python with ``cryptography``.
"""

from __future__ import annotations

import json

# -- SW-1: Standard Webhooks, the canonical Svix example -------------------------------------
SW1_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW1_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SW1_TIMESTAMP = "1614265330"
SW1_BODY = b'{"test": 2432232314}'
SW1_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
#: The reference library's own test uses this one-character change as its invalid signature.
SW1_BAD_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="

# -- SW-2: Payment Kit-shaped body, non-ASCII, key rotation ----------------------------------
SW2_SECRET_NEW = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="  # bytes 0x00..0x1f
SW2_SECRET_OLD = "whsec_AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB"  # 24 x 0x01
SW2_ID = "evt_T2UiJ2VHUxVo3J6BuULkrp15"
SW2_TIMESTAMP = "1740000000"
SW2_OBJECT = {
    "id": "evt_T2UiJ2VHUxVo3J6BuULkrp15",
    "type": "customer.subscription.renewed",
    "livemode": False,
    "api_version": "2023-09-05",
    "object_type": "Subscription",
    "object_id": "sub_hmL7FQTmMbYVELkH6uVo6m9P",
    "data": {
        "object": {
            "id": "sub_hmL7FQTmMbYVELkH6uVo6m9P",
            "status": "active",
            "description": "Caf\u00e9 \u2615",
        },
        "previous_attributes": {"status": "past_due"},
    },
    "created_at": "2025-02-19T21:20:00.000Z",
}
#: 376 UTF-8 bytes, rebuilt exactly as the notes say.
SW2_BODY = json.dumps(SW2_OBJECT, separators=(",", ":"), ensure_ascii=False).encode()
SW2_SIGNATURE_NEW = "v1,Lc4QjSZMDlUHJBtDs4joCBfKucm+uMQqnZv+dPlFSCo="
SW2_SIGNATURE_OLD = "v1,xAsAaLUSFQ+qzhscQQ2pxal09HKJQZZy6AjiyPUeQL0="
SW2_SIGNATURE_HEADER = f"{SW2_SIGNATURE_OLD} {SW2_SIGNATURE_NEW}"
#: The same body signed by ``stripe`` with ST-1's secret and timestamp.
SW2_STRIPE_HEADER = (
    "t=1740000000,v1=b4d4f46a6328f242fe8c5758bb698670ca4d30943c0488a6de28c5786608ff80"
)

# -- ST-1: Stripe -----------------------------------------------------------------------------
ST1_SECRET = "whsec_test_secret"
ST1_BODY = (
    b'{"id":"evt_1","object":"event","type":"payment_intent.succeeded",'
    b'"api_version":"2023-09-05","created":1740000000,"livemode":false,'
    b'"data":{"object":{"id":"pi_1","object":"payment_intent","amount":2000}}}'
)
ST1_HEADER = "t=1740000000,v1=a58b7728c2779d18670347354537573d23d4d4ca51b2f0bcc3325bc1ab2c114c"

# -- BS-1: Blocklet Server's EventBus -> webhook forwarder ------------------------------------
BS1_SECRET = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
BS1_BODY = (
    b'{"type":"application/json","object":{"id":"sub_hmL7FQTmMbYVELkH6uVo6m9P",'
    b'"status":"active"},"previous_attributes":{},'
    b'"$eventName":"customer.subscription.renewed","$sender":{"did":"zNKexample",'
    b'"pk":"0xabc","url":"https://app.example","name":"Example"}}'
)
BS1_HEADER = "t=1740000000,v1=dac9682e40d8c9aaa49d5abd03fbaca04c66d629ed3e6d6e7c83b9fc229c1897"

# -- CS-1: Blocklet component-call signature (Payment Kit's verifySig) ------------------------
CS1_APP_SK = (
    "0x0707070707070707070707070707070707070707070707070707070707070707"
    "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c"
)
CS1_APP_PK = "0xea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c"
CS1_OBJECT = {
    "id": "evt_1",
    "type": "customer.subscription.renewed",
    "data": {"object": {"id": "sub_1"}},
}
CS1_PATH = "/api/payment/callback"
CS1_IAT = 1740000000
CS1_SIGNED = (
    '{"body":{"data":{"object":{"id":"sub_1"}},"id":"evt_1",'
    '"type":"customer.subscription.renewed"},"exp":1740000300,"iat":1740000000,'
    '"method":"post","query":{},"url":"/api/payment/callback"}'
)
CS1_SHA3 = "246300064f62a65d2fc8d78ee769afe40057f9bedfc579e58026effb3e33e52c"
CS1_SIGNATURE = (
    "0xd8ae25e1d11ed79c48023c6b2b46f85dcc9d1aadce9f81c7fd8a79969016e448"
    "bd88d36f7cf36a54983e5ddb1fd6e259a35660ad01f2bba55093770569ffd30f"
)
CS1_HEADERS = {
    "x-component-sig": CS1_SIGNATURE,
    "x-component-sig-iat": "1740000000",
    "x-component-sig-exp": "1740000300",
    "x-component-sig-version": "1",
}
