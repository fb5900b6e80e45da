"""Who approves what (segregation of duties), match funding and PRaP-shaped lines, on the in-memory store."""
from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from chalicelib.domain import steps
from chalicelib.domain.access import Principal
from chalicelib.domain.errors import ClaimRefused, Forbidden, NotFound
from chalicelib.payments import lines as pl
from chalicelib.services import deps, journey, payments
from tests.services.money_helpers import STARTED, commit, cut_file, in_memory, journey_to

TODAY = date(2026, 11, 24)
JCP = Principal("tees-valley-jcp", "referrer", frozenset({"referrer"}), "key_jcp")
HARTLEPOOL = Principal("hartlepool-council", "local_authority", frozenset({"provider"}), "key_hp")
HARTLEPOOL_FINANCE = Principal("hartlepool-council", "local_authority", frozenset({"finance"}), "key_hpf")
DARLINGTON_FINANCE = Principal("darlington-council", "local_authority", frozenset({"finance"}), "key_df")
TVCA_FINANCE = Principal("tees-valley-combined-authority", "commissioner", frozenset({"finance"}), "key_tvca")
TVCA_ADMIN = Principal("tees-valley-combined-authority", "commissioner", frozenset({"admin"}), "key_tvca_a")
LEEDS = Principal("leeds-city-council", "local_authority", frozenset({"provider"}), "key_leeds")
LEEDS_FINANCE = Principal("leeds-city-council", "local_authority", frozenset({"finance"}), "key_leedsf")
DWP_FINANCE = Principal("dwp-commissioning", "commissioner", frozenset({"finance"}), "key_dwpf")


@pytest.fixture
def data():
    yield from in_memory()


def started(programme: str, provider: Principal, support_level: str, nino: str = "AB123456C",
            taken: tuple = STARTED) -> str:
    return journey_to(JCP, provider, programme, nino, {"right_to_work": True, "seeking_work": True, "benefit_entitlement": True,
                                                       "on_other_dwp_programme": False}, taken,
                      support_level)


PLANNED = (*STARTED, ("assessment", {}), ("action_plan", {"barriers": [{"id": "b1", "category": "travel"}]}))


def flexible_fund_claim(rid: str, **extra) -> pl.PaymentLine:
    """A travel spend from Hartlepool's flexible fund (a journey step), as the line it makes."""
    commit(lambda tx: journey.record(HARTLEPOOL, rid, steps.get("flexible_fund_spend"), {
        "date": TODAY, "category": "travel", "barrier_id": "b1", "amount_pence": 12000,
        "supplier": "bus passes", **extra}, tx))
    (line,) = [x for x in deps.store().lines.of_referral(rid) if x.fee_id == "flexible-fund"]
    return line


def test_a_council_cannot_approve_its_own_flexible_fund_claim_and_the_combined_authority_does(data):
    rid = started("tees-valley-routes-to-work", HARTLEPOOL, "weekly", taken=PLANNED)
    line = flexible_fund_claim(rid, provider_ref="HBC-RTW-0042")
    assert (line.payer_org_id, line.funder_org_id) == ("tees-valley-combined-authority",) * 2
    assert line.provider_ref == "HBC-RTW-0042" and line.line_ref.startswith("LR-")
    with pytest.raises(Forbidden) as own:
        payments.decide(HARTLEPOOL_FINANCE, [line.line_id], True, None, deps.store().transaction())
    assert own.value.extra["rule"] == "segregation_of_duties"
    assert data.lines[line.line_id].status == "submitted"
    with pytest.raises(NotFound):  # another council does not even see it
        payments.decide(DARLINGTON_FINANCE, [line.line_id], True, None, deps.store().transaction())
    # The combined authority's finance finds the claim waiting for it, and approves it.
    waiting, _ = payments.list_claims(TVCA_FINANCE, {"status": "submitted", "limit": 50})
    assert [x.line_id for x in waiting] == [line.line_id]
    commit(payments.decide, TVCA_FINANCE, [line.line_id], True, None)
    assert data.lines[line.line_id].status == "approved"
    # A commissioner key without the finance role lists and reads nothing.
    assert payments.list_claims(TVCA_ADMIN, {"limit": 50}) == ([], None)
    with pytest.raises(NotFound):
        payments.read(TVCA_ADMIN, line.line_id)


def test_the_trailblazer_co_funding_is_match_funding_shown_but_never_approved_or_claimed(data):
    rid = started("local-supported-employment", LEEDS, "standard")
    by_fee = {x.fee_id: x for x in data.lines.values() if x.referral_id == rid}
    co, dwp = by_fee["la-co-funding"], by_fee["dwp-participant-fee"]
    assert (co.status, co.payer_org_id, co.funder_org_id, co.amount_pence) == (
        "match_funding", None, "leeds-city-council", 150000)
    assert (dwp.status, dwp.payer_org_id, dwp.amount_pence) == ("approved", "dwp-commissioning", 140000)
    with pytest.raises(ClaimRefused) as caught:
        payments.decide(LEEDS_FINANCE, [co.line_id], True, None, deps.store().transaction())
    assert caught.value.reason == "match_funding"
    # Shown to the council in its cascade and its lines, beside what DWP owes it.
    statement = payments.cascade(LEEDS_FINANCE, "2026-11")
    assert {x.fee_id for x in statement["lines"]} == {"la-co-funding", "dwp-participant-fee"}
    listed, _ = payments.list_claims(LEEDS_FINANCE, {"status": "match_funding", "limit": 50})
    assert [x.line_id for x in listed] == [co.line_id]
    # The claim file is what DWP pays: the co-funding is in no file.
    record = cut_file(LEEDS_FINANCE, "local-supported-employment", "2026-11", None)
    rows = list(csv.DictReader(io.StringIO(deps.store().files.text(record.s3_key))))
    assert [r["fee_id"] for r in rows] == ["dwp-participant-fee"]
    assert record.totals["total_pence"] == 140000
    assert data.lines[co.line_id].claim_file_id is None and data.lines[co.line_id].status == "match_funding"
    # DWP's finance sees the line it pays, not the council's own money.
    assert [x.line_id for x in payments.list_claims(DWP_FINANCE, {"limit": 50})[0]] == [dwp.line_id]
    with pytest.raises(NotFound):
        payments.read(DWP_FINANCE, co.line_id)


def test_prap_fields_reach_the_claim_file(data):
    rid = started("tees-valley-routes-to-work", HARTLEPOOL, "weekly", taken=PLANNED)
    line = flexible_fund_claim(rid, provider_ref="HBC-RTW-0042")
    commit(payments.decide, TVCA_FINANCE, [line.line_id], True, None)
    record = cut_file(HARTLEPOOL_FINANCE, "tees-valley-routes-to-work", "2026-11", None)
    (row,) = csv.DictReader(io.StringIO(deps.store().files.text(record.s3_key)))
    assert (row["line_ref"], row["provider_ref"], row["event_date"], row["last_day_on_provision"]) == (
        line.line_ref, "HBC-RTW-0042", "2026-11-24", "")


def test_a_claim_after_an_exit_carries_the_last_day_on_provision(data):
    """A Level 2 group's mentoring claim made after the deliverer recorded the participant's exit."""
    from tests.services.test_chain import DELIVERER, MENTOR, claim, mentored, take

    rid = mentored()
    take(DELIVERER, rid, "exit", reason="withdrew", exit_review={"date": TODAY, "destination": "unemployed"})
    line = claim(MENTOR, rid, fee_id="level-2-support", amount_pence=12000, contact_ids=["mc1"])
    assert line.last_day_on_provision == TODAY and line.provider_ref == rid


def test_the_flexible_fund_s_fees_are_not_claimed_outside_its_steps(data):
    """A spend is justified against a barrier and counted against the budget: never a bare evidence claim."""
    rid = started("tees-valley-routes-to-work", HARTLEPOOL, "weekly", taken=PLANNED)
    for fee_id in ("flexible-fund", "employer-incentive"):
        with pytest.raises(ClaimRefused) as caught:
            commit(payments.submit_claim, HARTLEPOOL, {"referral_id": rid, "fee_id": fee_id, "amount_pence": 1200,
                                                       "event_date": TODAY, "evidence_ref": "receipts/1"})
        assert (caught.value.reason, caught.value.errors[0].field) == ("through_the_fund", "fee_id")
    assert [x for x in data.lines.values() if x.referral_id == rid] == []
