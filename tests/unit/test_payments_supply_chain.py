"""Supply-chain rules (chalicelib/payments/supply_chain.py): what a prime owes each subcontractor once paid, the
pass-through limit, when a late pass-through is due for the nightly run and when it is settled."""
from __future__ import annotations

from datetime import date

import pytest

from chalicelib.payments import supply_chain as sc
from chalicelib.payments.claim_file import READY, ClaimFile
from chalicelib.payments.validation import FAILED, PASSED, Check, Outcome

PAID = date(2026, 12, 1)


def owed(pence: int = 14175, paid_on: date = PAID, before: sc.Obligation | None = None,
         fid: str = "cf-1") -> sc.Obligation:
    return sc.after_commissioner_payment(before, "work-choice", "2026-11", "pathway-employment-prime",
                                         "riverside-disability-works", fid, pence, paid_on, 30)


def passed(before: sc.Obligation | None, pence: int, on: date, n: int = 1) -> sc.Obligation:
    payment = sc.PassThrough(f"pt_{n}", "work-choice", "2026-11", "pathway-employment-prime",
                             "riverside-disability-works", pence, on, f"BACS-{n}", "key_f", f"2026-12-0{n}T10:00")
    return sc.after_pass_through(before, payment)


def test_the_limit_runs_from_the_commissioner_s_payment():
    assert sc.due_on(PAID, 30) == date(2026, 12, 31)
    ob = owed()
    assert (ob.commissioner_paid_on, ob.due_on, ob.owed_pence, ob.outstanding_pence) == (
        PAID, date(2026, 12, 31), 14175, 14175)


@pytest.mark.parametrize("today, late", [(date(2026, 12, 31), False), (date(2027, 1, 1), True)])
def test_unpaid_is_late_from_the_day_after_the_limit(today, late):
    assert owed().late(today) is late


@pytest.mark.parametrize("paid_on, days, late", [(date(2026, 12, 31), 30, False), (date(2027, 1, 1), 31, True)])
def test_paid_in_full_on_or_before_the_limit_is_on_time(paid_on, days, late):
    ob = passed(owed(), 14175, paid_on)
    assert ob.settled_on == paid_on and ob.days_to_pass_through == days
    assert ob.late(date(2027, 6, 1)) is late


def test_part_payments_settle_on_the_day_they_cover_what_is_owed():
    ob = passed(owed(), 10000, date(2026, 12, 5))
    assert ob.settled_on is None and ob.outstanding_pence == 4175
    ob = passed(ob, 4175, date(2026, 12, 20), n=2)
    assert ob.settled_on == date(2026, 12, 20) and ob.outstanding_pence == 0 and ob.passed_pence == 14175
    assert (ob.first_passed_on, ob.last_passed_on) == (date(2026, 12, 5), date(2026, 12, 20))


def test_a_prime_that_paid_before_it_was_paid_is_settled_when_the_commissioner_pays():
    early = passed(None, 14175, date(2026, 11, 28))
    assert early.settled_on is None and early.due_on is None  # nothing owed yet: nothing to be late with
    ob = owed(before=early)
    assert ob.settled_on == date(2026, 11, 28) and ob.days_to_pass_through == -3 and not ob.late(date(2027, 6, 1))


def test_a_second_paid_file_adds_to_what_is_owed_and_moves_the_limit():
    first = passed(owed(), 14175, date(2026, 12, 3))
    second = owed(pence=5000, paid_on=date(2026, 12, 15), before=first, fid="cf-2")
    assert second.owed_pence == 19175 and second.settled_on is None
    assert second.commissioner_paid_on == PAID and second.due_on == date(2027, 1, 14)
    assert second.paid_files == ("cf-1", "cf-2") and second.version == first.version + 1


def test_the_nightly_run_waits_on_an_unsettled_obligation_only():
    ob = owed()
    puts, deletes = sc.pending_changes(None, ob)
    assert deletes == [] and len(puts) == 1
    (work,) = puts
    assert (work.rule, work.due, work.act_on) == (sc.LATE_RULE, date(2026, 12, 31), date(2027, 1, 1))
    assert (work.referral_id, work.provider_org_id, work.prime_org_id) == (
        ob.subject, "riverside-disability-works", "pathway-employment-prime")
    assert work.work_key == f"2027-01-01#{ob.subject}#{sc.LATE_RULE}"
    settled = passed(ob, 14175, date(2026, 12, 10))
    puts, deletes = sc.pending_changes(ob, settled)
    assert puts == [] and [d.work_key for d in deletes] == [work.work_key]
    part = passed(ob, 100, date(2026, 12, 10))
    puts, deletes = sc.pending_changes(ob, part)
    assert deletes == [] and puts[0].work_key == work.work_key and puts[0].amount_pence == 14075


def test_what_each_subcontractor_is_owed_from_a_paid_file():
    record = ClaimFile("cf-1", "work-choice", "2026-11", "pathway-employment-prime", READY, "t", "k", totals={
        "by_payee_and_funder": [
            {"payee_org_id": "pathway-employment-prime", "funder": "dwp", "payee_net_pence": 52500},
            {"payee_org_id": "riverside-disability-works", "funder": "dwp", "payee_net_pence": 30000},
            {"payee_org_id": "brightside-supported-employment", "funder": "dwp", "payee_net_pence": 9000},
            {"payee_org_id": "oakfield-supported-business", "funder": "dwp", "payee_net_pence": -500}]})
    failed = Check("cf-1", "l-1", "riverside-disability-works", 15750, 14175,
                   before_payment=Outcome(FAILED, "no evidence", "k", "t"))
    passed_check = Check("cf-1", "l-2", "brightside-supported-employment", 9500, 9000,
                         before_payment=Outcome(PASSED, None, "k", "t"))
    assert sc.owed_by_subcontractor(record, [failed, passed_check]) == {
        "brightside-supported-employment": 9000, "riverside-disability-works": 15825}


@pytest.mark.parametrize("part, whole, bp", [(300, 1700, 1765), (1, 3, 3333), (2, 3, 6667), (0, 5, 0),
                                             (5, 0, None), (1, 20000, 1)])
def test_shares_in_basis_points_round_half_up(part, whole, bp):
    assert sc.share_bp(part, whole) == bp
