"""Over HTTP: the payer's finance decides (never the payee's own), match funding, PRaP-shaped lines."""
from __future__ import annotations

from tests.api.test_payments import _csv
from tests.conftest import cut_claim_file, referral_body

NOV = "2026-11"
TEES = "tees-valley-routes-to-work"
TRAILBLAZER = "local-supported-employment"


def _started(api, keys, programme, provider, nino="AB123456C", support_level="standard", planned=False):
    body = referral_body(programme_id=programme, provider_id=provider, nino=nino, support_level=support_level)
    body["participant"]["postcode"] = "TS24 7BT"
    reply = api.post("/referrals", keys["organisations"]["tees-valley-jcp"]["referrer"], body)
    assert reply.status == 201, reply.body
    rid = reply.body["id"]
    key = keys["organisations"][provider]["provider"]
    for step in ("accept", "start"):
        assert api.post(f"/referrals/{rid}/{step}", key, {"date": "2026-11-24"}).status == 200
    if planned:  # assessed, with an action plan naming a barrier the flexible fund may remove
        for step, extra in (("assessment", {}), ("action_plan", {"barriers": [{"id": "b1", "category": "clothing"}]})):
            assert api.post(f"/referrals/{rid}/{step}", key, {"date": "2026-11-24", **extra}).status == 201
    return rid


def test_a_council_is_refused_its_own_approval_and_the_combined_authority_approves(api, keys):
    orgs = keys["organisations"]
    rid = _started(api, keys, TEES, "hartlepool-council", support_level="weekly", planned=True)
    spend = api.post(f"/referrals/{rid}/flexible_fund_spend", orgs["hartlepool-council"]["provider"], {
        "date": "2026-11-24", "category": "clothing", "barrier_id": "b1", "amount_pence": 12000,
        "supplier": "interview clothes", "provider_ref": "HBC-RTW-0042"})
    assert spend.status == 201, spend.body
    (line,) = api.get(f"/claims?referral_id={rid}", orgs["hartlepool-council"]["finance"]).body["items"]
    assert (line["payer_org_id"], line["funder_org_id"]) == ("tees-valley-combined-authority",) * 2
    assert line["provider_ref"] == "HBC-RTW-0042" and line["line_ref"].startswith("LR-")
    assert line["last_day_on_provision"] is None and line["event_date"] == "2026-11-24"

    own = api.post(f"/claims/{line['line_id']}/approve", orgs["hartlepool-council"]["finance"], {})
    assert own.status == 403 and own.body["rule"] == "segregation_of_duties", own.body
    assert own.headers["content-type"].startswith("application/problem+json")
    assert "segregation of duties" in own.body["detail"]
    bulk = api.post("/claims/decisions", orgs["hartlepool-council"]["finance"],
                    {"line_ids": [line["line_id"]], "decision": "approve"})
    assert bulk.status == 403
    assert api.post(f"/claims/{line['line_id']}/approve", orgs["darlington-council"]["finance"], {}).status == 404
    assert api.get(f"/claims/{line['line_id']}", keys["commissioner_finance"]).status == 404  # DWP funds none of it

    tvca = orgs["tees-valley-combined-authority"]["finance"]
    waiting = api.get("/claims?status=submitted", tvca).body["items"]
    assert [x["line_id"] for x in waiting] == [line["line_id"]]
    approved = api.post(f"/claims/{line['line_id']}/approve", tvca, {})
    assert approved.status == 200 and approved.body["status"] == "approved"

    started, cut = cut_claim_file(api, orgs["hartlepool-council"]["finance"], {"programme_id": TEES, "period": NOV})
    assert started.status == 202 and cut.body["status"] == "ready", cut.body
    (row,) = [r for r in _csv(cut.body)[1] if r["line_id"] == line["line_id"]]
    assert (row["line_ref"], row["provider_ref"], row["event_date"], row["last_day_on_provision"]) == (
        line["line_ref"], "HBC-RTW-0042", "2026-11-24", "")
    assert row["funder_org_id"] == "tees-valley-combined-authority"


def test_the_trailblazer_co_funding_is_match_funding_and_in_no_claim_file(api, keys):
    orgs = keys["organisations"]
    _started(api, keys, TRAILBLAZER, "leeds-city-council")
    leeds = orgs["leeds-city-council"]["finance"]
    lines = {x["fee_id"]: x for x in api.get("/claims", leeds).body["items"]}
    co, dwp = lines["la-co-funding"], lines["dwp-participant-fee"]
    assert (co["status"], co["payer_org_id"], co["amount_pence"]) == ("match_funding", None, 150000)
    assert (dwp["status"], dwp["payer_org_id"], dwp["amount_pence"]) == ("approved", "dwp-commissioning", 140000)
    refused = api.post(f"/claims/{co['line_id']}/approve", leeds, {})
    assert refused.status == 422 and refused.body["reason"] == "match_funding"
    assert [x["line_id"] for x in api.get("/claims?status=match_funding", leeds).body["items"]] == [co["line_id"]]
    cascade = api.get(f"/payments/cascade?period={NOV}", leeds).body
    assert {x["fee_id"] for x in cascade["lines"]} == {"la-co-funding", "dwp-participant-fee"}

    started, cut = cut_claim_file(api, leeds, {"programme_id": TRAILBLAZER, "period": NOV})
    assert started.status == 202 and cut.body["total_pence"] == 140000
    assert [r["fee_id"] for r in _csv(cut.body)[1]] == ["dwp-participant-fee"]
    assert api.get(f"/claims/{co['line_id']}", leeds).body["claim_file_id"] is None
    # DWP's finance lists what it pays: the DWP line, not the council's own money.
    dwp_view = api.get("/claims", keys["commissioner_finance"]).body["items"]
    assert [x["line_id"] for x in dwp_view] == [dwp["line_id"]]
