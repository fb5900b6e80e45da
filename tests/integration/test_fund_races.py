"""A flexible fund's budget under concurrency (seed 001): spends racing for what remains of an authority's budget
commit exactly as many as fit, each refused one changes nothing, and the committed count ends at the budget; the
coordinator's approvals of spot purchases racing for the same remainder likewise."""
from __future__ import annotations

from tests.integration.conftest import TODAY, race, referral_body
from tests.postcodes import resident_postcode

TEES, DARLINGTON = "tees-valley-routes-to-work", "darlington-council"
BUDGET = 6_500_000  # Darlington's GBP 65,000 (the rulebook's flexible_fund.budgets)
COMMITTED = {"programme_id": TEES, "org_id": f"fund#{DARLINGTON}#committed"}


def _planned(server, n: int) -> list[str]:
    """n Darlington participants, each with an action plan naming a travel and a training barrier."""
    made = []
    for _ in range(n):
        body = referral_body(programme_id=TEES, provider_id=DARLINGTON, support_level="weekly")
        body["participant"]["postcode"] = resident_postcode(DARLINGTON)
        created = server.post("/referrals", server.orgs["tees-valley-jcp"]["referrer"], body)
        assert created.status == 201, created
        rid = created.body["id"]
        for step, extra in (("accept", {}), ("start", {}), ("assessment", {}), ("action_plan", {"barriers": [
                {"id": "b-travel", "category": "travel"}, {"id": "b-cscs", "category": "training"}]})):
            done = server.post(f"/referrals/{rid}/{step}", server.orgs[DARLINGTON]["provider"], {"date": TODAY, **extra})
            assert done.status in (200, 201), (step, done)
        made.append(rid)
    return made


def _committed(server) -> int:
    item = server.table("allocations").get_item(Key=COMMITTED, ConsistentRead=True).get("Item")
    return int(item["used"]) if item else 0


def _leave(server, remaining: int) -> None:
    server.table("allocations").put_item(Item={**COMMITTED, "used": BUDGET - remaining})


def _spend(server, rid: str, barrier: str, amount: int, spot: bool = False):
    return server.post(f"/referrals/{rid}/flexible_fund_spend", server.orgs[DARLINGTON]["provider"], {
        "date": TODAY, "category": "travel" if barrier == "b-travel" else "training", "barrier_id": barrier,
        "amount_pence": amount, "supplier": "Arriva North East bus passes" if not spot else "CSCS course",
        "spot_purchase": spot})


def _fund_lines(server, status: str) -> list[dict]:
    return [i for i in server.all_items("payment-lines") if i.get("programme_id") == TEES
            and i.get("fee_id") == "flexible-fund" and i.get("status") == status]


def test_spends_racing_for_the_last_of_a_budget_commit_exactly_what_fits(server):
    rids = _planned(server, 8)
    _leave(server, 2_000)  # GBP 20 left: four GBP 5 spends fit, eight are made at once
    before = len(_fund_lines(server, "submitted"))
    replies = race(8, lambda i: _spend(server, rids[i], "b-travel", 500))
    made = [r for r in replies if r.status == 201]
    refused = [r for r in replies if r.status != 201]
    assert len(made) == 4, [(r.status, r.body) for r in replies]
    assert all(r.status == 422 and r.body["errors"][0]["rule"] == "fund_budget_exceeded" for r in refused), refused
    assert _committed(server) == BUDGET
    assert len(_fund_lines(server, "submitted")) == before + 4
    report = server.get(f"/programmes/{TEES}/flexible-fund", server.orgs[DARLINGTON]["finance"]).body
    assert report["authorities"][0]["remaining_pence"] == 0


def test_a_coordinator_s_approvals_racing_for_the_last_of_a_budget_commit_exactly_what_fits(server):
    rids = _planned(server, 6)
    for rid in rids:
        assert _spend(server, rid, "b-cscs", 30_000, spot=True).status == 201
    pending = [i["line_id"] for i in _fund_lines(server, "pending_approval") if i["referral_id"] in rids]
    assert len(pending) == 6
    _leave(server, 90_000)  # three GBP 300 courses fit
    coordinator = server.orgs[DARLINGTON]["coordinator"]
    replies = race(6, lambda i: server.post(f"/flexible-fund/spends/{pending[i]}/approve", coordinator, {}))
    approved = [r for r in replies if r.status == 200]
    assert len(approved) == 3, [(r.status, r.body) for r in replies]
    assert all(r.status == 422 and r.body["errors"][0]["rule"] == "fund_budget_exceeded"
               for r in replies if r.status != 200), replies
    assert _committed(server) == BUDGET
    still = {i["line_id"] for i in _fund_lines(server, "pending_approval")}
    assert len(still & set(pending)) == 3


def test_the_combined_authority_approves_and_rejects_several_of_an_authority_s_spends_in_one_decision(server):
    """Several lines of one authority decided at once move its fund's counters once each, in one transaction
    (DynamoDB refuses a transaction that writes one item twice)."""
    rids = _planned(server, 3)
    _leave(server, 100_000)  # (the races above spent the budget to its last penny)
    for rid in rids:
        assert _spend(server, rid, "b-travel", 1_000).status == 201
    lines = sorted(i["line_id"] for i in _fund_lines(server, "submitted") if i["referral_id"] in rids)
    tvca = server.orgs["tees-valley-combined-authority"]["finance"]
    before = server.get(f"/programmes/{TEES}/flexible-fund", tvca).body["authorities"]
    (darlington,) = [a for a in before if a["org_id"] == DARLINGTON]

    approved = server.post("/claims/decisions", tvca, {"line_ids": lines[:2], "decision": "approve"})
    assert approved.status == 200, approved
    rejected = server.post("/claims/decisions", tvca, {"line_ids": lines[2:], "decision": "reject",
                                                       "reason": "bought for another programme"})
    assert rejected.status == 200, rejected
    (after,) = [a for a in server.get(f"/programmes/{TEES}/flexible-fund", tvca).body["authorities"]
                if a["org_id"] == DARLINGTON]
    assert after["spent_pence"] == darlington["spent_pence"] + 2_000
    assert after["committed_pence"] == darlington["committed_pence"] - 1_000
