"""The use cases (chalicelib/services) on the in-memory store: the journey, payments, claim files and the nightly
run, with no AWS emulator. Each test reads as Given / When / Then and runs in milliseconds."""
from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from chalicelib.domain import steps
from chalicelib.domain.access import Principal
from chalicelib.domain.errors import (
    ClaimRefused,
    Conflict,
    IdempotencyMismatch,
    InvalidTransition,
    NotFound,
    ReferralRefused,
    ValidationFailed,
)
from chalicelib.domain.idempotency import Resource
from chalicelib.services import claim_files, deps, journey, nightly, payments, writes
from tests.fakes.memory import memory_store
from tests.services.money_helpers import commit, cut_file, on_day

TODAY = date(2026, 11, 24)
REFERRER = Principal("jobcentre-plus-norwich", "referrer", frozenset({"referrer"}), "key_ref")
DELIVERER = Principal("kings-lynn-works", "subcontractor", frozenset({"provider"}), "key_del", "trobius")
MENTOR = Principal("broadland-mentors", "subcontractor", frozenset({"provider"}), "key_men", "trobius")
LEVEL_2 = Principal("broadland-mentors", "subcontractor", frozenset({"referrer"}), "key_l2", "trobius")
OTHER_DELIVERER = Principal("great-yarmouth-works", "subcontractor", frozenset({"provider"}), "key_gy", "trobius")
PRIME = Principal("trobius", "prime", frozenset({"provider"}), "key_prime")
PRIME_FINANCE = Principal("trobius", "prime", frozenset({"finance"}), "key_fin")
STRANGER = Principal("pathway-employment-prime", "prime", frozenset({"provider", "finance"}), "key_x")


@pytest.fixture
def data():
    store, data = memory_store()
    with deps.using(store):
        yield data


def person(nino: str = "AB123456C", **eligibility: bool) -> dict:
    return {"nino": nino, "given_name": "Ada", "family_name": "Lovelace", "date_of_birth": date(1990, 5, 17),
            "postcode": "NR1 3QU", "eligibility": {"seeking_work": True, "right_to_work": True, "benefit_entitlement": True, "on_other_dwp_programme": False, **eligibility}}


def refer(provider: str = "kings-lynn-works", nino: str = "AB123456C", referrer: Principal = REFERRER) -> str:
    payload = {"programme_id": "flexible-routeways-norfolk", "provider_id": provider, "support_level": "standard",
               "consent": {"given": True, "date": TODAY}, "participant": person(nino)}
    tx = deps.store().transaction()
    result = journey.create_referral(referrer, payload, tx)
    tx.commit()
    return result.referral.id


def take(principal: Principal, rid: str, name: str, **body) -> journey.Result:
    tx = deps.store().transaction()
    result = journey.record(principal, rid, steps.get(name), {"date": TODAY, **body}, tx)
    tx.commit()
    return result


def started(principal: Principal = DELIVERER, provider: str = "kings-lynn-works", nino: str = "AB123456C") -> str:
    rid = refer(provider, nino)
    take(principal, rid, "accept")
    take(principal, rid, "start")
    return rid


# ------------------------------------------------------------------ the journey


def test_a_referral_claims_the_person_and_a_place_and_records_its_event(data):
    rid = refer()
    referral = data.referrals[rid]
    assert referral.status == "referred" and referral.prime_org_id == "trobius"
    assert data.allocations[("flexible-routeways-norfolk", "kings-lynn-works")] == 1
    assert data.allocations[("flexible-routeways-norfolk", "*")] == 1
    assert data.participants[referral.participant_hash].active_referral_id == rid
    assert [e.type for e in data.events[rid]] == ["referral"]
    # The acknowledgement deadline is pending for the nightly run, on the day after it falls due; so is the
    # closure of the referral if it never starts, the day after the referral window shuts (31 March 2028).
    assert sorted((w.act_on, w.rule) for w in data.pending.values()) == [
        (date(2026, 11, 27), "acknowledge"), (date(2026, 12, 16), "start"), (date(2028, 4, 1), "close_unstarted")]


def test_a_person_already_active_is_refused_and_nothing_is_written(data):
    refer()
    before = (dict(data.referrals), dict(data.allocations))
    with pytest.raises(ReferralRefused) as caught:
        refer(provider="great-yarmouth-works")
    assert caught.value.reason == "already_active"
    assert (dict(data.referrals), dict(data.allocations)) == before


def test_a_unit_of_work_whose_condition_fails_writes_nothing(data):
    rid = refer()
    stale = data.referrals[rid]
    take(DELIVERER, rid, "accept")
    tx = deps.store().transaction()
    after = steps.apply(steps.get("reject"), journey.rulebook_for(stale.programme_id), stale,
                        {"date": TODAY, "reason": "inappropriate"}, TODAY)
    journey.commit_step(tx, journey.rulebook_for(stale.programme_id), stale, after, "x", "k", TODAY,
                        journey.clock.now(), steps.get("reject"))
    with pytest.raises(Exception) as caught:
        tx.commit()
    assert type(caught.value).__name__ == "ConcurrentUpdate"
    assert data.referrals[rid].status == "accepted" and len(data.events[rid]) == 2


def test_steps_follow_the_state_machine_and_name_the_current_state(data):
    rid = refer()
    with pytest.raises(InvalidTransition) as caught:
        take(DELIVERER, rid, "start")
    assert caught.value.current_state == "referred"
    take(DELIVERER, rid, "accept")
    assert take(DELIVERER, rid, "start").referral.status == "started"


def test_only_the_holder_records_a_step_and_others_do_not_see_the_referral(data):
    rid = refer()
    with pytest.raises(NotFound):
        take(STRANGER, rid, "accept")
    with pytest.raises(Exception) as caught:
        take(OTHER_DELIVERER, rid, "accept")  # same prime, another subcontractor: cannot see it
    assert type(caught.value).__name__ == "NotFound"


def test_did_not_start_gives_the_place_back_and_frees_the_person(data):
    rid = refer()
    take(DELIVERER, rid, "accept")
    take(DELIVERER, rid, "did_not_start", reason="failed_to_attend")
    assert data.allocations[("flexible-routeways-norfolk", "kings-lynn-works")] == 0
    assert data.participants[data.referrals[rid].participant_hash].active_referral_id is None
    # Nothing is pending for it but the erasure of the person's data when the programme's retention ends.
    assert [w.work_key.rsplit("#", 1)[1] for w in data.pending.values()] == ["erase_personal_data"]


def test_a_transfer_moves_the_place_and_the_pending_work(data):
    rid = refer()
    take(DELIVERER, rid, "accept")
    take(PRIME, rid, "transfer", to_provider_id="great-yarmouth-works",
         handover={"date": TODAY, "document_ref": "HO-1"})
    assert data.referrals[rid].provider_org_id == "great-yarmouth-works"
    assert data.allocations[("flexible-routeways-norfolk", "kings-lynn-works")] == 0
    assert data.allocations[("flexible-routeways-norfolk", "great-yarmouth-works")] == 1
    assert {w.provider_org_id for w in data.pending.values()} == {"great-yarmouth-works"}
    # The deliverer party ended and the new one began: nothing silently replaced.
    deliverers = [(p.org_id, p.until, p.end_reason, p.added_by) for p in data.referrals[rid].parties
                  if p.role == "deliverer"]
    assert deliverers == [("kings-lynn-works", TODAY, "transferred", REFERRER.org_id),
                          ("great-yarmouth-works", None, None, "trobius")]


# ------------------------------------------------------------------ idempotent writes


def _review(rid: str, key: str, fingerprint: str = "f1") -> writes.Outcome:
    def handler(tx):
        result = journey.record(DELIVERER, rid, steps.get("review"), {"date": TODAY}, tx)
        return writes.Written(201, {"version": result.referral.version}, None, Resource("referral", (rid,)))

    return writes.run(DELIVERER, key, fingerprint, handler,
                      lambda r: {"version": journey.read(DELIVERER, r.ids[0]).referral.version})


def test_a_retry_gets_the_first_answer_and_writes_once(data):
    rid = started()
    take(DELIVERER, rid, "assessment")
    take(DELIVERER, rid, "action_plan")
    first = _review(rid, "k-1")
    again = _review(rid, "k-1")
    assert (first.status, first.replayed) == (201, False)
    assert (again.status, again.body, again.replayed) == (201, first.body, True)
    assert [e.type for e in data.events[rid]].count("review") == 1
    record = data.idempotency["kings-lynn-works#k-1"]
    assert record.resource == Resource("referral", (rid,)) and not hasattr(record, "body")


def test_a_key_reused_for_another_request_is_refused(data):
    rid = started()
    take(DELIVERER, rid, "assessment")
    take(DELIVERER, rid, "action_plan")
    _review(rid, "k-2", "f1")
    with pytest.raises(IdempotencyMismatch):
        _review(rid, "k-2", "another-request")


# ------------------------------------------------------------------ payments


def test_level_3_delivery_is_paid_30_on_start_and_70_on_a_job(data, monkeypatch):
    monkeypatch.setenv("REFPAY_TODAY", "2026-11-17")
    payload = {"programme_id": "flexible-routeways-norfolk", "provider_id": "kings-lynn-works",
               "support_level": "standard", "consent": {"given": True, "date": date(2026, 11, 17)},
               "participant": person()}
    tx = deps.store().transaction()
    rid = journey.create_referral(REFERRER, payload, tx).referral.id
    tx.commit()
    take(DELIVERER, rid, "accept", date=date(2026, 11, 17))
    take(DELIVERER, rid, "start", date=date(2026, 11, 17))
    monkeypatch.setenv("REFPAY_TODAY", TODAY.isoformat())
    take(DELIVERER, rid, "assessment")
    take(DELIVERER, rid, "job_start", employer_name="Fenland Foods", hours_per_week=20,
         weekly_earnings_pence=24000)  # a week after the start: Level 3's minimum delivery was met
    lines = {x.milestone: x for x in data.lines.values()}
    assert lines["start"].amount_pence == 15750 and lines["job_start"].amount_pence == 36750
    assert all(x.payee_org_id == "kings-lynn-works" and x.prime_org_id == "trobius" for x in lines.values())
    assert sum(x.prime_retained_pence + x.payee_net_pence for x in lines.values()) == 52500


def mentored(nino: str = "AB123456C") -> str:
    """A Level 2 group refers to Trobius, which routes the person to King's Lynn Works with the group mentoring;
    the deliverer starts the person and the mentor records a contact (mc1)."""
    rid = refer("trobius", nino, referrer=LEVEL_2)
    take(PRIME, rid, "route", to_provider_id="kings-lynn-works")
    take(DELIVERER, rid, "accept")
    take(DELIVERER, rid, "start")
    take(MENTOR, rid, "mentoring_contact", minutes=45, mode="in_person")
    return rid


def test_an_evidence_claim_is_decided_once_by_the_prime_finance(data):
    rid = mentored()
    tx = deps.store().transaction()
    line = payments.submit_claim(MENTOR, {"referral_id": rid, "fee_id": "level-2-support", "amount_pence": 15000,
                                          "event_date": TODAY, "evidence_ref": "EV-1", "contact_ids": ["mc1"]}, tx)
    tx.commit()
    with pytest.raises(NotFound):
        payments.decide(STRANGER, [line.line_id], True, None, deps.store().transaction())
    tx = deps.store().transaction()
    payments.decide(PRIME_FINANCE, [line.line_id], True, None, tx)
    tx.commit()
    assert data.lines[line.line_id].status == "approved"
    with pytest.raises(ClaimRefused) as caught:
        payments.decide(PRIME_FINANCE, [line.line_id], False, "late", deps.store().transaction())
    assert caught.value.reason == "already_decided"


def test_a_claim_over_the_cap_is_refused_naming_the_rule(data):
    rid = mentored()
    with pytest.raises(ClaimRefused) as caught:
        payments.submit_claim(MENTOR, {"referral_id": rid, "fee_id": "level-2-support", "amount_pence": 20001,
                                       "event_date": TODAY, "evidence_ref": "EV", "contact_ids": ["mc1"]},
                              deps.store().transaction())
    assert (caught.value.errors[0].field, caught.value.reason) == ("amount_pence", "over_cap")


def test_a_clawback_is_a_new_negative_line_and_the_original_stays(data):
    rid = started()
    original = next(x for x in data.lines.values() if x.referral_id == rid)
    tx = deps.store().transaction()
    reversal = payments.claw_back(PRIME_FINANCE, original.line_id, "recorded in error", tx)
    tx.commit()
    assert data.lines[original.line_id] == original
    assert reversal.amount_pence == -original.amount_pence and reversal.reverses_line_id == original.line_id


# ------------------------------------------------------------------ claim files


def test_a_claim_file_locks_the_waiting_lines_once_and_reconciles(data):
    for n in range(3):
        started(nino=f"AB00000{n}A")
    with on_day("2026-12-01"):
        first, created = commit(claim_files.cut, PRIME_FINANCE, "flexible-routeways-norfolk", "2026-11", None)
        assert created and first.status == "building" and first.line_count == 0
        assert claim_files.needs_worker(first)
        record = claim_files.build(first.claim_file_id)
    assert record.status == "ready" and record.line_count == record.locked_lines == 3
    rows = list(csv.DictReader(io.StringIO(deps.store().files.text(record.s3_key))))
    assert len(rows) == 3 and sum(int(r["amount_pence"]) for r in rows) == record.totals["total_pence"] == 47250
    assert cut_file(PRIME_FINANCE, "flexible-routeways-norfolk", "2026-11") == record
    with on_day("2026-12-01"):
        assert commit(claim_files.cut, PRIME_FINANCE, "flexible-routeways-norfolk", "2026-11", None) == (record, False)
    assert all(x.status == "filed" for x in data.lines.values())
    # Each lock recorded the lines it took, in the same unit of work.
    assert sorted(i for ids in deps.store().lines.parts(record.claim_file_id) for i in ids) == sorted(data.lines)


@pytest.mark.parametrize("today", ["2026-11-24", "2026-11-30", "2026-10-01"])
def test_a_period_that_has_not_ended_cannot_be_cut(data, today):
    with on_day(today), pytest.raises(ValidationFailed) as caught:
        commit(claim_files.cut, PRIME_FINANCE, "flexible-routeways-norfolk", "2026-11", None)
    (error,) = caught.value.errors
    assert (error.field, error.rule) == ("period", "period_ended") and "2026-12-01" in error.message
    assert data.files == {}


def test_a_build_that_stopped_is_taken_over_and_its_file_holds_every_line_it_locked(data, monkeypatch):
    for n in range(5):
        started(nino=f"AB00001{n}A")
    monkeypatch.setattr(claim_files, "LOCK_BATCH", 2)
    uploads = deps.store().files.upload

    def fail_once(key, body):
        monkeypatch.setattr(deps.store().files, "upload", uploads)
        raise ConnectionError("S3 went away")

    monkeypatch.setattr(deps.store().files, "upload", fail_once)
    with on_day("2026-12-01"):
        record, _ = commit(claim_files.cut, PRIME_FINANCE, "flexible-routeways-norfolk", "2026-11", None)
        claim_files.start_build(record.claim_file_id)  # in-process: the failure is logged, the file stays building
        stopped = claim_files.get(record.claim_file_id)
        assert stopped.status == "building" and claim_files.needs_worker(stopped)
        assert all(x.status == "filed" for x in data.lines.values())  # locked, by the build that stopped
        again, created = commit(claim_files.cut, PRIME_FINANCE, "flexible-routeways-norfolk", "2026-11", None)
        assert not created and claim_files.needs_worker(again)
        done = claim_files.build(record.claim_file_id)
    assert done.status == "ready" and done.line_count == 5
    rows = list(csv.DictReader(io.StringIO(deps.store().files.text(done.s3_key))))
    assert sorted(r["line_id"] for r in rows) == sorted(data.lines)


def test_a_second_worker_neither_builds_a_held_file_nor_overwrites_its_totals(data):
    started(nino="AB000021A")
    with on_day("2026-12-01"):
        record, _ = commit(claim_files.cut, PRIME_FINANCE, "flexible-routeways-norfolk", "2026-11", None)
        held = deps.store().claim_files.take_build(record, "first", 1, 2**40)
        assert held is not None and not claim_files.needs_worker(held)
        assert claim_files.build(record.claim_file_id).status == "building"  # held: the second one leaves it
        with pytest.raises(Conflict):
            deps.store().claim_files.finish(record, "second", 7, {"total_pence": 7}, "k")
        done = deps.store().claim_files.finish(record, "first", 1, {"total_pence": 15750}, "k")
    assert done.status == "ready" and claim_files.get(record.claim_file_id).line_count == 1


# ------------------------------------------------------------------ the nightly run


def test_the_nightly_run_flags_a_missed_acknowledgement_once_and_the_step_resolves_it(data):
    rid = refer()
    assert nightly.run(date(2026, 11, 26))["counts"]["flags"] == {}  # the deadline day itself: not yet missed
    summary = nightly.run(date(2026, 11, 27))
    assert summary["counts"]["flags"] == {"acknowledge": {"kings-lynn-works": 1}}
    assert nightly.run(date(2026, 11, 27))["counts"] == summary["counts"]  # a replay does nothing again
    (flag,) = data.flags.values()
    assert flag.status == "open" and flag.rule == "acknowledge"
    take(DELIVERER, rid, "accept")
    assert data.flags[flag.flag_id].status == "resolved"


def test_claims_and_flags_filter_by_referral_and_show_only_the_caller_s(data):
    first, second = started(nino="AB000001A"), started(nino="AB000002A")
    lines, cursor = payments.list_claims(DELIVERER, {"referral_id": first, "limit": 50})
    assert cursor is None and {x.referral_id for x in lines} == {first} and len(lines) == 1
    assert payments.list_claims(OTHER_DELIVERER, {"referral_id": first, "limit": 50}) == ([], None)
    assert payments.list_claims(PRIME_FINANCE, {"referral_id": second, "limit": 50})[0][0].referral_id == second
