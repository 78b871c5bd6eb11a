"""The eventbus tour, as a new user would take it (``make demo``, about ten seconds).

1. The bus in one process: exact, wildcard and catch-all handlers, sync and async, a failure.
2. Webhooks locally: your application (a WebhookReceiver on a bus, served by uvicorn in this
   process) behind the real ``eventbus listen --forward-to``, fed by the real
   ``eventbus trigger``: a delivery, a repeat your application answers as a duplicate, a
   payload it refuses with 422 (the listener relays your application's answers), a wrong
   secret the listener rejects, then Ctrl-C.

``make demo`` installs only the ``demo`` extra (uvicorn, httpx and trio).
"""

from __future__ import annotations

import logging
import queue
import shlex
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import uvicorn

import eventbus
from eventbus import Event, EventBus, paymentkit
from eventbus.webhooks import StandardWebhooks, WebhookReceiver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
WRONG_SECRET = "whsec_AQEBAQEBAQEBAQEBAQEBAQEBAQEB"
TIMEOUT = 20.0

logging.basicConfig(level=logging.CRITICAL)  # failures are shown from results, not logs


def bus_basics() -> None:
    """Part 1: handlers of each kind on one bus."""
    bus = EventBus()

    @bus.on("customer.subscription.started")
    def welcome(event: Event[Any]) -> None:
        print(f"  exact     welcome   {event.type} {event.data['object']['id']}")

    @bus.on("customer.subscription.*", priority=10)
    def audit(event: Event[Any]) -> None:
        print(f"  wildcard  audit     {event.type} (priority 10 runs first)")

    @bus.on("customer.**")
    async def sync_crm(event: Event[Any]) -> None:
        await anyio.sleep(0.01)
        print(f"  async     sync_crm  {event.type}")

    @bus.on("invoice.paid")
    def flaky(event: Event[Any]) -> None:
        raise RuntimeError("mail server unreachable")

    bus.subscribe(lambda event: print(f"  catch-all lambda    {event.type}"))

    print("publish('customer.subscription.started') from sync code:")
    result = bus.publish("customer.subscription.started", {"object": {"id": "sub_1"}})
    print(f"  -> {_counts(result)} ok={result.ok}")
    print("publish_async('customer.subscription.renewed') on trio:")
    result = anyio.run(bus.publish_async, "customer.subscription.renewed", backend="trio")
    print(f"  -> {_counts(result)} ok={result.ok}")
    print("a failing handler does not stop the others:")
    result = bus.publish("invoice.paid", {"object": {"id": "in_1"}})
    try:
        result.raise_for_errors()
    except eventbus.PublishError as error:
        print(f"  -> {_counts(result)}; raise_for_errors(): {error}")


def _counts(result: eventbus.PublishResult) -> str:
    """How many handlers ran (``result.handled`` counts failed ones too), and failed."""
    failed = len(result.errors)
    return f"handlers run={result.handled} succeeded={result.handled - failed} failed={failed}"


# -- part 2 ----------------------------------------------------------------------------------


def app_bus(said: queue.Queue[str]) -> EventBus:
    """Your application's bus: typed Payment Kit handlers."""
    bus = EventBus()
    paymentkit.register(bus)

    @bus.on(paymentkit.SubscriptionStarted)
    def provision(event: paymentkit.SubscriptionStarted) -> None:
        sub = event.data.object
        said.put(f"provision: subscription {sub.id} is {sub.status}")

    @bus.on(paymentkit.PaymentIntentEvent)
    def book(event: paymentkit.PaymentIntentEvent) -> None:
        said.put(f"book: {event.type} of {event.data.object.amount} (an int now)")

    return bus


@contextmanager
def serve_app(bus: EventBus) -> Iterator[str]:
    """Serve a WebhookReceiver for ``bus`` with uvicorn in a thread; yield its URL."""
    receiver = WebhookReceiver(bus, StandardWebhooks(SECRET))
    server = uvicorn.Server(uvicorn.Config(receiver.asgi_app(), log_level="warning"))
    sock = socket.create_server(("127.0.0.1", 0))  # listening now: requests wait in backlog
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/api/payment/callback"
    finally:
        server.should_exit = True
        thread.join(TIMEOUT)
        sock.close()


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "eventbus", *args]


def show(args: list[str]) -> None:
    shown = shlex.join(["eventbus", *args[3:]])
    shown = shown.replace(SECRET, "$SECRET").replace(WRONG_SECRET, "$WRONG_SECRET")
    print(f"\n$ {shown}")


class Listener:
    """The real ``eventbus listen``, its output read line by line."""

    def __init__(self, *args: str) -> None:
        argv = command("listen", "--port", "0", *args)
        show(argv)
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def echo(self) -> str:
        """Print the listener's next line and return it."""
        line = self.lines.get(timeout=TIMEOUT)
        if line is None:
            sys.exit("eventbus listen stopped unexpectedly")
        print(f"  listen   {line}")
        return line

    def stop(self) -> None:
        print("\n(Ctrl-C)")
        self.process.send_signal(signal.SIGINT)
        status = self.process.wait(timeout=TIMEOUT)
        while (line := self.lines.get(timeout=TIMEOUT)) is not None:
            print(f"  listen   {line}")
        assert self.process.stdout is not None
        self.process.stdout.close()
        print(f"  exit status {status}")


def trigger(listener: Listener, said: queue.Queue[str], url: str, *args: str) -> None:
    argv = command("trigger", *args, "--url", url)
    show(argv)
    result = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    for _ in result.stdout.splitlines():
        listener.echo()
    while not said.empty():
        print(f"  app      {said.get()}")
    for line in (result.stderr + result.stdout).splitlines():
        print(f"  trigger  {line}")
    if result.returncode:
        print(f"  trigger exit status {result.returncode}")


def webhooks_locally() -> None:
    """Part 2: listen, forward to your app, trigger events, stop."""
    said: queue.Queue[str] = queue.Queue()
    print(f"SECRET={SECRET}  WRONG_SECRET={WRONG_SECRET}")
    with serve_app(app_bus(said)) as app_url:
        print(f"your app: a WebhookReceiver on {app_url}, served by uvicorn")
        listener = Listener("--secret", SECRET, "--forward-to", app_url)
        url = listener.echo().split()[2]
        listener.echo()
        secret = ("--secret", SECRET)
        trigger(listener, said, url, "customer.subscription.started", *secret)
        pay = ("payment_intent.succeeded", "--id", "evt_demo_pay", *secret)
        trigger(listener, said, url, *pay, "--repeat", "2", "--data", '{"amount": "4200"}')
        misfit = ("payment_intent.succeeded", "--data", '{"amount": "lots"}', *secret)
        trigger(listener, said, url, *misfit)
        trigger(listener, said, url, "invoice.paid", "--secret", WRONG_SECRET)
        listener.stop()


def main() -> None:
    print("== 1. The bus, in one process ==")
    bus_basics()
    print("\n== 2. Webhooks locally: eventbus listen / trigger, forwarding to your app ==")
    webhooks_locally()


if __name__ == "__main__":
    main()
