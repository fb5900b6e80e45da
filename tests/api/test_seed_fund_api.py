"""Seed 001 over HTTP: Tees Valley's flexible fund and employer incentives, as Darlington's proposal words them.

"Key Workers will help participants access the flexible fund for associated costs such as childcare, interview
clothes and travel etc. Guidelines will be agreed to cover the whole Tees Valley pilot, however the fund will be
administered locally" (para 16); "the team may need to utilise funding for procurement or spot purchase services
i.e. where Learning & Skills is unable to offer specialist courses such as the Construction Skills Certification
Scheme, Door Security" (para 18), which the coordinator approves; "Any additional support required, and the
monetary cost of this support, will be identified during the participant's ongoing assessments and these costs
will be highlighted and considered as part of the employer brokerage process" (para 15).
"""
from __future__ import annotations

import logging

from tests.api.test_payments import _csv
from tests.conftest import TODAY, cut_claim_file, dynamodb_calls, referral_body

TEES = "tees-valley-routes-to-work"
DARLINGTON = "darlington-council"
TVCA = "tees-valley-combined-authority"
REPORT = f"/programmes/{TEES}/flexible-fund"
BARRIERS = [{"id": "b1-childcare", "category": "childcare"}, {"id": "b2-travel", "category": "travel"},
            {"id": "b3-cscs", "category": "training"}, {"id": "b4-door-security", "category": "training"}]
COSTS = [{"id": "c1-buddying", "amount_pence": 60000}, {"id": "c2-supervision", "amount_pence": 80000}]
PERSONAL = ("Ada", "Lovelace", "1990-05-17")


def _assessed(api, keys, nino="AB123456C", plan=True):
    """A Darlington participant referred, accepted, started and assessed (costs identified), with an action plan
    naming its barriers (unless `plan` is False)."""
    orgs = keys["organisations"]
    body = referral_body(programme_id=TEES, provider_id=DARLINGTON, nino=nino, support_level="weekly")
    made = api.post("/referrals", orgs["tees-valley-jcp"]["referrer"], body)
    assert made.status == 201, made.body
    rid, key = made.body["id"], orgs[DARLINGTON]["provider"]
    steps = [("accept", {}), ("start", {}), ("assessment", {"support_costs": COSTS})]
    steps += [("action_plan", {"barriers": BARRIERS})] if plan else []
    for step, extra in steps:
        reply = api.post(f"/referrals/{rid}/{step}", key, {"date": TODAY, **extra})
        assert reply.status in (200, 201), reply.body
    return rid, body["participant"]


def _spend(api, key, rid, category, barrier, amount, spot=False, **headers):
    return api.post(f"/referrals/{rid}/flexible_fund_spend", key, {
        "date": TODAY, "category": category, "barrier_id": barrier, "amount_pence": amount,
        "supplier": "Arriva North East: four weekly bus passes" if category == "travel" else "Tees training supplier",
        "spot_purchase": spot}, headers=headers or None)


def _line(api, key, rid, fee_id="flexible-fund"):
    """The newest line of `fee_id` on the referral, as the authority lists it."""
    lines = [x for x in api.get(f"/claims?referral_id={rid}", key).body["items"] if x["fee_id"] == fee_id]
    return lines


def _darlington(api, key):
    (mine,) = [a for a in api.get(REPORT, key).body["authorities"] if a["org_id"] == DARLINGTON]
    return mine


def _problem(reply, status, field, rule):
    assert reply.status == status, reply.body
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert {"field": field, "rule": rule} in [{"field": e["field"], "rule": e["rule"]} for e in reply.body["errors"]]


def test_darlington_spends_its_flexible_fund_against_barriers_in_the_action_plan(api, keys):
    orgs = keys["organisations"]
    key_worker, finance = orgs[DARLINGTON]["provider"], orgs[DARLINGTON]["finance"]
    rid, _ = _assessed(api, keys)
    plan = api.get(f"/referrals/{rid}", key_worker).body
    assert plan["barriers"] == {b["id"]: b["category"] for b in BARRIERS}

    # Travel to interviews: a direct spend, counted against Darlington's GBP 65,000 at once.
    travel = _spend(api, key_worker, rid, "travel", "b2-travel", 4500, **{"Idempotency-Key": "travel-1"})
    assert travel.status == 201, travel.body
    (line,) = _line(api, finance, rid)
    assert (line["payee_org_id"], line["payer_org_id"], line["funder_org_id"], line["status"]) == (
        DARLINGTON, TVCA, TVCA, "submitted")
    assert (line["category"], line["barrier_id"], line["payee_kind"]) == ("travel", "b2-travel", "organisation")
    again = _spend(api, key_worker, rid, "travel", "b2-travel", 4500, **{"Idempotency-Key": "travel-1"})
    assert again.status == 201 and again.headers.get("idempotent-replayed") == "true"
    assert len(_line(api, finance, rid)) == 1
    report = _darlington(api, finance)
    assert (report["budget_pence"], report["committed_pence"], report["remaining_pence"]) == (6500000, 4500, 6495500)
    assert report["by_category"] == [{"category": "travel", "committed_pence": 4500}]

    # The barrier must be in the plan, the category must be the barrier's; refused, nothing written.
    events = len(api.get(f"/referrals/{rid}/events", key_worker).body["items"])
    _problem(_spend(api, key_worker, rid, "travel", "b9-unknown", 1000), 422, "barrier_id", "in_action_plan")
    _problem(_spend(api, key_worker, rid, "clothing", "b2-travel", 1000), 422, "category", "matches_barrier")
    _problem(_spend(api, key_worker, rid, "gym", "b2-travel", 1000), 422, "category", "one_of")
    _problem(_spend(api, key_worker, rid, "travel", "b2-travel", 50001), 422, "amount_pence", "over_cap")
    _problem(api.post("/claims", key_worker, {"referral_id": rid, "fee_id": "flexible-fund", "amount_pence": 1000,
                                              "event_date": TODAY, "evidence_ref": "receipt"}),
             422, "fee_id", "through_the_fund")  # no bare evidence claim around the barrier and the budget
    assert len(api.get(f"/referrals/{rid}/events", key_worker).body["items"]) == events
    assert _darlington(api, finance)["committed_pence"] == 4500 and len(_line(api, finance, rid)) == 1

    # The combined authority approves the council's spend; the council never approves its own.
    assert api.post(f"/claims/{line['line_id']}/approve", finance, {}).status == 403
    tvca = orgs[TVCA]["finance"]
    assert api.post(f"/claims/{line['line_id']}/approve", tvca, {}).status == 200
    report = _darlington(api, tvca)
    assert (report["committed_pence"], report["spent_pence"]) == (4500, 4500)


def test_a_spend_needs_the_action_plan_and_the_fund_s_budget(api, keys):
    from chalicelib.services.deps import store

    key_worker = keys["organisations"][DARLINGTON]["provider"]
    rid, _ = _assessed(api, keys, plan=False)
    _problem(_spend(api, key_worker, rid, "travel", "b2-travel", 1000), 422, "barrier_id", "action_plan_required")
    assert api.post(f"/referrals/{rid}/action_plan", key_worker, {"date": TODAY, "barriers": BARRIERS}).status == 201
    # Darlington has spent all but GBP 10 of its fund: a GBP 20 spend is refused, naming the rule.
    tx = store().transaction()
    store().referrals.add_counts(tx, TEES, {f"fund#{DARLINGTON}#committed": 6500000 - 1000})
    tx.commit()
    _problem(_spend(api, key_worker, rid, "travel", "b2-travel", 2000), 422, "amount_pence", "fund_budget_exceeded")
    assert _line(api, keys["organisations"][DARLINGTON]["finance"], rid) == []
    assert _spend(api, key_worker, rid, "travel", "b2-travel", 1000).status == 201
    assert _darlington(api, key_worker)["remaining_pence"] == 0


def test_a_spot_purchase_waits_for_darlington_s_coordinator(api, keys):
    from chalicelib.services.admin import create_api_key

    orgs = keys["organisations"]
    key_worker, coordinator = orgs[DARLINGTON]["provider"], orgs[DARLINGTON]["coordinator"]
    rid, _ = _assessed(api, keys)
    # A CSCS course bought in (marked a spot purchase) and a door-security course above GBP 250.
    cscs = _spend(api, key_worker, rid, "training", "b3-cscs", 21000, spot=True)
    door = _spend(api, key_worker, rid, "training", "b4-door-security", 30000)
    assert cscs.status == door.status == 201
    pending = {x["barrier_id"]: x for x in _line(api, orgs[DARLINGTON]["finance"], rid)}
    assert {k: v["status"] for k, v in pending.items()} == {"b3-cscs": "pending_approval",
                                                              "b4-door-security": "pending_approval"}
    report = _darlington(api, coordinator)
    assert report["pending_spot_purchases"] == {"count": 2, "amount_pence": 51000}
    assert report["committed_pence"] == 0
    cscs_id, door_id = pending["b3-cscs"]["line_id"], pending["b4-door-security"]["line_id"]
    waiting = api.get("/claims?status=pending_approval", coordinator).body["items"]  # what the coordinator decides
    assert sorted(x["line_id"] for x in waiting) == sorted([cscs_id, door_id])
    # Not the payer's to decide yet; not the key worker's, nor another authority's coordinator's.
    assert api.post(f"/claims/{cscs_id}/approve", orgs[TVCA]["finance"], {}).status == 422
    assert api.post(f"/flexible-fund/spends/{cscs_id}/approve", key_worker, {}).status == 403
    assert api.post(f"/flexible-fund/spends/{cscs_id}/approve", orgs["stockton-on-tees-council"]["coordinator"],
                    {}).status == 404

    approved = api.post(f"/flexible-fund/spends/{cscs_id}/approve", coordinator, {},
                        headers={"Idempotency-Key": "cscs-ok"})
    assert approved.status == 200 and approved.body["status"] == "submitted", approved.body
    replay = api.post(f"/flexible-fund/spends/{cscs_id}/approve", coordinator, {},
                      headers={"Idempotency-Key": "cscs-ok"})
    assert replay.status == 200 and replay.headers.get("idempotent-replayed") == "true"
    assert api.post(f"/flexible-fund/spends/{cscs_id}/approve", coordinator, {}).status == 422  # decided already
    _problem(api.post(f"/flexible-fund/spends/{door_id}/reject", coordinator, {}), 422, "reason", "required")
    rejected = api.post(f"/flexible-fund/spends/{door_id}/reject", coordinator,
                        {"reason": "Learning & Skills runs this course: not otherwise unavailable"})
    assert rejected.status == 200 and rejected.body["status"] == "rejected"
    report = _darlington(api, coordinator)
    assert (report["committed_pence"], report["pending_spot_purchases"]) == (21000, {"count": 0, "amount_pence": 0})
    assert report["by_category"] == [{"category": "training", "committed_pence": 21000}]
    assert api.post(f"/claims/{cscs_id}/approve", orgs[TVCA]["finance"], {}).status == 200

    # A key with both roles never approves the spot purchase it recorded.
    both = create_api_key(DARLINGTON, ["provider", "coordinator"], "key worker and coordinator")[0]
    mine = _spend(api, both, rid, "childcare", "b1-childcare", 26000)
    (own,) = [x for x in _line(api, orgs[DARLINGTON]["finance"], rid) if x["barrier_id"] == "b1-childcare"]
    assert mine.status == 201 and own["status"] == "pending_approval"
    refused = api.post(f"/flexible-fund/spends/{own['line_id']}/approve", both, {})
    assert refused.status == 403 and refused.body["rule"] == "own_request", refused.body
    assert api.post(f"/flexible-fund/spends/{own['line_id']}/approve", coordinator, {}).status == 200


def test_an_employer_incentive_meets_an_assessed_cost_and_pays_the_employer_outside_the_chain(api, keys, caplog):
    orgs = keys["organisations"]
    key_worker, finance, tvca = orgs[DARLINGTON]["provider"], orgs[DARLINGTON]["finance"], orgs[TVCA]["finance"]
    caplog.set_level(logging.INFO)
    rid, person = _assessed(api, keys)
    employer = "Tees Valley Security Ltd"

    def incentive(amount, cost_id="c1-buddying", name=employer):
        return api.post(f"/referrals/{rid}/employer_incentive", key_worker, {
            "date": TODAY, "employer_name": name, "amount_pence": amount, "cost_id": cost_id})

    _problem(incentive(1000, "c9-none"), 422, "cost_id", "assessed_cost")
    _problem(incentive(60001), 422, "amount_pence", "within_assessed_cost")
    _problem(incentive(1000, name="Darlington Borough Council (13% indicative share)"), 422, "employer_name",
             "outside_chain")
    agreed = incentive(60000)
    assert agreed.status == 201, agreed.body
    assert agreed.body["incentives"] and list(agreed.body["incentives"].values())[0]["employer"] == employer
    _problem(incentive(50000, "c2-supervision"), 422, "amount_pence", "incentive_limit")  # GBP 1,000 in all
    spend = _spend(api, key_worker, rid, "travel", "b2-travel", 4500)
    assert spend.status == 201

    (line,) = _line(api, finance, rid, "employer-incentive")
    assert (line["payee_kind"], line["payee_name"], line["payee_role"]) == ("employer", employer, "employer")
    assert line["payee_org_id"] not in (DARLINGTON, TVCA) and line["payer_org_id"] == TVCA
    assert (line["prime_retained_pence"], line["payee_net_pence"]) == (0, 60000)
    assert api.post(f"/claims/{line['line_id']}/approve", finance, {}).status == 403
    spend_line = _line(api, finance, rid)[0]
    decided = api.post("/claims/decisions", tvca, {"line_ids": [line["line_id"], spend_line["line_id"]],
                                                   "decision": "approve"})
    assert decided.status == 200, decided.body

    report = _darlington(api, finance)
    assert report["incentives_by_employer"] == [{"employer": employer, "count": 1, "amount_pence": 60000}]
    started, cut = cut_claim_file(api, finance, {"programme_id": TEES, "period": TODAY[:7]})
    assert cut.body["status"] == "ready", cut.body
    text, rows = _csv(cut.body)
    by_fee = {r["fee_id"]: r for r in rows}
    assert (by_fee["employer-incentive"]["payee_kind"], by_fee["employer-incentive"]["payee_name"]) == (
        "employer", employer)
    assert (by_fee["flexible-fund"]["category"], by_fee["flexible-fund"]["barrier_id"]) == ("travel", "b2-travel")
    totals = {t["payee_org_id"]: t for t in cut.body["totals"]}
    assert totals[line["payee_org_id"]]["payee_kind"] == "employer"
    # No personal data in the lines, the claim file or the logs.
    for text_seen in (text, str(api.get(f"/claims?referral_id={rid}", finance).body), caplog.text):
        assert not any(p in text_seen for p in (*PERSONAL, person["nino"], person["postcode"]))
    # The supply chain owes the employer nothing: it is no chain member.
    chain = api.get(f"/payments/supply-chain?programme={TEES}&period={TODAY[:7]}", tvca)
    assert chain.status == 200, chain.body
    assert line["payee_org_id"] not in str(chain.body)


def test_the_fund_report_is_the_authority_s_own_and_the_combined_authority_s_whole(api, keys):
    orgs = keys["organisations"]
    authorities = ["middlesbrough-council", "stockton-on-tees-council", "redcar-cleveland-council",
                   "hartlepool-council", DARLINGTON]
    for role in ("provider", "finance", "coordinator"):
        seen = api.get(REPORT, orgs[DARLINGTON][role])
        assert seen.status == 200 and [a["org_id"] for a in seen.body["authorities"]] == [DARLINGTON]
    for key in (orgs[TVCA]["finance"], orgs[TVCA]["commissioner"]):
        assert [a["org_id"] for a in api.get(REPORT, key).body["authorities"]] == authorities
    budgets = {a["org_id"]: a["budget_pence"] for a in api.get(REPORT, orgs[TVCA]["finance"]).body["authorities"]}
    assert budgets == {"middlesbrough-council": 13000000, "stockton-on-tees-council": 12500000,
                       "redcar-cleveland-council": 10000000, "hartlepool-council": 8000000, DARLINGTON: 6500000}
    for key in (orgs["tees-valley-jcp"]["referrer"], orgs["skerne-valley-works"]["provider"],
                keys["commissioner_finance"], orgs["trobius"]["finance"]):
        assert api.get(REPORT, key).status == 403
    assert api.get("/programmes/flexible-routeways-norfolk/flexible-fund", orgs["trobius"]["finance"]).status == 404


def test_a_spend_clawed_back_is_no_longer_spent_and_its_budget_is_released(api, keys):
    orgs = keys["organisations"]
    rid, _ = _assessed(api, keys)
    assert _spend(api, orgs[DARLINGTON]["provider"], rid, "travel", "b2-travel", 4000).status == 201
    (line,) = _line(api, orgs[DARLINGTON]["finance"], rid)
    budget = _darlington(api, orgs[DARLINGTON]["coordinator"])["budget_pence"]
    assert api.post(f"/claims/{line['line_id']}/approve", orgs[TVCA]["finance"], {}).status == 200
    spent = _darlington(api, orgs[DARLINGTON]["coordinator"])
    assert (spent["committed_pence"], spent["spent_pence"], spent["remaining_pence"]) == (4000, 4000, budget - 4000)

    back = api.post(f"/claims/{line['line_id']}/clawback", orgs[TVCA]["finance"],
                    {"reason": "bus passes bought for another programme's participant"})
    assert back.status == 201, back.body
    after = _darlington(api, orgs[DARLINGTON]["coordinator"])
    assert (after["committed_pence"], after["spent_pence"], after["remaining_pence"]) == (0, 0, budget)
    assert after["by_category"] == []


def test_an_employer_incentive_the_payer_rejects_or_claws_back_no_longer_counts_against_the_limit(api, keys):
    orgs = keys["organisations"]
    key_worker, tvca = orgs[DARLINGTON]["provider"], orgs[TVCA]["finance"]
    rid, _ = _assessed(api, keys)

    def incentive(amount, cost_id):
        return api.post(f"/referrals/{rid}/employer_incentive", key_worker, {
            "date": TODAY, "employer_name": "Teesside Steel Fabrications", "amount_pence": amount,
            "cost_id": cost_id})

    assert incentive(60000, "c1-buddying").status == 201
    _problem(incentive(50000, "c2-supervision"), 422, "amount_pence", "incentive_limit")  # GBP 1,000 in all
    (first,) = _line(api, tvca, rid, "employer-incentive")
    rejected = api.post(f"/claims/{first['line_id']}/reject", tvca, {"reason": "no brokerage record"})
    assert rejected.status == 200, rejected.body

    # Rejected, it neither meets its assessed cost nor counts towards the limit: both can be agreed again.
    again = incentive(60000, "c1-buddying")
    assert again.status == 201, again.body
    _problem(incentive(50000, "c2-supervision"), 422, "amount_pence", "incentive_limit")
    (second,) = [x for x in _line(api, tvca, rid, "employer-incentive") if x["line_id"] != first["line_id"]]
    assert api.post(f"/claims/{second['line_id']}/approve", tvca, {}).status == 200
    back = api.post(f"/claims/{second['line_id']}/clawback", tvca, {"reason": "the job ended in the first week"})
    assert back.status == 201, back.body
    assert incentive(50000, "c2-supervision").status == 201  # the clawed-back GBP 600 is free again


def test_a_decision_on_spends_or_an_incentive_reads_its_lines_and_nothing_else(api, keys, monkeypatch):
    """Darlington's coordinator approving a spot purchase, the combined authority approving two spends at once (the
    fund's counters move) and rejecting an employer incentive (its referral records it withdrawn): each reads the
    lines it names with its idempotency record, in one batch read, then commits one transaction."""
    orgs = keys["organisations"]
    key_worker, coordinator, tvca = orgs[DARLINGTON]["provider"], orgs[DARLINGTON]["coordinator"], orgs[TVCA]["finance"]
    rid, _ = _assessed(api, keys)
    assert _spend(api, key_worker, rid, "travel", "b2-travel", 4000).status == 201
    assert _spend(api, key_worker, rid, "childcare", "b1-childcare", 9000).status == 201
    assert _spend(api, key_worker, rid, "training", "b3-cscs", 21000, spot=True).status == 201
    assert api.post(f"/referrals/{rid}/employer_incentive", key_worker, {
        "date": TODAY, "employer_name": "Teesside Steel Fabrications", "amount_pence": 60000,
        "cost_id": "c1-buddying"}).status == 201
    spends = {x["barrier_id"]: x["line_id"] for x in _line(api, orgs[DARLINGTON]["finance"], rid)}
    (incentive,) = _line(api, tvca, rid, "employer-incentive")
    monkeypatch.setenv("REFPAY_AUTH_CACHE_SECONDS", "300")  # warm however slow the machine
    before = _darlington(api, coordinator)  # the authorizer's cache, warm for the coordinator
    api.get(REPORT, tvca)  # and for the combined authority
    calls = dynamodb_calls(monkeypatch)
    spot = api.post(f"/flexible-fund/spends/{spends['b3-cscs']}/approve", coordinator, {},
                    headers={"Idempotency-Key": "spot-1"})
    both = api.post("/claims/decisions", tvca, {"line_ids": [spends["b2-travel"], spends["b1-childcare"]],
                                                "decision": "approve"}, headers={"Idempotency-Key": "both-1"})
    rejected = api.post(f"/claims/{incentive['line_id']}/reject", tvca, {"reason": "no brokerage record"},
                        headers={"Idempotency-Key": "reject-1"})
    assert [r.status for r in (spot, both, rejected)] == [200, 200, 200], (spot.body, both.body, rejected.body)
    assert calls == ["TransactGetItems", "TransactWriteItems"] * 3
    after = _darlington(api, coordinator)
    assert after["spent_pence"] - before["spent_pence"] == 13000
