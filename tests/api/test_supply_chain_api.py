"""Over HTTP: a prime with two subcontractors, the commissioner's payment, one pass-through in time and one late
(flagged by the nightly run), the supply-chain report for each caller, and the paths nobody else may take."""
from __future__ import annotations

from datetime import date

from tests.conftest import cut_claim_file, referral_body

WORK_CHOICE = "work-choice"
NOV = "2026-11"
REPORT = f"/payments/supply-chain?programme={WORK_CHOICE}&period={NOV}"
PRIME, SUB1, SUB2 = "pathway-employment-prime", "brightside-supported-employment", "riverside-disability-works"


def _job(api, keys, provider, nino):
    body = referral_body(programme_id=WORK_CHOICE, provider_id=provider, nino=nino)
    body["participant"]["eligibility"] = {"disabled": True, "right_to_work": True}
    rid = api.post("/referrals", keys["referrer"], body).body["id"]
    key = keys["organisations"][provider]["provider"]
    for step, extra in (("accept", {}), ("start", {}), ("assessment", {}),
                        ("job_start", {"employer_name": "Tyne Foods", "hours_per_week": 20,
                                       "weekly_earnings_pence": 24000})):
        reply = api.post(f"/referrals/{rid}/{step}", key, {"date": "2026-11-24", **extra})
        assert reply.status in (200, 201), reply.body
    return rid


def _pass_on(api, keys, sub, pence, on, reference, **extra):
    return api.post("/payments/pass-throughs", keys["organisations"][PRIME]["finance"], {
        "programme_id": WORK_CHOICE, "period": NOV, "subcontractor_org_id": sub, "amount_pence": pence,
        "paid_on": on, "reference": reference, **extra}, headers={"Idempotency-Key": f"pt-{reference}"})


def _rows(body):
    (chain,) = body["primes"]
    return {r["org_id"]: r for r in chain["subcontractors"]}


def test_the_supply_chain_report_over_http(api, keys, monkeypatch):
    from chalicelib.services import nightly

    orgs = keys["organisations"]
    dwp, prime = keys["commissioner_finance"], orgs[PRIME]["finance"]
    _job(api, keys, SUB1, "AB000001A")
    _job(api, keys, SUB2, "AB000002A")
    cut = cut_claim_file(api, prime, {"programme_id": WORK_CHOICE, "period": NOV})[1].body
    fid = cut["id"]
    # The commissioner finds the file waiting for it in the supply chain.
    waiting = api.get(REPORT, dwp).body["primes"][0]["claim_files"]
    assert [(f["claim_file_id"], f["paid_on"], f["payable_pence"]) for f in waiting] == [(fid, None, 350000)]
    api.post(f"/claim-files/{fid}/sample", dwp, {"seed": "work-choice-nov-a"})
    for item in api.get(f"/claim-files/{fid}/sample", dwp).body["items"]:
        assert api.post(f"/claim-files/{fid}/checks", dwp, {"line_id": item["line_id"], "result": "passed"}).status == 200
    paid = api.post(f"/claim-files/{fid}/payment", dwp, {"paid_on": "2026-11-24", "reference": "DWP-1124"})
    assert paid.status == 200, paid.body

    monkeypatch.setenv("REFPAY_TODAY", "2026-12-10")
    on_time = _pass_on(api, keys, SUB1, 166250, "2026-12-10", "PEP-0042")
    assert on_time.status == 201, on_time.body
    assert on_time.headers["location"] == REPORT
    again = _pass_on(api, keys, SUB1, 166250, "2026-12-10", "PEP-0042")
    assert again.status == 201 and again.headers.get("idempotent-replayed") == "true"
    assert again.body["id"] == on_time.body["id"]

    nightly.run(date(2026, 12, 25))  # the first day after the 30-day limit
    monkeypatch.setenv("REFPAY_TODAY", "2026-12-26")
    flags = api.get("/compliance/flags?status=open&rule=late_pass_through", prime).body["items"]
    assert [(f["provider_org_id"], f["due"]) for f in flags] == [(SUB2, "2026-12-24")]
    assert api.get("/compliance/flags?rule=late_pass_through", orgs[SUB2]["provider"]).body["items"]
    assert api.get("/compliance/flags?rule=late_pass_through", orgs[SUB1]["provider"]).body["items"] == []

    report = api.get(REPORT, prime)
    assert report.status == 200, report.body
    rows = _rows(report.body)
    assert rows[SUB1]["days_to_pass_through"] == 16 and rows[SUB1]["late"] is False
    assert rows[SUB1]["pass_throughs"][0] == {"id": on_time.body["id"], "amount_pence": 166250,
                                              "paid_on": "2026-12-10", "reference": "PEP-0042", "line_ids": [],
                                              "days_after_commissioner": 16}
    assert (rows[SUB2]["late"], rows[SUB2]["flagged"], rows[SUB2]["outstanding_pence"]) == (True, True, 157500)
    assert (rows[SUB2]["earned_pence"], rows[SUB2]["prime_retained_pence"]) == (175000, 17500)
    chain = report.body["primes"][0]
    assert chain["claim_files"] == [{"claim_file_id": fid, "status": "ready", "total_pence": 350000,
                                     "payable_pence": 350000, "paid_on": "2026-11-24", "paid_pence": 350000,
                                     "reference": "DWP-1124"}]
    assert report.body["pass_through_days"] == 30

    late = _pass_on(api, keys, SUB2, 157500, "2026-12-26", "PEP-0043")
    assert late.status == 201
    rows = _rows(api.get(REPORT, dwp).body)
    assert (rows[SUB2]["days_to_pass_through"], rows[SUB2]["late"], rows[SUB2]["flagged"]) == (32, True, False)
    assert api.get("/compliance/flags?status=open&rule=late_pass_through", prime).body["items"] == []

    # Each subcontractor sees its own row only; nobody outside the chain sees anything.
    own = api.get(REPORT, orgs[SUB1]["finance"])
    assert own.status == 200 and list(_rows(own.body)) == [SUB1]
    assert "claim_files" not in own.body["primes"][0]
    assert api.get(REPORT + f"&subcontractor={SUB2}", orgs[SUB1]["finance"]).status == 404
    assert api.get(REPORT, orgs["trobius"]["finance"]).status == 404
    assert api.get(REPORT, orgs["tees-valley-combined-authority"]["finance"]).status == 404
    assert api.get(REPORT, orgs[SUB1]["provider"]).status == 403
    assert api.get(REPORT, keys["referrer"]).status == 403
    assert api.get(f"/payments/supply-chain?programme={WORK_CHOICE}&period=2026-13", prime).status == 422
    assert api.get(f"/payments/supply-chain?programme=nope&period={NOV}", prime).status == 404
    stranger = _pass_on(api, keys, "kings-lynn-works", 100, "2026-12-26", "X-1")
    assert stranger.status == 422 and stranger.body["errors"][0]["rule"] == "your_subcontractor"
    other_prime = api.post("/payments/pass-throughs", orgs["trobius"]["finance"], {
        "programme_id": WORK_CHOICE, "period": NOV, "subcontractor_org_id": SUB1, "amount_pence": 100,
        "paid_on": "2026-12-26", "reference": "X-2"})
    assert other_prime.status == 404
    assert api.post("/payments/pass-throughs", orgs[SUB1]["finance"], {
        "programme_id": WORK_CHOICE, "period": NOV, "subcontractor_org_id": SUB1, "amount_pence": 100,
        "paid_on": "2026-12-26", "reference": "X-3"}).status == 404
