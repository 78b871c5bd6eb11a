"""A real ``redis-server`` for the tests: started on 127.0.0.1 on a free port, stopped after.

No persistence (``--save '' --appendonly no``), its working folder a temporary directory.
A machine without ``redis-server`` fails the tests that need it (``make test`` installs it);
they never skip.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

_START_TIMEOUT = 20.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One ``redis-server`` subprocess; :attr:`url` reaches it once :meth:`start` returns."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The ``redis://`` URL of database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it answers PING; fail loudly if it cannot."""
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail(
                "redis-server is not installed; run 'make setup' (apt-get install -y "
                "redis-server): the Redis tests never skip"
            )
        self.port = free_port()
        log = self.directory / "redis.log"
        command = [
            binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(self.directory), "--logfile", str(log),
        ]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
        self._wait_for_ping(log)

    def _wait_for_ping(self, log: Path) -> None:
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + _START_TIMEOUT
        try:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    break
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    time.sleep(0.02)
        finally:
            client.close()
        self.stop()
        text = log.read_text() if log.exists() else "(no log)"
        pytest.fail(f"redis-server on port {self.port} did not answer PING:\n{text}")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL if it lingers)."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
