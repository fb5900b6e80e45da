"""The claim-file build's two hot paths, which build their DynamoDB requests themselves: the file queue read with
the low-level client gives exactly the lines the model gives, and a lock takes a batch whole or not at all."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from chalicelib.domain.errors import ConcurrentUpdate
from chalicelib.payments.lines import APPROVED, FILED, PaymentLine
from chalicelib.store import payments
from chalicelib.store.transaction import Transaction

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _line(n: int, **changes) -> PaymentLine:
    line = PaymentLine(
        line_id=f"ref_{n:04d}:level-2-mentoring:mentoring", referral_id=f"ref_{n:04d}",
        programme_id="flexible-routeways-norfolk", participant_ref=f"pr_{n:04d}", kind="claim",
        fee_id="level-2-mentoring", milestone="mentoring", funder="dwp", payee_org_id="broadland-mentors",
        prime_org_id="trobius", management_fee_bp=1250, amount_pence=12001, prime_retained_pence=1500,
        payee_net_pence=10501, status=APPROVED, event_date=date(2026, 10, 7), evidence_ref="ev-7",
        funder_org_id="dwp-commissioning", payer_org_id="trobius", line_ref=f"L{n:04d}", provider_ref=f"P{n}",
        last_day_on_provision=date(2026, 10, 30), payee_role="mentor", contact_ids=("c1", "c2"))
    return replace(line, **changes)


def _store(*lines: PaymentLine) -> None:
    tx = Transaction()
    for line in lines:
        payments.add_line(tx, line, "key_test", NOW)
    tx.commit()


def test_the_queue_read_raw_gives_each_line_exactly_as_the_model_reads_it(aws):
    full = _line(1)
    bare = _line(2, evidence_ref=None, payer_org_id=None, provider_ref=None, last_day_on_provision=None,
                 contact_ids=(), management_fee_bp=0, prime_retained_pence=0, payee_net_pence=12001,
                 payee_role="deliverer", payee_org_id="kings-lynn-works")
    later = _line(3, event_date=date(2026, 11, 2))  # November: not in an October file
    _store(full, bare, later)

    queued = list(payments.queued_lines("flexible-routeways-norfolk", "2026-10", "trobius", page_size=1))

    assert queued == [payments.get_line(full.line_id), payments.get_line(bare.line_id)]
    assert queued[0].contact_ids == ("c1", "c2") and queued[0].last_day_on_provision == date(2026, 10, 30)
    assert queued[1].payer_org_id is None and queued[1].contact_ids == ()
    only_mentor = list(payments.queued_lines("flexible-routeways-norfolk", "2026-10", "trobius",
                                             payee="broadland-mentors"))
    assert [x.line_id for x in only_mentor] == [full.line_id]
    assert list(payments.queued_lines("flexible-routeways-norfolk", "2026-10", "another-prime")) == []


def test_a_lock_takes_its_batch_whole_or_leaves_every_line_as_it_was(aws):
    lines = [_line(n) for n in range(1, 5)]
    _store(*lines)
    payments.lock_lines("cf-a", "t#000000", lines[:2])

    # One line of this batch is already in a file: nothing of the batch is taken, the part is not written.
    with pytest.raises(ConcurrentUpdate):
        payments.lock_lines("cf-b", "t#000000", lines[1:])
    # A line changed since it was read (its version moved on) is not taken either.
    with pytest.raises(ConcurrentUpdate):
        payments.lock_lines("cf-b", "t#000001", [replace(lines[2], version=7)])

    assert [payments.get_line(x.line_id).claim_file_id for x in lines] == ["cf-a", "cf-a", None, None]
    assert {payments.get_line(x.line_id).status for x in lines[2:]} == {APPROVED}
    assert list(payments.file_parts("cf-b")) == []
    assert list(payments.file_parts("cf-a")) == [[lines[0].line_id, lines[1].line_id]]
    locked = payments.get_line(lines[0].line_id)
    assert locked.status == FILED and locked.version == 2
    assert [x.line_id for x in payments.queued_lines("flexible-routeways-norfolk", "2026-10", "trobius")] == [
        lines[2].line_id, lines[3].line_id]
