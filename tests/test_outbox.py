"""Contract tests for the webhook sender's outbox, written against the Outbox protocol: every
implementation runs the same tests (add one to ``OUTBOXES``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from eventbus._exceptions import StoreFileMissingError
from eventbus.webhooks import Attempt, Endpoint, Outbox, SqliteOutbox
from eventbus.webhooks._outbox import DeliveryStatus, Lease, Message

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LEASE = timedelta(seconds=60)
OUTBOXES: dict[str, Callable[[Path], Outbox]] = {
    "sqlite": lambda tmp: SqliteOutbox(tmp / "outbox.db", retention=timedelta(days=1)),
}


@pytest.fixture(params=list(OUTBOXES))
def outbox(request: pytest.FixtureRequest, tmp_path: Path) -> Outbox:
    box = OUTBOXES[request.param](tmp_path)
    assert isinstance(box, Outbox)
    return box


def endpoint(number: int = 1, **changes: object) -> Endpoint:
    made = Endpoint(
        id=f"we_{number}",
        url=f"https://hooks{number}.example.com/",
        enabled_events=("invoice.*",),
        status="enabled",
        secret=f"whsec_secret{number}",
        description="desc",
        metadata={"team": "billing"},
        scheme="standard",
        created_at=T0 + timedelta(seconds=number),
        updated_at=T0 + timedelta(seconds=number),
    )
    return dataclasses.replace(made, **changes)  # type: ignore[arg-type]


def message(event_id: str = "evt_1", at: datetime = T0) -> Message:
    return Message(event_id, "invoice.paid", b'{"id":"%s"}' % event_id.encode(), {}, at)


def attempt(lease: Lease, ok: bool, at: datetime, next_at: datetime | None = None) -> Attempt:
    return Attempt(
        event_id=lease.message.event_id,
        endpoint_id=lease.endpoint.id,
        number=0,
        status="succeeded" if ok else "failed",
        response_status=200 if ok else 500,
        response_body="body",
        error=None if ok else "HTTP 500",
        duration=0.5,
        trigger=lease.trigger,
        created_at=at,
        next_attempt_at=next_at,
    )


def settle(outbox: Outbox, lease: Lease, done: Attempt, status: DeliveryStatus) -> object:
    [failing_since] = outbox.settle([(lease, done, status)])
    return failing_since


def claim_all(outbox: Outbox, now: datetime = T0, limit: int = 10) -> list[Lease]:
    return outbox.claim(now, LEASE, limit, per_endpoint=limit, in_flight={})


# -- endpoints ---------------------------------------------------------------------------------


def test_endpoints_round_trip(outbox: Outbox) -> None:
    """An endpoint comes back equal, every field included; list is oldest first."""
    rotated = endpoint(2, previous_secrets=(("whsec_old", T0 + LEASE),), failing_since=T0)
    outbox.add_endpoint(rotated)
    outbox.add_endpoint(endpoint(1))
    assert outbox.get_endpoint("we_2") == rotated
    assert outbox.list_endpoints() == [endpoint(1), rotated]
    assert outbox.get_endpoint("we_none") is None


def test_update_endpoint_sets_given_fields(outbox: Outbox) -> None:
    """update_endpoint changes only the fields given and returns the result."""
    outbox.add_endpoint(endpoint())
    changes = {"url": "https://new.example.com/", "status": "disabled"}
    updated = outbox.update_endpoint("we_1", changes)
    assert updated == endpoint(url="https://new.example.com/", status="disabled")
    assert outbox.get_endpoint("we_1") == updated
    assert outbox.update_endpoint("we_none", {"url": "x"}) is None


def test_disable_endpoint_reports_once(outbox: Outbox) -> None:
    """Only the call that disables an enabled endpoint gets it back."""
    outbox.add_endpoint(endpoint())
    disabled = outbox.disable_endpoint("we_1", "gone", T0 + LEASE)
    assert disabled is not None
    assert (disabled.status, disabled.disabled_reason, disabled.updated_at) == (
        "disabled",
        "gone",
        T0 + LEASE,
    )
    assert outbox.disable_endpoint("we_1", "again", T0) is None
    assert outbox.disable_endpoint("we_none", "gone", T0) is None


def test_delete_endpoint_takes_its_deliveries(outbox: Outbox) -> None:
    """Deleting an endpoint deletes its deliveries and attempts, not others'."""
    outbox.add_endpoint(endpoint(1))
    outbox.add_endpoint(endpoint(2))
    outbox.enqueue(message(), ["we_1", "we_2"])
    [first, _] = claim_all(outbox)
    settle(outbox, first, attempt(first, True, T0), "succeeded")
    assert outbox.delete_endpoint("we_1") is True
    assert outbox.delete_endpoint("we_1") is False
    assert [d.endpoint_id for d in outbox.deliveries(endpoint_id=None, status=None, limit=10)] == [
        "we_2"
    ]
    assert outbox.attempts(event_id=None, endpoint_id="we_1") == []


# -- queuing -----------------------------------------------------------------------------------


def test_enqueue_is_idempotent_and_only_for_enabled_endpoints(outbox: Outbox) -> None:
    """Each (event, endpoint) is queued once; disabled and unknown endpoints get nothing."""
    outbox.add_endpoint(endpoint(1))
    outbox.add_endpoint(endpoint(2, status="disabled"))
    assert outbox.enqueue(message(), ["we_1", "we_2", "we_none"]) == 1
    assert outbox.enqueue(message(), ["we_1"]) == 0
    [delivery] = outbox.deliveries(endpoint_id=None, status=None, limit=10)
    assert (delivery.event_id, delivery.event_type, delivery.endpoint_id) == (
        "evt_1",
        "invoice.paid",
        "we_1",
    )
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("pending", 0, T0)
    assert delivery.created_at == T0


def test_claim_returns_the_exact_message_and_endpoint(outbox: Outbox) -> None:
    """A lease carries the stored bytes, headers and the endpoint as it is now."""
    outbox.add_endpoint(endpoint())
    sent = Message("evt_1", "invoice.paid", b'{"caf\xc3\xa9":1}', {"traceparent": "00-x"}, T0)
    outbox.enqueue(sent, ["we_1"])
    [lease] = claim_all(outbox)
    assert lease.message == sent
    assert lease.endpoint == endpoint()
    assert (lease.step, lease.trigger, lease.lease_until) == (0, "scheduled", T0 + LEASE)


def test_a_leased_delivery_is_not_claimed_again_until_the_lease_ends(outbox: Outbox) -> None:
    """Claimed deliveries are held for the lease; after it another worker may take them."""
    outbox.add_endpoint(endpoint())
    outbox.enqueue(message(), ["we_1"])
    [first] = claim_all(outbox)
    assert claim_all(outbox, T0 + LEASE / 2) == []
    assert outbox.next_due() == T0 + LEASE
    [second] = claim_all(outbox, T0 + LEASE)
    assert second.token != first.token


def test_claim_only_due_deliveries_of_enabled_endpoints(outbox: Outbox) -> None:
    """Deliveries due later, or of a disabled endpoint, are not claimed."""
    outbox.add_endpoint(endpoint(1))
    outbox.add_endpoint(endpoint(2))
    outbox.enqueue(message("evt_later", T0 + LEASE), ["we_1"])
    outbox.enqueue(message("evt_now"), ["we_2"])
    outbox.update_endpoint("we_2", {"status": "disabled"})
    assert claim_all(outbox) == []
    assert outbox.next_due() == T0 + LEASE
    assert [lease.message.event_id for lease in claim_all(outbox, T0 + LEASE)] == ["evt_later"]


def test_claim_takes_endpoints_in_turn_within_their_limit(outbox: Outbox) -> None:
    """Endpoints are served in turn, none beyond per_endpoint minus what it has in flight."""
    outbox.add_endpoint(endpoint(1))
    outbox.add_endpoint(endpoint(2))
    for number in range(4):
        outbox.enqueue(message(f"evt_a{number}", T0), ["we_1"])
    outbox.enqueue(message("evt_b", T0 + timedelta(seconds=1)), ["we_2"])
    now = T0 + timedelta(seconds=2)
    leases = outbox.claim(now, LEASE, 3, per_endpoint=2, in_flight={"we_2": 0})
    assert [lease.endpoint.id for lease in leases] == ["we_1", "we_2", "we_1"]
    more = outbox.claim(now, LEASE, 5, per_endpoint=3, in_flight={"we_1": 2})
    assert [lease.message.event_id for lease in more] == ["evt_a2"]


# -- settling ----------------------------------------------------------------------------------


def test_settle_records_attempts_and_moves_the_delivery(outbox: Outbox) -> None:
    """A failure keeps it pending at next_attempt_at and counts the step; a success ends it."""
    outbox.add_endpoint(endpoint())
    outbox.enqueue(message(), ["we_1"])
    [lease] = claim_all(outbox)
    later = T0 + timedelta(seconds=5)
    assert settle(outbox, lease, attempt(lease, False, T0, later), "pending") == T0
    [delivery] = outbox.deliveries(endpoint_id="we_1", status="pending", limit=10)
    assert (delivery.attempts, delivery.next_attempt_at) == (1, later)
    assert claim_all(outbox) == []
    [again] = claim_all(outbox, later)
    assert again.step == 1
    assert settle(outbox, again, attempt(again, True, later), "succeeded") is None
    first, second = outbox.attempts(event_id="evt_1", endpoint_id=None)
    assert (first.number, first.status, first.next_attempt_at) == (1, "failed", later)
    assert (second.number, second.status, second.response_body) == (2, "succeeded", "body")
    [done] = outbox.deliveries(endpoint_id=None, status="succeeded", limit=10)
    assert (done.attempts, done.next_attempt_at) == (2, None)


def test_a_stale_lease_records_its_attempt_but_leaves_the_delivery(outbox: Outbox) -> None:
    """A worker whose lease ran out and was taken over cannot overwrite the new holder."""
    outbox.add_endpoint(endpoint())
    outbox.enqueue(message(), ["we_1"])
    [stale] = claim_all(outbox)
    [current] = claim_all(outbox, T0 + LEASE)
    settle(outbox, stale, attempt(stale, True, T0 + LEASE), "succeeded")
    assert outbox.deliveries(endpoint_id=None, status="pending", limit=10)
    settle(outbox, current, attempt(current, False, T0 + LEASE), "failed")
    assert [a.number for a in outbox.attempts(event_id=None, endpoint_id=None)] == [1, 2]
    assert outbox.deliveries(endpoint_id=None, status="failed", limit=10)


def test_failing_since_is_kept_until_a_success(outbox: Outbox) -> None:
    """The first failure sets failing_since; later failures keep it; a success clears it."""
    outbox.add_endpoint(endpoint())
    for number, moment in enumerate((T0, T0 + LEASE)):
        outbox.enqueue(message(f"evt_{number}", moment), ["we_1"])
        [lease] = claim_all(outbox, moment)
        assert settle(outbox, lease, attempt(lease, False, moment), "failed") == T0
    outbox.enqueue(message("evt_ok", T0 + 2 * LEASE), ["we_1"])
    [lease] = claim_all(outbox, T0 + 2 * LEASE)
    assert settle(outbox, lease, attempt(lease, True, T0 + 2 * LEASE), "succeeded") is None
    endpoint_now = outbox.get_endpoint("we_1")
    assert endpoint_now is not None
    assert endpoint_now.failing_since is None


def test_schedule_makes_a_manual_attempt_due_now(outbox: Outbox) -> None:
    """schedule() revives any delivery as due now with a manual trigger."""
    outbox.add_endpoint(endpoint())
    outbox.enqueue(message(), ["we_1"])
    [lease] = claim_all(outbox)
    settle(outbox, lease, attempt(lease, True, T0), "succeeded")
    later = T0 + LEASE
    assert outbox.schedule("evt_1", "we_1", later) is True
    assert outbox.schedule("evt_1", "we_none", later) is False
    [manual] = claim_all(outbox, later)
    assert manual.trigger == "manual"


def test_recover_restarts_what_never_succeeded_since(outbox: Outbox) -> None:
    """recover() restarts the schedule of deliveries since a time without a success."""
    outbox.add_endpoint(endpoint())
    for number in range(3):
        outbox.enqueue(message(f"evt_{number}", T0 + timedelta(seconds=number)), ["we_1"])
    leases = {lease.message.event_id: lease for lease in claim_all(outbox, T0 + LEASE)}
    settle(outbox, leases["evt_0"], attempt(leases["evt_0"], False, T0 + LEASE), "failed")
    settle(outbox, leases["evt_1"], attempt(leases["evt_1"], False, T0 + LEASE), "failed")
    settle(outbox, leases["evt_2"], attempt(leases["evt_2"], True, T0 + LEASE), "succeeded")
    later = T0 + 2 * LEASE
    assert outbox.recover("we_1", T0 + timedelta(seconds=1), later) == 1
    [again] = claim_all(outbox, later)
    assert (again.message.event_id, again.step, again.trigger) == ("evt_1", 0, "manual")


# -- reading and purging -----------------------------------------------------------------------


def test_deliveries_and_attempts_filter_and_order(outbox: Outbox) -> None:
    """deliveries: newest first, filtered, limited; attempts: oldest first, filtered."""
    outbox.add_endpoint(endpoint(1))
    outbox.add_endpoint(endpoint(2))
    for number in range(3):
        outbox.enqueue(message(f"evt_{number}", T0 + timedelta(seconds=number)), ["we_1", "we_2"])
    listed = outbox.deliveries(endpoint_id="we_1", status=None, limit=2)
    assert [d.event_id for d in listed] == ["evt_2", "evt_1"]
    assert outbox.deliveries(endpoint_id=None, status="failed", limit=10) == []
    for lease in claim_all(outbox, T0 + LEASE):
        settle(outbox, lease, attempt(lease, False, T0 + LEASE), "failed")
    assert len(outbox.attempts(event_id="evt_0", endpoint_id=None)) == 2
    assert len(outbox.attempts(event_id=None, endpoint_id="we_2")) == 3
    assert outbox.next_due() is None


def test_purge_deletes_finished_deliveries_past_retention(tmp_path: Path) -> None:
    """Finished deliveries older than retention go with their attempts and messages;
    pending and recent ones stay."""
    outbox = SqliteOutbox(tmp_path / "o.db", retention=timedelta(days=1))
    outbox.add_endpoint(endpoint())
    outbox.enqueue(message("evt_old"), ["we_1"])
    outbox.enqueue(message("evt_pending"), ["we_1"])
    outbox.enqueue(message("evt_recent"), ["we_1"])
    leases = {lease.message.event_id: lease for lease in claim_all(outbox)}
    settle(outbox, leases["evt_old"], attempt(leases["evt_old"], True, T0), "succeeded")
    recent = T0 + timedelta(days=2)
    settle(outbox, leases["evt_recent"], attempt(leases["evt_recent"], False, recent), "failed")
    assert outbox.purge(T0 + timedelta(days=2, seconds=1)) == 1
    left = {d.event_id for d in outbox.deliveries(endpoint_id=None, status=None, limit=10)}
    assert left == {"evt_pending", "evt_recent"}
    assert {a.event_id for a in outbox.attempts(event_id=None, endpoint_id=None)} == {
        "evt_recent"
    }
    assert outbox.enqueue(message("evt_old"), ["we_1"]) == 1  # its message went too


# -- the SQLite outbox itself ------------------------------------------------------------------


def test_sqlite_outbox_is_shared_through_its_file(tmp_path: Path) -> None:
    """Two SqliteOutbox objects on one path (two processes, say) see the same data."""
    first = SqliteOutbox(tmp_path / "o.db")
    second = SqliteOutbox(tmp_path / "o.db")
    first.add_endpoint(endpoint())
    assert second.list_endpoints() == [endpoint()]
    assert "o.db" in repr(second)


def test_sqlite_outbox_refuses_a_vanished_file(tmp_path: Path) -> None:
    """A deleted outbox file is an error, not a silent fresh start."""
    outbox = SqliteOutbox(tmp_path / "o.db")
    (tmp_path / "o.db").unlink()
    with pytest.raises(StoreFileMissingError):
        outbox.list_endpoints()


def test_sqlite_outbox_close_then_reopen(tmp_path: Path) -> None:
    """close() releases the connection; the next call opens a new one."""
    outbox = SqliteOutbox(tmp_path / "o.db")
    outbox.add_endpoint(endpoint())
    outbox.close()
    assert outbox.get_endpoint("we_1") == endpoint()


def test_sqlite_outbox_retention_must_be_positive(tmp_path: Path) -> None:
    """A retention of zero or less is refused."""
    with pytest.raises(ValueError, match="retention must be positive"):
        SqliteOutbox(tmp_path / "o.db", retention=timedelta(0))


def test_release_gives_back_unsent_leases(outbox: Outbox) -> None:
    """A released lease is due again at once; a stale token releases nothing."""
    outbox.add_endpoint(endpoint())
    outbox.enqueue(message(), ["we_1"])
    [lease] = claim_all(outbox)
    outbox.release([dataclasses.replace(lease, token="stale")])
    assert claim_all(outbox) == []
    outbox.release([lease])
    assert outbox.next_due() == T0
    [again] = claim_all(outbox)
    assert again.message == lease.message


def test_schedule_of_a_delivery_in_flight_waits_for_its_attempt(outbox: Outbox) -> None:
    """retry of a leased delivery starts no second POST: it stays leased, and is due as a
    manual attempt as soon as the attempt in flight settles, whatever came of it."""
    outbox.add_endpoint(endpoint())
    outbox.enqueue(message(), ["we_1"])
    [lease] = claim_all(outbox)
    assert outbox.schedule("evt_1", "we_1", T0) is True
    assert claim_all(outbox) == []
    settled_at = T0 + timedelta(seconds=1)
    settle(outbox, lease, attempt(lease, True, settled_at), "succeeded")
    [pending] = outbox.deliveries(endpoint_id=None, status="pending", limit=10)
    assert pending.next_attempt_at == settled_at
    [manual] = claim_all(outbox, settled_at)
    assert (manual.trigger, manual.step) == ("manual", 0)
    settle(outbox, manual, attempt(manual, True, settled_at), "succeeded")
    assert outbox.deliveries(endpoint_id=None, status="pending", limit=10) == []


def test_schedule_after_the_lease_ran_out_is_due_at_once(outbox: Outbox) -> None:
    """A lease that ran out (its worker died) is free: retry makes the delivery due now."""
    outbox.add_endpoint(endpoint())
    outbox.enqueue(message(), ["we_1"])
    claim_all(outbox)
    assert outbox.schedule("evt_1", "we_1", T0 + LEASE) is True
    [manual] = claim_all(outbox, T0 + LEASE)
    assert manual.trigger == "manual"


def test_recover_of_a_delivery_in_flight_waits_for_its_attempt(outbox: Outbox) -> None:
    """recover counts a leased delivery but starts no second POST; once its attempt fails
    it is due from the first step; one that succeeds meanwhile is not sent again."""
    outbox.add_endpoint(endpoint())
    outbox.enqueue(message("evt_1"), ["we_1"])
    outbox.enqueue(message("evt_2"), ["we_1"])
    leases = {lease.message.event_id: lease for lease in claim_all(outbox)}
    first, second = leases["evt_1"], leases["evt_2"]
    later = T0 + timedelta(seconds=1)
    settle(outbox, first, attempt(first, False, T0, later), "pending")
    [again] = claim_all(outbox, later)
    assert outbox.recover("we_1", T0, later) == 2
    assert claim_all(outbox, later) == []
    settle(outbox, again, attempt(again, False, later, later + LEASE), "pending")
    settle(outbox, second, attempt(second, True, later), "succeeded")
    [restarted] = claim_all(outbox, later)
    assert (restarted.message.event_id, restarted.step, restarted.trigger) == (
        "evt_1", 0, "manual",
    )  # fmt: skip
    assert [d.event_id for d in outbox.deliveries(endpoint_id=None, status="succeeded",
                                                  limit=10)] == ["evt_2"]  # fmt: skip
