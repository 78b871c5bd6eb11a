"""The sender's address rules: which URLs and addresses are refused, at create/update time and
again at connect time for the address actually connected to."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from pathlib import Path

import pytest
import trustme
from sender_support import LOCAL, Scripted, serve_tls, wait_for
from webhook_support import serve_asgi

from eventbus import Event, EventBus
from eventbus.webhooks import EndpointURLError, SqliteOutbox, UnsafeAddressError, WebhookSender
from eventbus.webhooks._addresses import AddressPolicy, refused_kind, system_resolve

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"),
    ("100.64.0.1", "CGNAT"),
    ("100.127.255.254", "CGNAT"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("0.0.0.0", "unspecified"),
    ("255.255.255.255", "reserved"),
    ("192.0.2.1", "private"),
    ("198.18.0.1", "private"),
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("fe80::1", "link-local"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("ff02::1", "multicast"),
    ("2001:db8::1", "private"),
    ("::ffff:127.0.0.1", "loopback (IPv4 127.0.0.1 in IPv6 form)"),
    ("::ffff:169.254.169.254", "link-local (IPv4 169.254.169.254"),
    ("::ffff:10.0.0.1", "private (IPv4"),
    ("::127.0.0.1", "loopback (IPv4"),
    ("::10.0.0.1", "private (IPv4"),
    ("64:ff9b::a9fe:a9fe", "link-local (IPv4 169.254.169.254"),
    ("64:ff9b:1::7f00:1", "loopback (IPv4 127.0.0.1"),
    ("2002:7f00:1::", "loopback (IPv4 127.0.0.1"),
    ("2002:a9fe:a9fe::1", "link-local (IPv4 169.254.169.254"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "private"),
]
ALLOWED = [
    "8.8.8.8",
    "1.1.1.1",
    "100.63.255.255",
    "100.128.0.0",
    "2001:4860:4860::8888",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
]


@pytest.mark.parametrize(("address", "kind"), [pytest.param(a, k, id=a) for a, k in REFUSED])
def test_refused_addresses(address: str, kind: str) -> None:
    """Internal addresses, in every IPv6 spelling of an IPv4 one, are refused by kind."""
    found = refused_kind(ipaddress.ip_address(address))
    assert found is not None
    assert found.startswith(kind)


@pytest.mark.parametrize("address", [pytest.param(a, id=a) for a in ALLOWED])
def test_public_addresses_pass(address: str) -> None:
    """Public addresses (and IPv6 forms of public IPv4 ones) pass."""
    assert refused_kind(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("url", "address"),
    [
        pytest.param("http://127.0.0.1/hook", "127.0.0.1", id="ipv4-literal"),
        pytest.param("https://[::1]:8443/hook", "::1", id="ipv6-literal"),
        pytest.param("http://[::ffff:169.254.169.254]/", "::ffff:a9fe:a9fe", id="mapped"),
        pytest.param("http://169.254.169.254/latest/meta-data", "169.254.169.254", id="metadata"),
    ],
)
def test_literal_hosts_are_checked_without_resolving(url: str, address: str) -> None:
    """An IP literal in the URL is checked as it is."""
    with pytest.raises(UnsafeAddressError, match="public addresses") as caught:
        AddressPolicy(resolve=_never).check_url(url)
    assert caught.value.address == address
    assert caught.value.url == url


def _never(host: str, port: int) -> Sequence[str]:
    raise AssertionError(f"resolved {host}")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        pytest.param("ftp://example.com/x", "only http:// and https://", id="ftp"),
        pytest.param("file:///etc/passwd", "only http:// and https://", id="file"),
        pytest.param("example.com/hook", "only http:// and https://", id="no-scheme"),
        pytest.param("http:///path", "no host", id="no-host"),
        pytest.param("http://example.com:99999/", "out of range", id="bad-port"),
    ],
)
def test_unusable_urls(url: str, reason: str) -> None:
    """Non-http(s) URLs, URLs without a host and bad ports raise EndpointURLError."""
    with pytest.raises(EndpointURLError, match=reason):
        AddressPolicy().check_url(url)


def test_url_must_be_text() -> None:
    """A non-str URL is a TypeError."""
    with pytest.raises(TypeError, match="is a str"):
        AddressPolicy().check_url(b"http://x")  # type: ignore[arg-type]


def test_allow_networks_let_addresses_through() -> None:
    """Addresses inside allow_networks pass, IPv4-mapped forms included; others do not."""
    policy = AddressPolicy(["127.0.0.0/8", "10.1.0.0/16"])
    assert policy.check_url("http://127.0.0.1:8000/") == "http://127.0.0.1:8000/"
    policy.check_url("http://[::ffff:127.0.0.1]/")
    policy.check_url("http://10.1.2.3/")
    with pytest.raises(UnsafeAddressError):
        policy.check_url("http://10.2.0.1/")


def test_every_resolved_address_must_pass() -> None:
    """One internal answer among public ones is refused: a connection could go there."""
    policy = AddressPolicy(resolve=lambda host, port: ["8.8.8.8", "10.0.0.5"])
    with pytest.raises(UnsafeAddressError, match=r"10\.0\.0\.5 is a private address"):
        policy.check_url("https://hooks.example.com/")
    public = AddressPolicy(resolve=lambda host, port: ["8.8.8.8", "2001:4860:4860::8888"])
    assert public.addresses("hooks.example.com", 443) == [
        ipaddress.ip_address("8.8.8.8"),
        ipaddress.ip_address("2001:4860:4860::8888"),
    ]


def test_resolver_failures_are_url_errors() -> None:
    """A host that does not resolve, or resolves to nothing, is an EndpointURLError."""

    def broken(host: str, port: int) -> Sequence[str]:
        raise OSError("Name or service not known")

    with pytest.raises(EndpointURLError, match="does not resolve: Name or service"):
        AddressPolicy(resolve=broken).check_url("http://nowhere.invalid/")
    with pytest.raises(EndpointURLError, match="resolves to no address"):
        AddressPolicy(resolve=lambda host, port: []).check_url("http://nowhere.invalid/")


def test_a_custom_resolver_raising_anything_is_a_url_error() -> None:
    """Whatever a custom resolve= raises becomes an EndpointURLError naming it, so create
    refuses clearly and the worker records a failed attempt."""

    def broken(host: str, port: int) -> Sequence[str]:
        raise RuntimeError("service discovery is down")

    with pytest.raises(EndpointURLError, match="does not resolve: service discovery is down"):
        AddressPolicy(resolve=broken).check_url("http://hooks.test/")


def test_system_resolver_gives_addresses() -> None:
    """The default resolver answers for localhost with loopback addresses, without repeats."""
    found = system_resolve("localhost", 80)
    assert found
    assert len(found) == len(set(found))
    assert all(ipaddress.ip_address(a).is_loopback for a in found)


def test_create_and_update_refuse_internal_urls(tmp_path: Path) -> None:
    """endpoints.create and update apply the rules (no allow_networks: loopback refused)."""
    sender = WebhookSender(EventBus(), SqliteOutbox(tmp_path / "o.db"))
    with pytest.raises(UnsafeAddressError, match="loopback"):
        sender.endpoints.create("http://127.0.0.1/hook", enabled_events="**")
    public = WebhookSender(
        EventBus(),
        SqliteOutbox(tmp_path / "o.db"),
        resolve=lambda host, port: ["93.184.215.14"],
    )
    created = public.endpoints.create("https://hooks.example.com/", enabled_events="**")
    with pytest.raises(UnsafeAddressError, match="link-local"):
        public.endpoints.update(created.id, url="http://169.254.169.254/")
    assert public.endpoints.get(created.id).url == "https://hooks.example.com/"
    assert sender.endpoints.list() == public.endpoints.list() == [created]


@pytest.mark.anyio
async def test_rebinding_after_the_check_is_refused_at_connect_time(tmp_path: Path) -> None:
    """A name that resolved to an allowed address at create time and to 169.254.169.254 when
    connecting is refused then: the attempt fails and the endpoint is never reached."""
    answers = ["127.0.0.1"]
    app = Scripted()
    with serve_asgi(app) as url:
        port = url.rsplit(":", 1)[1]
        sender = WebhookSender(
            EventBus(),
            SqliteOutbox(tmp_path / "o.db"),
            allow_networks=LOCAL,
            resolve=lambda host, port: answers,
        )
        sender.endpoints.create(f"http://hooks.test:{port}/", enabled_events="**")
        answers[:] = ["169.254.169.254"]
        async with sender.running():
            sender.enqueue(Event(type="invoice.paid"))
            await wait_for(lambda: sender.attempts(), "an attempt")
    [attempt] = sender.attempts()
    assert attempt.status == "failed"
    assert attempt.response_status is None
    assert attempt.error is not None
    assert "169.254.169.254 is a link-local address" in attempt.error
    assert app.received == []


@pytest.mark.anyio
async def test_connection_goes_to_the_checked_address_under_the_host_name(
    tmp_path: Path,
) -> None:
    """The connection is made to the resolved, checked address, while the request keeps the
    URL's host name in its Host header; a first address that refuses is skipped."""
    seen: list[tuple[str, int]] = []
    app = Scripted()
    with serve_asgi(app) as url:
        port = int(url.rsplit(":", 1)[1])

        def resolve(host: str, port: int) -> list[str]:
            seen.append((host, port))
            # At connect time 127.0.0.2 comes first; nothing listens there (uvicorn is bound
            # to 127.0.0.1 only), so the connection moves on to the next checked address.
            return ["127.0.0.2", "127.0.0.1"] if len(seen) > 1 else ["127.0.0.1"]

        sender = WebhookSender(
            EventBus(), SqliteOutbox(tmp_path / "o.db"), allow_networks=LOCAL, resolve=resolve
        )
        sender.endpoints.create(f"http://hooks.test:{port}/in", enabled_events="**")
        async with sender.running():
            sender.enqueue(Event(type="invoice.paid"))
            await wait_for(lambda: sender.attempts(), "an attempt")
    assert sender.attempts()[0].status == "succeeded"
    assert app.received[0].headers["host"] == f"hooks.test:{port}"
    assert seen == [("hooks.test", port), ("hooks.test", port)]


@pytest.mark.anyio
async def test_tls_keeps_the_host_name_for_sni_and_the_certificate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over HTTPS the pinned connection still sends the host name as SNI and checks the
    certificate against it: a certificate for hooks.test verifies, one for another name not."""
    authority = trustme.CA()
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    results = []
    for name in ("hooks.test", "other.test"):
        issued = authority.issue_cert(name)
        cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
        issued.cert_chain_pems[0].write_to_path(str(cert))
        issued.private_key_pem.write_to_path(str(key))
        app = Scripted()
        with serve_tls(app, str(cert), str(key)) as port:
            sender = WebhookSender(
                EventBus(),
                SqliteOutbox(tmp_path / f"{name}.db"),
                allow_networks=LOCAL,
                resolve=lambda host, port: ["127.0.0.1"],
            )
            sender.endpoints.create(f"https://hooks.test:{port}/", enabled_events="**")
            async with sender.running():
                sender.enqueue(Event(type="invoice.paid"))
                await wait_for(sender.attempts, "an attempt")
        results.append((sender.attempts()[0], app.received))
    (good, received), (bad, refused) = results
    assert good.status == "succeeded"
    assert received[0].headers["host"].startswith("hooks.test:")
    assert bad.status == "failed"
    assert bad.error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in bad.error
    assert refused == []
