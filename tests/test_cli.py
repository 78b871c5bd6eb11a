"""The ``eventbus`` command, run as a real process: listen, trigger, forward, stop, bad input."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from eventbus import Event, EventBus, paymentkit
from eventbus.webhooks import StandardWebhooks, WebhookReceiver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_SECRET = "whsec_AQEBAQEBAQEBAQEBAQEBAQEBAQEB"
TIMEOUT = 20.0

SEED_TYPES = [
    "checkout.session.completed",
    "checkout.session.nft_minted",
    "customer.subscription.created",
    "customer.subscription.started",
    "customer.subscription.renewed",
    "customer.subscription.upgraded",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "customer.subscription.trial_start",
    "customer.subscription.trial_will_end",
    "customer.subscription.trial_end",
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "invoice.paid",
    "refund.succeeded",
    "manual.notification",
]


def eventbus_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "eventbus", *args]


def run(
    *args: str, script: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``eventbus ARGS`` (or a Python ``script``) to completion."""
    command = [sys.executable, "-c", script, *args] if script else eventbus_command(*args)
    return subprocess.run(
        command, capture_output=True, text=True, timeout=TIMEOUT, check=False, env=env
    )


class Listener:
    """A running ``eventbus listen --port 0``, its stdout readable line by line."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            eventbus_command("listen", "--host", "127.0.0.1", "--port", "0", *args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr = ""
        self._threads = [
            threading.Thread(target=self._pump, daemon=True),
            threading.Thread(target=self._drain_stderr, daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        self.banner = self.line()
        found = re.match(r"Listening on (http://127\.0\.0\.1:(\d+)/\S*)", self.banner)
        assert found, self.banner
        self.url = found[1]
        self.port = int(found[2])

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def _drain_stderr(self) -> None:
        assert self.process.stderr is not None
        self.stderr = self.process.stderr.read()

    def line(self) -> str:
        """The next line printed, waiting for it; fail if the process ends first."""
        try:
            line = self.lines.get(timeout=TIMEOUT)
        except queue.Empty:
            pytest.fail(f"no line from eventbus listen within {TIMEOUT} s")
        if line is None:
            self.stop(signal.SIGTERM)
            pytest.fail(f"eventbus listen ended early: {self.stderr}")
        return line

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Send ``signum``, wait for the exit, and return the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        status = self.process.wait(timeout=TIMEOUT)
        for thread in self._threads:
            thread.join(TIMEOUT)
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self.process.stdout.close()
        self.process.stderr.close()
        return status

    def rest(self) -> list[str]:
        """The lines printed after the last one read (call after :meth:`stop`)."""
        lines: list[str] = []
        while (line := self.lines.get(timeout=TIMEOUT)) is not None:
            lines.append(line)
        return lines


@pytest.fixture
def listen() -> Iterator[Callable[..., Listener]]:
    """Start ``eventbus listen`` processes; each is stopped when the test ends."""
    started: list[Listener] = []

    def start(*args: str) -> Listener:
        listener = Listener(*args)
        started.append(listener)
        return listener

    yield start
    for listener in started:
        listener.stop()


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class App:
    """An application's own endpoint, as ``--forward-to`` reaches it.

    :ivar url: where it answers
    :ivar received: the events its handler ran for
    :ivar requests: how many requests reached it
    """

    url: str
    received: list[Event[Any]] = field(default_factory=list)
    requests: int = 0


@pytest.fixture
def app() -> Iterator[App]:
    """A WebhookReceiver under uvicorn in a thread, on a bus with the Payment Kit models
    and a handler recording each event (its own de-duplication and validation)."""
    bus = EventBus()
    paymentkit.register(bus)
    sock = socket.create_server(("127.0.0.1", 0))
    served = App(f"http://127.0.0.1:{sock.getsockname()[1]}/api/payment/callback")
    bus.subscribe(served.received.append)
    receiver = WebhookReceiver(bus, StandardWebhooks(SECRET))
    webhook = receiver.asgi_app()

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        served.requests += scope["type"] == "http"
        await webhook(scope, receive, send)

    config = uvicorn.Config(counting, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    # Bound and listening before the thread starts: early requests wait in the backlog.
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
    thread.start()
    try:
        yield served
    finally:
        server.should_exit = True
        thread.join(TIMEOUT)
        sock.close()


def trigger(url: str, *args: str, secret: str = SECRET) -> subprocess.CompletedProcess[str]:
    return run("trigger", *args, "--url", url, "--secret", secret)


def answers(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    """The JSON bodies ``trigger`` printed, one per send."""
    return [json.loads(line[line.index("{") :]) for line in result.stdout.splitlines()]


# -- types and help --------------------------------------------------------------------------


def test_types_lists_every_seed_type_with_a_description() -> None:
    """`eventbus types` prints each catalogue type with its one-line description."""
    result = run("types")
    assert result.returncode == 0, result.stderr
    listed = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert set(SEED_TYPES) <= set(listed)
    assert all(description.strip() for description in listed.values())


@pytest.mark.parametrize(
    "command",
    [
        pytest.param([], id="eventbus"),
        pytest.param(["listen"], id="listen"),
        pytest.param(["trigger"], id="trigger"),
        pytest.param(["types"], id="types"),
    ],
)
def test_help_shows_an_example(command: list[str]) -> None:
    """Every command's --help ends with examples of its use."""
    result = run(*command, "--help")
    assert result.returncode == 0
    examples = result.stdout.split("examples:\n", 1)[1]
    assert f"  eventbus {command[0] if command else ''}".rstrip() in examples


def test_console_script_is_the_same_command() -> None:
    """The installed `eventbus` script and `python -m eventbus` behave the same."""
    script = Path(sys.executable).with_name("eventbus")
    by_script = subprocess.run(
        [str(script), "types"], capture_output=True, text=True, timeout=TIMEOUT, check=True
    )
    assert by_script.stdout == run("types").stdout


# -- listen and trigger ----------------------------------------------------------------------


def test_listen_prints_each_delivery(listen: Callable[..., Listener]) -> None:
    """A triggered event is answered 200 and printed: status, type, id, object view."""
    listener = listen("--secret", SECRET)
    result = trigger(listener.url, "customer.subscription.started", "--id", "evt_cli_1")
    assert result.returncode == 0, result.stderr
    assert answers(result) == [
        {"ok": True, "outcome": "handled", "event_id": "evt_cli_1", "error": None}
    ]
    line = listener.line()
    assert re.match(r"\d\d:\d\d:\d\d 200 handled ", line), line
    assert "customer.subscription.started" in line
    assert "evt_cli_1" in line
    assert "{id=sub_" in line
    assert "status=active}" in line


def test_repeat_resends_the_same_id_and_is_a_duplicate(listen: Callable[..., Listener]) -> None:
    """--repeat 2 sends one event twice; the second is answered 200 duplicate."""
    listener = listen("--secret", SECRET)
    result = trigger(listener.url, "invoice.paid", "--repeat", "2")
    assert result.returncode == 0, result.stderr
    first, second = answers(result)
    assert (first["outcome"], second["outcome"]) == ("handled", "duplicate")
    assert first["event_id"] == second["event_id"]
    assert " 200 handled " in listener.line()
    assert " 200 duplicate " in listener.line()


def test_wrong_secret_is_rejected_with_its_reason(listen: Callable[..., Listener]) -> None:
    """A delivery signed with another secret: 401, printed with the reason; trigger fails."""
    listener = listen("--secret", SECRET)
    result = trigger(listener.url, "refund.succeeded", secret=OTHER_SECRET)
    assert result.returncode == 1
    assert result.stdout.startswith("401 Unauthorized ")
    assert answers(result)[0]["outcome"] == "rejected"
    line = listener.line()
    assert " 401 rejected " in line
    assert " (unverified) reason: " in line  # the id and object shown are the sender's claim
    assert "reason: signature verification failed: StandardWebhooks: no matching signature" in line
    assert listener.stop() == 0
    assert listener.stderr == ""  # the line says it all: no log line repeating it


def test_unknown_type_sends_a_minimal_event_with_a_note(listen: Callable[..., Listener]) -> None:
    """A type outside the catalogue is still sent, with a note on stderr."""
    listener = listen("--secret", SECRET)
    result = trigger(listener.url, "shipment.delivered")
    assert result.returncode == 0, result.stderr
    assert "note: 'shipment.delivered' is not in the Payment Kit catalogue" in result.stderr
    line = listener.line()
    assert " 200 handled " in line
    assert "shipment.delivered" in line


def test_data_is_merged_into_the_sample_object(listen: Callable[..., Listener]) -> None:
    """--data replaces the keys it gives in data.object and keeps the others."""
    listener = listen("--secret", SECRET)
    result = trigger(
        listener.url, "payment_intent.succeeded", "--data", '{"amount": "5000", "status": "x"}'
    )
    assert result.returncode == 0, result.stderr
    assert "{id=pi_" in (line := listener.line())
    assert "amount=5000 status=x}" in line


def printed_requests(
    result: subprocess.CompletedProcess[str],
) -> list[tuple[str, dict[str, str], bytes]]:
    """The requests ``trigger --print`` showed: (request line, headers, body) each."""
    shown = []
    for block in result.stdout.rstrip("\n").split("\n\nPOST "):
        head, body = block.split("\n\n")
        request_line, *header_lines = head.removeprefix("POST ").splitlines()
        headers = dict(line.split(": ", 1) for line in header_lines)
        shown.append((request_line, headers, body.encode()))
    return shown


def test_print_shows_the_signed_request_and_sends_nothing(closed_port: int) -> None:
    """--print shows URL, headers and body, signed as they would be sent; nothing is sent
    (the URL has no server), and the exit status is 0."""
    url = f"http://127.0.0.1:{closed_port}/webhook"
    result = trigger(url, "invoice.paid", "--id", "evt_p_1", "--print", "--repeat", "2")
    assert result.returncode == 0, result.stderr
    requests = printed_requests(result)
    assert len(requests) == 2
    for shown_url, headers, body in requests:
        assert shown_url == url
        assert headers["content-type"] == "application/json"
        assert StandardWebhooks(SECRET).verify(body, headers) == "evt_p_1"
        assert json.loads(body)["type"] == "invoice.paid"


def test_print_needs_no_http_client() -> None:
    """--print works without the cli extra: it sends nothing."""
    script = (
        "import sys\n"
        "sys.modules['httpx'] = None  # as if not installed\n"
        "from eventbus.__main__ import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    result = run("trigger", "invoice.paid", "--secret", SECRET, "--print", script=script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("POST http://127.0.0.1:8787/webhook\n")


@pytest.mark.parametrize(
    ("offset", "reason"),
    [pytest.param(-3600, "too old", id="stale"), pytest.param(3600, "too new", id="future")],
)
def test_timestamp_sends_a_stale_or_future_delivery(
    listen: Callable[..., Listener], offset: int, reason: str
) -> None:
    """--timestamp signs as of that time: an hour off is refused, saying which way."""
    listener = listen("--secret", SECRET)
    stamp = str(int(time.time()) + offset)
    result = trigger(listener.url, "invoice.paid", "--timestamp", stamp)
    assert result.returncode == 1
    assert answers(result)[0]["outcome"] == "rejected"
    line = listener.line()
    assert " 401 rejected " in line
    assert reason in line


def test_timestamp_is_the_signed_time_under_hmac_timestamp(closed_port: int) -> None:
    """Under hmac-timestamp the t= of the signature header is the given time."""
    result = run(
        "trigger", "invoice.paid", "--url", f"http://127.0.0.1:{closed_port}/", "--secret", "s",
        "--scheme", "hmac-timestamp", "--timestamp", "1600000000", "--print",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    ((_, headers, _),) = printed_requests(result)
    assert headers["Stripe-Signature"].startswith("t=1600000000,v1=")


def test_data_is_merged_deeply(closed_port: int) -> None:
    """--data merges nested objects key by key (metadata keeps setting_id) and replaces
    other values (a list replaces the sample's list)."""
    data = '{"metadata": {"order": "7"}, "items": [], "status": "past_due"}'
    result = trigger(
        f"http://127.0.0.1:{closed_port}/", "customer.subscription.started", "--data", data,
        "--print",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    ((_, _, body),) = printed_requests(result)
    subscription = json.loads(body)["data"]["object"]
    assert subscription["metadata"] == {"setting_id": "your.app.id", "order": "7"}
    assert subscription["items"] == []
    assert subscription["status"] == "past_due"
    assert subscription["id"].startswith("sub_")


def test_payload_that_does_not_fit_its_model_is_422(listen: Callable[..., Listener]) -> None:
    """The listener validates Payment Kit payloads as an application would: 422, with the field."""
    listener = listen("--secret", SECRET)
    result = trigger(listener.url, "payment_intent.succeeded", "--data", '{"amount": "lots"}')
    assert result.returncode == 1
    line = listener.line()
    assert " 422 rejected " in line
    assert "amount" in line.split("reason: ", 1)[1]


def test_secret_can_come_from_the_environment(listen: Callable[..., Listener]) -> None:
    """$EVENTBUS_SECRET stands in for --secret, keeping the secret out of the command line."""
    listener = listen("--secret", SECRET)
    env = {**os.environ, "EVENTBUS_SECRET": SECRET}
    result = run("trigger", "invoice.paid", "--url", listener.url, env=env)
    assert result.returncode == 0, result.stderr
    assert " 200 handled " in listener.line()


def test_hmac_timestamp_scheme_with_another_header(listen: Callable[..., Listener]) -> None:
    """Both commands speak the t=,v1= scheme, here under Blocklet Server's header."""
    options = ["--scheme", "hmac-timestamp", "--header", "X-Webhook-Signature"]
    listener = listen("--secret", "0123456789abcdef", *options)
    assert "(HmacTimestampSignature)" in listener.banner
    result = run(
        "trigger", "manual.notification", "--url", listener.url, "--secret", "0123456789abcdef",
        *options,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    line = listener.line()
    assert " 200 handled " in line
    assert "{type=customer.subscription.started}" in line


def test_scheme_mismatch_names_the_missing_header(listen: Callable[..., Listener]) -> None:
    """A Standard Webhooks delivery to an hmac-timestamp listener: 401, missing header."""
    listener = listen("--secret", SECRET, "--scheme", "hmac-timestamp")
    result = trigger(listener.url, "invoice.paid")
    assert result.returncode == 1
    assert "missing header 'Stripe-Signature'" in listener.line()


def test_events_outside_the_filter_are_ignored(listen: Callable[..., Listener]) -> None:
    """--events limits what is handled; other types are answered 200 ignored."""
    listener = listen("--secret", SECRET, "--events", "customer.subscription.*")
    assert trigger(listener.url, "invoice.paid").returncode == 0
    assert " 200 ignored " in listener.line()
    assert trigger(listener.url, "customer.subscription.paused").returncode == 0
    assert " 200 handled " in listener.line()


def test_other_paths_are_answered_404(listen: Callable[..., Listener]) -> None:
    """Only --path is served; a sender pointed elsewhere gets 404 and shows up."""
    listener = listen("--secret", SECRET, "--path", "/hooks")
    assert listener.url.endswith("/hooks")
    result = trigger(listener.url.replace("/hooks", "/webhook"), "invoice.paid")
    assert result.returncode == 1
    assert " 404 rejected " in listener.line()


# -- forwarding ------------------------------------------------------------------------------


def test_forward_to_resigns_and_shows_the_app_status(
    listen: Callable[..., Listener], app: App
) -> None:
    """Each verified event reaches the app's own receiver, re-signed; its answer is shown."""
    listener = listen("--secret", SECRET, "--forward-to", app.url)
    assert listener.line() == f"Forwarding verified events to {app.url}"
    result = trigger(listener.url, "customer.subscription.renewed", "--id", "evt_fw_1")
    assert result.returncode == 0, result.stderr
    line = listener.line()
    assert " 200 handled " in line
    assert "forwarded: 200 OK" in line
    assert [(event.type, event.id) for event in app.received] == [
        ("customer.subscription.renewed", "evt_fw_1")
    ]
    assert app.received[0].data.object.id.startswith("sub_")


def test_forward_to_repeat_reaches_the_apps_deduplication(
    listen: Callable[..., Listener], app: App
) -> None:
    """The listener does not de-duplicate when forwarding: both sends reach the app, whose
    own answers (handled, then duplicate) trigger prints and the lines show."""
    listener = listen("--secret", SECRET, "--forward-to", app.url)
    listener.line()
    result = trigger(listener.url, "invoice.paid", "--id", "evt_fw_3", "--repeat", "2")
    assert result.returncode == 0, result.stderr
    assert [answer["outcome"] for answer in answers(result)] == ["handled", "duplicate"]
    assert app.requests == 2
    assert [event.id for event in app.received] == ["evt_fw_3"]
    assert " 200 handled " in (first := listener.line())
    assert "forwarded: 200 OK" in first
    assert " 200 duplicate " in (second := listener.line())
    assert "forwarded: 200 OK" in second


def test_forward_to_relays_the_apps_refusal(listen: Callable[..., Listener], app: App) -> None:
    """The listener does not validate payloads when forwarding: the app's 422, with its
    error text, is what trigger gets and what the line shows."""
    listener = listen("--secret", SECRET, "--forward-to", app.url)
    listener.line()
    result = trigger(listener.url, "payment_intent.succeeded", "--data", '{"amount": "lots"}')
    assert result.returncode == 1
    assert result.stdout.startswith("422 Unprocessable")
    assert answers(result)[0]["outcome"] == "rejected"
    assert "amount" in answers(result)[0]["error"]
    line = listener.line()
    assert " 422 rejected " in line
    assert "forwarded: 422 Unprocessable" in line
    assert "amount" in line.split("reason: ", 1)[1]
    assert app.requests == 1
    assert app.received == []


def test_forward_to_relays_the_apps_own_outcome(listen: Callable[..., Listener]) -> None:
    """An app that ignores a type answers 200 ignored; the sender sees that, not handled."""
    second = listen("--secret", SECRET, "--path", "/app", "--events", "invoice.*")
    first = listen("--secret", SECRET, "--forward-to", second.url)
    first.line()
    result = trigger(first.url, "refund.succeeded")
    assert result.returncode == 0, result.stderr
    assert answers(result)[0]["outcome"] == "ignored"
    assert " 200 ignored " in (line := first.line())
    assert "forwarded: 200 OK" in line
    assert " 200 ignored " in second.line()


def test_forward_to_a_second_listener(listen: Callable[..., Listener]) -> None:
    """`listen --forward-to` another `listen`: both print the delivery."""
    second = listen("--secret", SECRET, "--path", "/app")
    first = listen("--secret", SECRET, "--forward-to", second.url)
    first.line()  # "Forwarding verified events to ..."
    assert trigger(first.url, "checkout.session.completed", "--id", "evt_fw_2").returncode == 0
    assert "evt_fw_2" in (line := first.line())
    assert "forwarded: 200 OK" in line
    assert " 200 handled " in (line := second.line())
    assert "evt_fw_2" in line


def test_unreachable_forward_target_fails_the_delivery(
    listen: Callable[..., Listener], closed_port: int
) -> None:
    """When the app cannot be reached the listener answers 500, so the sender retries."""
    target = f"http://127.0.0.1:{closed_port}/webhook"
    listener = listen("--secret", SECRET, "--forward-to", target)
    listener.line()
    result = trigger(listener.url, "invoice.paid", "--id", "evt_fw_3")
    assert result.returncode == 1
    [answer] = answers(result)
    assert answer["outcome"] == "failed"
    assert answer["event_id"] == "evt_fw_3"
    assert answer["error"].startswith(f"the application at {target} could not be reached (")
    assert "handler(s)" not in answer["error"]
    line = listener.line()
    assert " 500 failed " in line
    assert "forwarded: failed" in line
    assert listener.stop() == 0
    assert "Traceback" not in listener.stderr


# -- stopping --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "signum",
    [pytest.param(signal.SIGINT, id="SIGINT"), pytest.param(signal.SIGTERM, id="SIGTERM")],
)
def test_signals_stop_it_cleanly(listen: Callable[..., Listener], signum: int) -> None:
    """Ctrl-C and SIGTERM end the listener with status 0 and no traceback."""
    listener = listen("--secret", SECRET)
    assert trigger(listener.url, "invoice.paid").returncode == 0
    assert listener.stop(signum) == 0
    assert listener.rest()[-1] == "Stopped after 1 delivery"
    assert listener.stderr == ""


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        pytest.param(
            ["listen", "--secret", SECRET, "--scheme", "nope"], 2, "invalid choice: 'nope'",
            id="listen-unknown-scheme",
        ),
        pytest.param(
            ["trigger", "invoice.paid", "--secret", SECRET, "--scheme", "nope"], 2,
            "invalid choice: 'nope'", id="trigger-unknown-scheme",
        ),
        pytest.param(
            ["trigger", "invoice.paid", "--secret", SECRET, "--data", "{bad"], 2,
            "--data is not valid JSON", id="malformed-data",
        ),
        pytest.param(
            ["trigger", "invoice.paid", "--secret", SECRET, "--data", "[1]"], 2,
            "--data must be a JSON object", id="data-not-an-object",
        ),
        pytest.param(["listen"], 2, "--secret is required", id="no-secret"),
        pytest.param(
            ["trigger", "invoice.paid", "--secret", "not base64!"], 2,
            "secret is base64, usually after 'whsec_' (optional", id="standard-secret-not-base64",
        ),
        pytest.param(
            ["listen", "--secret", "whsec_not base64!"], 2,
            "secret is base64, usually after 'whsec_' (optional", id="listen-secret-not-base64",
        ),
        pytest.param(
            ["trigger", "invoice.paid", "--secret", SECRET, "--timestamp", "-5"], 2,
            "must be between 0 and 253402300799 (year 9999), got -5", id="timestamp-negative",
        ),
        pytest.param(
            ["trigger", "invoice.paid", "--secret", SECRET, "--timestamp", "253402300800"], 2,
            "must be between 0 and", id="timestamp-after-9999",
        ),
        pytest.param(
            ["trigger", "Not A Type", "--secret", SECRET], 2, "invalid event type",
            id="malformed-type",
        ),
        pytest.param(
            ["listen", "--secret", SECRET, "--events", "trial_*"], 2, "--events: invalid pattern",
            id="bad-events-pattern",
        ),
        pytest.param(
            ["listen", "--secret", SECRET, "--port", "70000"], 2, "not between 0 and 65535",
            id="port-out-of-range",
        ),
        pytest.param(
            ["listen", "--secret", SECRET, "--forward-to", "127.0.0.1:9"], 2,
            "--forward-to must be an http", id="forward-to-not-a-url",
        ),
        pytest.param(
            ["trigger", "invoice.paid", "--secret", SECRET, "--repeat", "0"], 2,
            "must be at least 1", id="repeat-zero",
        ),
        pytest.param([], 2, "required: COMMAND", id="no-command"),
        pytest.param(
            ["trigger", "invoice.paid", "--secret", SECRET, "--url", "localhost:8787"], 2,
            "--url must be an http:// or https:// URL", id="url-not-a-url",
        ),
        pytest.param(
            ["trigger", "invoice.paid", "--secret", SECRET, "--timestamp", "soon"], 2,
            "not a unix time in whole seconds: 'soon'", id="timestamp-not-a-number",
        ),
        pytest.param(
            ["trigger", "invoice.paid", "--secret", SECRET, "--header", "X-Foo"], 2,
            "--header only applies to --scheme hmac-timestamp", id="header-without-its-scheme",
        ),
    ],
)  # fmt: skip
def test_bad_input_is_one_line(args: list[str], status: int, message: str) -> None:
    """Bad input: one line on stderr naming the problem, exit status 2, no traceback."""
    result = run(*args)
    assert result.returncode == status
    assert result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr
    assert result.stderr.startswith("eventbus")


def test_version_prints_the_installed_version() -> None:
    result = run("--version")
    assert (result.returncode, result.stdout) == (0, f"eventbus {metadata.version('eventbus')}\n")


def test_trigger_help_names_the_default_url_once_in_the_url_option() -> None:
    text = run("trigger", "--help").stdout
    assert "Default URL" not in text
    assert " ".join(text.split()).count("(default: http://127.0.0.1:8787/webhook)") == 1


def test_a_bare_base64_secret_means_the_same_to_listen_and_trigger(
    listen: Callable[..., Listener],
) -> None:
    """'whsec_' is optional (as in the reference libraries), for both commands alike."""
    bare = SECRET.removeprefix("whsec_")
    listener = listen("--secret", bare)
    assert trigger(listener.url, "invoice.paid", secret=SECRET).returncode == 0
    assert trigger(listener.url, "invoice.paid", secret=bare).returncode == 0
    assert listener.stop() == 0


def test_unreachable_url_is_a_runtime_error(closed_port: int) -> None:
    """trigger against a port where nothing listens: one line, exit status 1."""
    result = trigger(f"http://127.0.0.1:{closed_port}/webhook", "invoice.paid")
    assert result.returncode == 1
    assert result.stderr.startswith("eventbus trigger: error: cannot reach http://127.0.0.1:")
    assert result.stderr.count("\n") == 1


def test_port_in_use_is_a_runtime_error() -> None:
    """listen on a port already taken: one line naming it, exit status 1."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = run("listen", "--port", str(port), "--secret", SECRET)
    assert result.returncode == 1
    assert result.stderr == (
        f"eventbus listen: error: cannot listen on 127.0.0.1:{port}: port already in use\n"
    )


@pytest.mark.parametrize(
    ("args", "missing"),
    [
        pytest.param(["listen", "--secret", SECRET], "uvicorn", id="listen"),
        pytest.param(["trigger", "invoice.paid", "--secret", SECRET], "httpx", id="trigger"),
    ],
)
def test_missing_cli_extra_says_what_to_install(args: list[str], missing: str) -> None:
    """Without uvicorn/httpx a command names the extra to install instead of failing."""
    script = (
        "import sys\n"
        f"sys.modules[{missing!r}] = None  # as if not installed\n"
        "from eventbus.__main__ import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    result = run(*args, script=script)
    assert result.returncode == 1
    assert f"needs {missing}" in result.stderr
    assert "pip install 'eventbus[cli]'" in result.stderr
    assert result.stderr.count("\n") == 1
