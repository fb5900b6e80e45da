"""Validation by sampling on the in-memory store: the commissioner's rate, a reproducible draw, checks before
payment that remove a line, payment of the rest, and checks after payment that raise a clawback."""
from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from chalicelib.domain.access import Principal
from chalicelib.domain.errors import ClaimRefused, Conflict, Forbidden, NotFound
from chalicelib.payments import validation as pv
from chalicelib.services import claim_files, deps, validation
from tests.services.money_helpers import STARTED, commit, cut_file, in_memory, journey_to

TODAY = date(2026, 11, 24)
NORFOLK = "flexible-routeways-norfolk"
REFERRER = Principal("jobcentre-plus-norwich", "referrer", frozenset({"referrer"}), "key_ref")
DELIVERER = Principal("kings-lynn-works", "subcontractor", frozenset({"provider"}), "key_del", "trobius")
PRIME_FINANCE = Principal("trobius", "prime", frozenset({"finance"}), "key_fin")
DWP = Principal("dwp-commissioning", "commissioner", frozenset({"finance"}), "key_dwp")
DWP_ADMIN = Principal("dwp-commissioning", "commissioner", frozenset({"admin"}), "key_dwp_admin")
TVCA = Principal("tees-valley-combined-authority", "commissioner", frozenset({"finance"}), "key_tvca")
SEED = "norfolk-2026-11-a"


def _started(n: int) -> str:
    return journey_to(REFERRER, DELIVERER, NORFOLK, f"AB{n:06d}C", {"seeking_work": True, "right_to_work": True},
                      STARTED)


def _november_file(people: int = 12):
    for n in range(1, people + 1):
        _started(n)
    return cut_file(PRIME_FINANCE, NORFOLK, "2026-11", None)


@pytest.fixture
def data():
    yield from in_memory()


def _drawn_ids(fid: str) -> list[str]:
    return [c.line_id for c in deps.store().validation.all_checks(fid) if c.drawn]


def test_the_commissioner_sets_the_sample_rate_and_each_change_is_kept(data):
    assert validation.sample_rate(DWP, NORFOLK)["sample_rate_bp"] == 500  # the rulebook's until set
    assert validation.sample_rate(DWP, NORFOLK)["source"] == "rulebook"
    commit(validation.set_sample_rate, DWP, NORFOLK, 2500)
    commit(validation.set_sample_rate, DWP, NORFOLK, 1000)
    rate = validation.sample_rate(DWP, NORFOLK)
    assert (rate["sample_rate_bp"], rate["source"], rate["set_by_key_id"]) == (1000, "commissioner", "key_dwp")
    assert [(h.rate_bp, h.set_by_org_id) for h in rate["history"]] == [(1000, "dwp-commissioning"),
                                                                      (2500, "dwp-commissioning")]
    for stranger in (PRIME_FINANCE, TVCA):
        with pytest.raises(Forbidden) as caught:
            validation.set_sample_rate(stranger, NORFOLK, 10000, deps.store().transaction())
        assert caught.value.extra["rule"] == "commissioner_only"
        with pytest.raises(Forbidden):
            validation.sample_rate(stranger, NORFOLK)
    with pytest.raises(Forbidden):
        validation.sample_rate(DWP_ADMIN, NORFOLK)  # a key without the finance role


def test_the_same_seed_draws_the_same_lines_from_the_same_file(data):
    commit(validation.set_sample_rate, DWP, NORFOLK, 2500)
    record = _november_file()
    drawn, made = validation.draw(DWP, record.claim_file_id, SEED)
    assert made and drawn.sample_seed == SEED and drawn.sample_size == 3  # 25% of 12
    first = _drawn_ids(record.claim_file_id)
    assert len(first) == 3
    again, made_again = validation.draw(DWP, record.claim_file_id, None)
    assert not made_again and _drawn_ids(record.claim_file_id) == first and again.sample_size == 3
    with pytest.raises(Conflict):
        validation.draw(DWP, record.claim_file_id, "another-seed-b")
    # Anyone holding the seed and the file repeats the draw: the recorded lines are the seed's lines.
    in_file = list(deps.store().lines.in_file(record.claim_file_id))
    assert [x.line_id for x in pv.draw(SEED, reversed(in_file), 3)] == first


def test_only_the_programme_s_commissioner_draws_and_checks(data):
    record = _november_file(2)
    for stranger in (PRIME_FINANCE, TVCA, DWP_ADMIN):
        with pytest.raises((NotFound, Forbidden)):
            validation.draw(stranger, record.claim_file_id, SEED)
    with pytest.raises(NotFound):
        validation.draw(DWP, "cf-no-such-file", SEED)


def test_a_failed_line_is_removed_with_its_reason_and_the_rest_is_paid_to_the_penny(data):
    commit(validation.set_sample_rate, DWP, NORFOLK, 2500)
    record = _november_file()
    fid = record.claim_file_id
    validation.draw(DWP, fid, SEED)
    failing, *passing = _drawn_ids(fid)
    with pytest.raises(ClaimRefused) as early:
        validation.pay(DWP, fid, date(2026, 11, 24), "BACS-1", deps.store().transaction())
    assert early.value.reason == "sample_unchecked"
    not_drawn = next(x.line_id for x in data.lines.values() if x.claim_file_id == fid and x.line_id not in passing
                     and x.line_id != failing)
    with pytest.raises(ClaimRefused) as undrawn:
        validation.record_check(DWP, fid, {"line_id": not_drawn, "result": "passed"}, deps.store().transaction())
    assert undrawn.value.reason == "not_sampled"

    commit(validation.record_check, DWP, fid, {"line_id": failing, "result": "failed",
                                                "reason": "no evidence of the start"})
    for line_id in passing:
        commit(validation.record_check, DWP, fid, {"line_id": line_id, "result": "passed"})
    removed = data.lines[failing]
    assert removed.status == "removed" and removed.reason == "removed by validation: no evidence of the start"
    checked = claim_files.get(fid)
    assert (checked.sample_checked, checked.removed_line_count, checked.removed_pence) == (3, 1, 15750)
    assert checked.payable_pence == checked.total_pence - 15750

    paid = commit(validation.pay, DWP, fid, date(2026, 11, 24), "BACS-2026-11-0042")
    assert paid.paid_pence == claim_files.get(fid).paid_pence == 11 * 15750
    # The file as cut, less the line removed, reconciles with what was paid, to the penny, per payee and funder.
    rows = list(csv.DictReader(io.StringIO(deps.store().files.text(record.s3_key))))
    kept = [r for r in rows if r["line_id"] != failing]
    assert sum(int(r["amount_pence"]) for r in kept) == paid.paid_pence
    assert sum(int(r["payee_net_pence"]) for r in kept) == 11 * 14175
    assert [r["line_id"] for r in rows if data.lines[r["line_id"]].status == "removed"] == [failing]
    with pytest.raises(Conflict):
        validation.pay(DWP, fid, date(2026, 11, 24), "again", deps.store().transaction())
    with pytest.raises(ClaimRefused) as gone:  # a removed line was not paid: nothing to check after payment
        validation.record_check(DWP, fid, {"line_id": failing, "result": "passed"}, deps.store().transaction())
    assert gone.value.reason == "not_paid"


def test_a_check_after_payment_that_fails_raises_a_clawback_and_leaves_the_paid_line(data):
    record = _november_file(3)
    fid = record.claim_file_id
    validation.draw(DWP, fid, SEED)  # 5% of 3: one line
    (drawn,) = _drawn_ids(fid)
    commit(validation.record_check, DWP, fid, {"line_id": drawn, "result": "passed"})
    commit(validation.pay, DWP, fid, date(2026, 11, 24), "BACS-7")
    paid_line = next(x for x in data.lines.values() if x.claim_file_id == fid and x.line_id != drawn)
    before = data.lines[paid_line.line_id]
    check = commit(validation.record_check, DWP, fid, {"line_id": paid_line.line_id, "result": "failed",
                                                        "reason": "employer denies the start"})
    assert not check.drawn and check.after_payment.result == "failed"
    reversal = data.lines[check.after_payment.clawback_line_id]
    assert reversal.kind == "clawback" and reversal.amount_pence == -15750 and reversal.status == "approved"
    assert reversal.reverses_line_id == paid_line.line_id and "employer denies the start" in reversal.reason
    assert data.lines[paid_line.line_id] == before  # a paid line is never edited
    with pytest.raises(ClaimRefused) as twice:
        validation.record_check(DWP, fid, {"line_id": paid_line.line_id, "result": "passed"},
                                deps.store().transaction())
    assert twice.value.reason == "already_checked"
    # A drawn line, passed before payment, may fail a check after it too.
    later = commit(validation.record_check, DWP, fid, {"line_id": drawn, "result": "failed", "reason": "forged"})
    assert later.drawn and later.before_payment.result == "passed" and later.after_payment.clawback_line_id
    # The clawbacks net off in the prime's next file.
    december = cut_file(PRIME_FINANCE, NORFOLK, "2026-11", None)
    assert december.claim_file_id == fid  # cutting the same period again returns the same file
    assert sum(1 for x in data.lines.values() if x.kind == "clawback" and x.claim_file_id is None) == 2


def test_a_failed_check_gives_its_reason(data):
    record = _november_file(1)
    validation.draw(DWP, record.claim_file_id, SEED)
    (drawn,) = _drawn_ids(record.claim_file_id)
    with pytest.raises(Exception) as caught:
        validation.record_check(DWP, record.claim_file_id, {"line_id": drawn, "result": "failed"},
                                deps.store().transaction())
    assert caught.value.errors[0].field == "reason"
    assert data.lines[drawn].status == "filed"


def test_paying_a_file_reads_ahead_from_its_id_the_obligations_its_owner_s_chain_may_owe_in_it():
    """A file's id names its programme, period, owner and payee (names that hold hyphens): paying it reads the
    programme's rate and the obligations of the owner's subcontractors and the chain members under them with the
    idempotency record, or of the one payee the file is cut for; an id no programme names reads nothing more."""
    from chalicelib.adapters.rulebooks import get_rulebook

    norfolk = get_rulebook("flexible-routeways-norfolk")
    prime = next(o.org_id for o in norfolk.contract_holders() if norfolk.subcontractors_of(o.org_id))
    subs = {o.org_id for o in norfolk.subcontractors_of(prime)}
    fid = claim_files.file_id(norfolk.id, "2026-11", prime, None)
    assert claim_files.named_by(fid) == (norfolk.id, "2026-11", prime, None)
    needs = validation.payment_reads(fid)
    owed = {sub for _, _, sub in needs.obligations}
    assert needs.sample_rate_of == norfolk.id and {p for p, _, _ in needs.obligations} == {norfolk.id}
    assert subs <= owed and prime not in owed
    assert {m.org_id for m in norfolk.chain_members if m.under in subs | {prime}} <= owed
    one = next(iter(sorted(subs)))
    payee_file = claim_files.file_id(norfolk.id, "2026-11", prime, one)
    assert claim_files.named_by(payee_file) == (norfolk.id, "2026-11", prime, one)
    assert validation.payment_reads(payee_file).obligations == ((norfolk.id, "2026-11", one),)
    assert validation.payment_reads("cf-no-such-programme-2026-11-x").obligations == ()
