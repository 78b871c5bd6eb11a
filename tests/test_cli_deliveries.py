"""``eventbus deliveries OUTBOX_PATH``, run as a real process over a real outbox file."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from eventbus.webhooks import Attempt, Endpoint, SqliteOutbox
from eventbus.webhooks._outbox import Message

T0 = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eventbus", "deliveries", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _endpoint(endpoint_id: str) -> Endpoint:
    return Endpoint(
        id=endpoint_id,
        url="https://hooks.example.com/",
        enabled_events=("**",),
        status="enabled",
        secret="whsec_x",
        description="",
        metadata={},
        scheme="standard",
        created_at=T0,
        updated_at=T0,
    )


@pytest.fixture
def outbox_path(tmp_path: Path) -> Path:
    """An outbox with one succeeded, one pending (after a 500) and one failed delivery."""
    path = tmp_path / "outbox.db"
    outbox = SqliteOutbox(path)
    for endpoint_id in ("we_a", "we_b"):
        outbox.add_endpoint(_endpoint(endpoint_id))
    for number, event_id in enumerate(("evt_ok", "evt_retry", "evt_dead")):
        at = T0 + timedelta(minutes=number)
        outbox.enqueue(Message(event_id, "invoice.paid", b"{}", {}, at), ["we_a"])
    early = T0 - timedelta(minutes=1)
    outbox.enqueue(Message("evt_b", "refund.succeeded", b"{}", {}, early), ["we_b"])
    leases = {
        lease.message.event_id: lease
        for lease in outbox.claim(T0 + timedelta(hours=1), timedelta(minutes=1), 10,
                                  per_endpoint=10, in_flight={})
    }  # fmt: skip
    outcomes = {
        "evt_ok": (True, 200, None, None, "succeeded"),
        "evt_retry": (False, 500, "HTTP 500", T0 + timedelta(hours=2), "pending"),
        "evt_dead": (False, None, "timed out after 15 s", None, "failed"),
    }
    for event_id, (ok, status, error, next_at, final) in outcomes.items():
        lease = leases[event_id]
        attempt = Attempt(event_id, "we_a", 0, "succeeded" if ok else "failed", status, "",
                          error, 0.1, "scheduled", T0 + timedelta(hours=1), next_at)  # fmt: skip
        outbox.settle([(lease, attempt, final)])  # type: ignore[list-item]
    return path


def test_lists_deliveries_as_a_table(outbox_path: Path) -> None:
    """One row per delivery, newest first, with status, attempts, last result, next time."""
    result = run(str(outbox_path))
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == [
        "QUEUED", "EVENT", "TYPE", "ENDPOINT", "STATUS", "ATTEMPTS", "LAST", "NEXT", "ATTEMPT",
    ]  # fmt: skip
    assert [row.split()[2] for row in rows] == ["evt_dead", "evt_retry", "evt_ok", "evt_b"]
    dead, retry, ok, pending = rows
    assert "failed" in dead
    assert "timed out after 15 s" in dead
    assert retry.split()[4:9] == ["we_a", "pending", "1", "HTTP", "500"]
    assert retry.endswith("2026-03-04 07:06:07")
    assert ok.split()[4:8] == ["we_a", "succeeded", "1", "200"]
    assert pending.split()[4:9] == ["we_b", "pending", "0", "-", "2026-03-04"]
    assert pending.endswith("05:05:07")


def test_filters_by_endpoint_and_failed(outbox_path: Path) -> None:
    """--endpoint and --failed narrow the rows."""
    failed = run(str(outbox_path), "--failed").stdout.splitlines()
    assert [row.split()[2] for row in failed[1:]] == ["evt_dead"]
    only_b = run(str(outbox_path), "--endpoint", "we_b").stdout.splitlines()
    assert [row.split()[2] for row in only_b[1:]] == ["evt_b"]
    none = run(str(outbox_path), "--endpoint", "we_b", "--failed")
    assert (none.returncode, none.stdout, none.stderr) == (0, "", "no deliveries match\n")


def test_empty_outbox_says_so(tmp_path: Path) -> None:
    """An outbox without deliveries prints a note on stderr."""
    SqliteOutbox(tmp_path / "o.db")
    result = run(str(tmp_path / "o.db"))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "no deliveries\n")


def test_missing_or_foreign_file_is_an_error(tmp_path: Path) -> None:
    """A missing path is not created; a file that is not an outbox is named as such."""
    missing = run(str(tmp_path / "nope.db"))
    assert missing.returncode == 1
    assert "no outbox at" in missing.stderr
    assert not (tmp_path / "nope.db").exists()
    (tmp_path / "notes.txt").write_text("not sqlite " * 100)
    foreign = run(str(tmp_path / "notes.txt"))
    assert foreign.returncode == 1
    assert "is not a readable outbox" in foreign.stderr
