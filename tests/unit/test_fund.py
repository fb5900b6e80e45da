"""Seed 001's flexible fund and employer incentives as pure rules: barriers in the action plan, costs identified
in assessments, what a spend and an incentive may be, the fund's counters and report, and the employer as a payee
outside the chain (the claim file names it; the supply chain owes it nothing).

docs/rules.md lists every programme rule with the rulebook field that holds it and the test that proves it.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from chalicelib.adapters.rulebooks import get_rulebook, parse_rulebook
from chalicelib.domain.errors import RulebookError, ValidationFailed
from chalicelib.payments import claim_file
from chalicelib.payments import fund as counts
from chalicelib.payments import lines as pl
from chalicelib.payments.supply_chain import owed_by_subcontractor
from tests.unit.test_journey_deadlines import act, refer

TEES = get_rulebook("tees-valley-routes-to-work")
NORFOLK = get_rulebook("flexible-routeways-norfolk")
ON = date(2026, 11, 24)
BARRIERS = [{"id": "b1-childcare", "category": "childcare"}, {"id": "b2-cscs", "category": "training"}]
COSTS = [{"id": "c1-buddying", "amount_pence": 60000}, {"id": "c2-supervision", "amount_pence": 80000}]


def _assessed(rulebook=TEES, plan: list | None = None):
    referral = refer(rulebook, today=ON).referral
    for name, body in (("accept", {}), ("start", {}), ("assessment", {"support_costs": COSTS})):
        referral = act(name, referral, {"date": ON, **body}, ON).referral
    if plan is not None:
        referral = act("action_plan", referral, {"date": ON, "barriers": plan}, ON).referral
    return referral


def _refused(name, referral, body, field, rule, rulebook=TEES):
    with pytest.raises(ValidationFailed) as caught:
        act(name, referral, {"date": ON, **body}, ON, rulebook)
    assert [(e.field, e.rule) for e in caught.value.errors] == [(field, rule)]


SPEND = {"category": "childcare", "barrier_id": "b1-childcare", "amount_pence": 8000, "supplier": "Nursery"}


def test_tees_fund_budgets_categories_spot_threshold_and_incentive_limit():
    """Seed 001: a fund per authority for childcare, travel, clothing, tools, licences and training (Redcar para 7,
    Hartlepool para 16, Darlington para 16); the amounts are the rulebook's stated choices."""
    fund = TEES.flexible_fund
    assert fund.categories == ("childcare", "travel", "clothing", "tools", "licences", "training")
    assert fund.budgets == {"middlesbrough-council": 13000000, "stockton-on-tees-council": 12500000,
                            "redcar-cleveland-council": 10000000, "hartlepool-council": 8000000,
                            "darlington-council": 6500000}
    # GBP 200 for each individual of the authority's minimum
    assert all(fund.budgets[o.org_id] == o.minimum * 20000 for o in TEES.delivery_organisations)
    assert (fund.spot_purchase_over_pence, fund.incentive_max_pence) == (25000, 100000)
    assert (fund.fee, fund.incentive_fee) == ("flexible-fund", "employer-incentive")
    assert NORFOLK.flexible_fund is None


def test_a_fund_s_budget_names_a_delivery_organisation_and_its_fees_are_evidence_fees():
    document = dict(TEES.document)
    bad = {**document["flexible_fund"], "budgets": [{"org_id": "nowhere-council", "budget_pence": 1}]}
    with pytest.raises(RulebookError, match="nowhere-council"):
        parse_rulebook({**document, "flexible_fund": bad}, "tees.json")
    bad = {**document["flexible_fund"], "incentive_fee": "job-and-sustainment"}
    with pytest.raises(RulebookError, match="incentive_fee"):
        parse_rulebook({**document, "flexible_fund": bad}, "tees.json")


def test_the_action_plan_records_barriers_by_short_id_and_fund_category():
    referral = _assessed(plan=BARRIERS)
    assert referral.barriers == {"b1-childcare": "childcare", "b2-cscs": "training"}
    again = act("action_plan", referral, {"date": ON, "barriers": [{"id": "b3-travel", "category": "travel"}]},
                ON).referral
    assert again.barriers == {**referral.barriers, "b3-travel": "travel"}  # a revision adds to the plan
    _refused("action_plan", referral, {"barriers": [{"id": "Jane Smith's debts", "category": "travel"}]},
             "barriers.id", "short_id")
    _refused("action_plan", referral, {"barriers": [{"id": "b4", "category": "holidays"}]},
             "barriers.category", "one_of")


def test_an_assessment_records_the_in_work_support_costs_it_identified():
    referral = _assessed()
    assert referral.support_costs == {"c1-buddying": 60000, "c2-supervision": 80000}


def test_a_spend_removes_a_barrier_in_the_action_plan_of_its_category():
    """'each spend ... justified against a barrier in the action plan' (Stockton: 'must be justified')."""
    _refused("flexible_fund_spend", _assessed(), SPEND, "barrier_id", "action_plan_required")
    referral = _assessed(plan=BARRIERS)
    _refused("flexible_fund_spend", referral, {**SPEND, "barrier_id": "b9"}, "barrier_id", "in_action_plan")
    _refused("flexible_fund_spend", referral, {**SPEND, "category": "training"}, "category", "matches_barrier")
    _refused("flexible_fund_spend", referral, {**SPEND, "category": "gym"}, "category", "one_of")
    _refused("flexible_fund_spend", referral, {**SPEND, "amount_pence": 50001}, "amount_pence", "over_cap")
    _refused("flexible_fund_spend", referral, {**SPEND, "date": date(2026, 11, 25)}, "date", "not_in_future")
    taken = act("flexible_fund_spend", referral, {"date": ON, **SPEND}, ON)
    assert taken.event.data == {"spend_id": f"ff{referral.version + 1}", "category": "childcare",
                                "barrier_id": "b1-childcare", "amount_pence": 8000, "supplier": "Nursery",
                                "spot_purchase": False, "status": "direct", "provider_ref": None}


def test_a_spot_purchase_is_a_procured_service_or_above_gbp_250():
    """Darlington para 18: 'procurement or spot purchase services' (CSCS, Door Security) need the coordinator."""
    referral = _assessed(plan=BARRIERS)
    cscs = {**SPEND, "category": "training", "barrier_id": "b2-cscs"}
    for amount, marked, spot in ((25000, False, False), (25001, False, True), (9000, True, True)):
        data = act("flexible_fund_spend", referral, {"date": ON, **cscs, "amount_pence": amount,
                                                     "spot_purchase": marked}, ON).event.data
        assert (data["spot_purchase"], data["status"]) == (spot, "pending_approval" if spot else "direct")


def test_an_employer_incentive_meets_an_assessed_cost_within_the_limit_per_participant():
    """Darlington para 15: the cost 'will be identified during the participant's ongoing assessments' and
    'considered as part of the employer brokerage process'."""
    referral = _assessed()
    body = {"employer_name": "Tees Valley Security Ltd", "amount_pence": 60000, "cost_id": "c1-buddying"}
    _refused("employer_incentive", referral, {**body, "cost_id": "c9"}, "cost_id", "assessed_cost")
    _refused("employer_incentive", referral, {**body, "amount_pence": 60001}, "amount_pence", "within_assessed_cost")
    _refused("employer_incentive", referral, {**body, "employer_name": "Thornaby Pathways (Stockton spoke: mental "
                                              "health)"}, "employer_name", "outside_chain")
    _refused("employer_incentive", referral, {**body, "employer_name": "darlington-council"}, "employer_name",
             "outside_chain")
    agreed = act("employer_incentive", referral, {"date": ON, **body}, ON).referral
    (record,) = agreed.incentives.values()
    assert record == {"employer": "Tees Valley Security Ltd", "amount_pence": 60000, "cost_id": "c1-buddying",
                      "on": "2026-11-24"}
    _refused("employer_incentive", agreed, {**body, "amount_pence": 1}, "amount_pence", "within_assessed_cost")
    _refused("employer_incentive", agreed, {**body, "cost_id": "c2-supervision", "amount_pence": 40001},
             "amount_pence", "incentive_limit")
    more = act("employer_incentive", agreed, {"date": ON, **body, "cost_id": "c2-supervision",
                                              "amount_pence": 40000}, ON).referral
    assert sum(x["amount_pence"] for x in more.incentives.values()) == TEES.flexible_fund.incentive_max_pence


def _line(**changes) -> pl.PaymentLine:
    line = pl.new_line(referral_id="ref-1", programme_id=TEES.id, participant_ref="P-1", milestone_key="f:ff7",
                       fee_id="flexible-fund", milestone="evidence", funder="tvca",
                       funder_org_id="tees-valley-combined-authority", payee_org_id="darlington-council",
                       prime_org_id="darlington-council", management_fee_bp=0, amount_pence=30000, event_date=ON,
                       kind=pl.CLAIM, status=pl.PENDING_APPROVAL, category="training", barrier_id="b2-cscs")
    return replace(line, **changes)


def test_the_fund_s_counters_count_a_spend_once_committed_and_release_it_if_the_payer_rejects_it():
    spot, org = _line(), "darlington-council"
    budget, found = 6500000, {}

    def add(changes):
        for k, v in changes.items():
            found[k] = found.get(k, 0) + v

    add(counts.spend_counts(spot, spot_purchase=True))
    add(counts.spend_counts(_line(category="travel", amount_pence=4500), spot_purchase=False))
    report = counts.report(org, budget, found)
    assert (report["committed_pence"], report["pending_spot_purchases"]) == (4500, {"count": 1, "amount_pence": 30000})
    add(counts.coordinator_counts(spot, approve=True))
    add(counts.payer_counts(spot, True, "flexible-fund"))
    add(counts.payer_counts(_line(category="travel", amount_pence=4500), False, "flexible-fund"))
    report = counts.report(org, budget, found)
    assert report == {"org_id": org, "budget_pence": budget, "committed_pence": 30000, "spent_pence": 30000,
                      "remaining_pence": budget - 30000, "pending_spot_purchases": {"count": 0, "amount_pence": 0},
                      "by_category": [{"category": "training", "committed_pence": 30000}],
                      "incentives_by_employer": []}


def test_an_employer_is_paid_outside_the_chain_and_named_in_the_claim_file():
    line = pl.new_line(referral_id="ref-1", programme_id=TEES.id, participant_ref="P-1", milestone_key="e:ei9",
                       fee_id="employer-incentive", milestone="evidence", funder="tvca",
                       funder_org_id="tees-valley-combined-authority", payee_org_id="employer:tees-valley-security",
                       prime_org_id="darlington-council", management_fee_bp=500, amount_pence=60000, event_date=ON,
                       kind=pl.CLAIM, status=pl.SUBMITTED, payee_kind=pl.EMPLOYER,
                       payee_name="=Tees Valley Security Ltd", payee_role="employer")
    # The funder pays it (the council never approves it), whole: no prime keeps a share of an employer's incentive.
    assert (line.payer_org_id, line.prime_retained_pence, line.payee_net_pence) == (
        "tees-valley-combined-authority", 0, 60000)
    row = dict(zip(claim_file.COLUMNS, claim_file.row(line), strict=True))
    assert (row["payee_kind"], row["payee_name"]) == ("employer", "'=Tees Valley Security Ltd")  # never a formula
    totals = claim_file.Totals()
    totals.add(line)
    totals.add(_line(status=pl.APPROVED))
    record = claim_file.ClaimFile(claim_file_id="cf", programme_id=TEES.id, period="2026-11",
                                  owner_org_id="darlington-council", status="ready", created_at="", created_by="",
                                  totals=totals.as_dict())
    assert owed_by_subcontractor(record, []) == {}  # not a chain member's money to pass through
    # Agreed, it counts among Darlington's incentives by employer; rejected by the payer, it no longer does.
    found: dict[str, int] = {}
    for changes in (counts.incentive_counts("darlington-council", line), counts.payer_counts(line, True, "ff"),
                    counts.payer_counts(line, False, "ff")):
        for k, v in changes.items():
            found[k] = found.get(k, 0) + v
    assert counts.report("darlington-council", 1, found)["incentives_by_employer"] == []


def test_an_incentive_leaves_the_count_of_the_authority_it_was_counted_under_whoever_is_its_prime():
    """Agreed by the authority delivering it, an incentive counts under that authority; rejected or clawed back,
    it leaves that authority's count, not its prime's, even where a prime routed the referral to it."""
    line = pl.new_line(referral_id="ref-1", programme_id=TEES.id, participant_ref="P-1", milestone_key="e:ei9",
                       fee_id="employer-incentive", milestone="evidence", funder="tvca",
                       funder_org_id="tees-valley-combined-authority", payee_org_id="employer:teesside-steel",
                       prime_org_id="a-prime", management_fee_bp=0, amount_pence=60000, event_date=ON,
                       kind=pl.CLAIM, status=pl.SUBMITTED, payee_kind=pl.EMPLOYER, payee_name="Teesside Steel",
                       payee_role="employer", authority_org_id="darlington-council")
    assert pl.clawback(replace(line, status=pl.APPROVED), "gone", ON).authority_org_id == "darlington-council"
    for taken_back in (counts.payer_counts(line, False, "ff"), counts.reversal_counts(line, "ff")):
        found: dict[str, int] = {}
        for changes in (counts.incentive_counts("darlington-council", line), taken_back):
            for k, v in changes.items():
                found[k] = found.get(k, 0) + v
        assert found and set(found.values()) == {0}, found  # nothing left under Darlington...
        assert not [k for k in found if k.startswith(counts.prefix("a-prime"))]  # ...and nothing under the prime
    # A line recorded before lines named their authority was counted under its prime (the authority then).
    older = replace(line, prime_org_id="darlington-council", authority_org_id=None)
    assert counts.payer_counts(older, False, "ff") == {k: -v for k, v in counts.incentive_counts(
        "darlington-council", older).items()}
