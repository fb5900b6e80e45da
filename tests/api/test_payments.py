"""Payments through the API: lines the journey earns, claims, decisions, clawbacks, cascade, claim files."""
from __future__ import annotations

import csv
import io
import threading

from tests.conftest import chain_referral, cut_claim_file, referral_body

NOV = "2026-11"


def _journey(api, keys, provider_id, steps, nino="AB123456C", programme_id="flexible-routeways-norfolk",
             monkeypatch=None, **kw):
    """A referral taken through `steps`. With `monkeypatch`, every step before the job is made on 17 November and
    the job a week later, today (Level 3's minimum delivery of 1 week met)."""
    orgs = keys["organisations"]
    day = "2026-11-17" if monkeypatch else "2026-11-24"
    if monkeypatch:
        monkeypatch.setenv("REFPAY_TODAY", day)
        kw.setdefault("consent", {"given": True, "date": day})
    body = referral_body(programme_id=programme_id, provider_id=provider_id, nino=nino, **kw)
    rid = api.post("/referrals", keys["referrer"], body).body["id"]
    key = orgs[provider_id]["provider"]
    plan = {"accept": ("acknowledgement", {"decision": "accept", "date": day}),
            "start": ("start", {"date": day}),
            "assess": ("assessments", {"date": day}),
            "plan": ("action-plans", {"date": day}),
            "job": ("outcomes", {"type": "job_start", "date": "2026-11-24", "employer_name": "Fen Foods",
                                 "hours_per_week": 20, "weekly_earnings_pence": 24000})}
    for name in steps:
        path, payload = plan[name]
        if name == "job" and monkeypatch:
            monkeypatch.setenv("REFPAY_TODAY", "2026-11-24")
        reply = api.post(f"/referrals/{rid}/{path}", key, payload)
        assert reply.status in (200, 201), reply.body
    return rid


def _lines(api, key, **filters):
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    return api.get(f"/claims?limit=200&{query}", key).body["items"]


def test_norfolk_level_3_earns_30_percent_on_start_and_70_on_a_job(api, keys, monkeypatch):
    orgs = keys["organisations"]
    rid = _journey(api, keys, "kings-lynn-works", ["accept", "start", "assess", "plan", "job"],
                   monkeypatch=monkeypatch)
    lines = sorted(_lines(api, orgs["kings-lynn-works"]["provider"]), key=lambda l: l["milestone"])
    assert [(l["milestone"], l["amount_pence"]) for l in lines] == [("job_start", 36750), ("start", 15750)]
    assert sum(l["amount_pence"] for l in lines) == 52500
    start = next(l for l in lines if l["milestone"] == "start")
    assert start["line_id"] == f"{rid}:level-3-delivery:start"
    assert start["funder"] == "dwp" and start["payee_org_id"] == "kings-lynn-works"
    assert start["prime_org_id"] == "trobius" and start["management_fee_bp"] == 1000
    assert (start["prime_retained_pence"], start["payee_net_pence"]) == (1575, 14175)
    assert start["status"] == "approved" and start["kind"] == "earned"
    assert start["participant_ref"].startswith("PR-")
    # A second job start earns nothing more: each milestone is paid once.
    api.post(f"/referrals/{rid}/outcomes", orgs["kings-lynn-works"]["provider"], {
        "type": "job_start", "date": "2026-11-24", "employer_name": "Other Ltd", "hours_per_week": 30,
        "weekly_earnings_pence": 40000})
    assert len(_lines(api, orgs["kings-lynn-works"]["provider"])) == 2


def test_level_1_referral_fee_on_acceptance(api, keys):
    chain_referral(api, keys, referrer="norfolk-community-links", started=False)
    lines = _lines(api, keys["organisations"]["norfolk-community-links"]["finance"])
    assert [(l["milestone"], l["amount_pence"], l["prime_retained_pence"], l["payee_role"]) for l in lines] == [
        ("referral_accepted", 3500, 0, "referrer")]


def test_trailblazer_start_payment_and_co_funding(api, keys):
    orgs = keys["organisations"]
    body_kw = {"support_level": "standard"}
    rid = _journey(api, keys, "leeds-city-council", ["accept", "start"], programme_id="local-supported-employment",
                   **body_kw)
    lines = _lines(api, orgs["leeds-city-council"]["finance"])
    by_funder = {l["funder"]: l["amount_pence"] for l in lines}
    assert by_funder == {"dwp": 140000, "local-authority": 150000}
    assert all(l["referral_id"] == rid and l["prime_retained_pence"] == 0 for l in lines)


def test_evidence_claim_rules_and_finance_decisions(api, keys):
    orgs = keys["organisations"]
    mentor = orgs["broadland-mentors"]["provider"]
    rid = chain_referral(api, keys, started=False)
    claim = {"referral_id": rid, "fee_id": "level-2-support", "amount_pence": 15000, "event_date": "2026-11-24",
             "evidence_ref": "case-notes/2026/118", "contact_ids": ["mc1"]}
    early = api.post("/claims", mentor, claim)
    assert early.status == 422 and early.body["reason"] == "not_started"
    api.post(f"/referrals/{rid}/start", orgs["kings-lynn-works"]["provider"], {"date": "2026-11-24"})
    over = api.post("/claims", mentor, {**claim, "amount_pence": 20001})
    assert over.status == 422 and over.body["errors"][0] == {
        "field": "amount_pence", "rule": "over_cap", "message": "the cap for level-2-support is 20000 pence"}
    wrong_fee = api.post("/claims", mentor, {**claim, "fee_id": "level-3-delivery"})
    assert wrong_fee.status == 422 and wrong_fee.body["reason"] == "not_eligible"
    stale = api.post("/claims", mentor, {**claim, "event_date": "2026-01-02"})
    assert stale.status == 422 and stale.body["reason"] == "outside_claim_window"
    made = api.post("/claims", mentor, claim)
    assert made.status == 201 and made.body["status"] == "submitted"
    assert (made.body["prime_retained_pence"], made.body["payee_net_pence"]) == (750, 14250)
    twice = api.post("/claims", mentor, claim)
    assert twice.status == 409 and twice.body["reason"] == "already_claimed"

    assert made.body["payee_role"] == "mentor" and made.body["contact_ids"] == ["mc1"]
    line_id = made.body["line_id"]
    assert api.post(f"/claims/{line_id}/approve", mentor, {}).status == 403          # a provider cannot approve
    sibling_finance = orgs["kings-lynn-works"]["finance"]
    assert api.post(f"/claims/{line_id}/approve", sibling_finance, {}).status == 404  # the deliverer's, not its line
    assert api.get(f"/claims/{line_id}", orgs["kings-lynn-works"]["provider"]).status == 404
    prime_finance = keys["finance"]
    no_reason = api.post(f"/claims/{line_id}/reject", prime_finance, {})
    assert no_reason.status == 422 and no_reason.body["errors"][0]["field"] == "reason"
    approved = api.post(f"/claims/{line_id}/approve", prime_finance, {})
    assert approved.status == 200 and approved.body["status"] == "approved"
    again = api.post(f"/claims/{line_id}/approve", prime_finance, {})
    assert again.status == 422 and again.body["reason"] == "already_decided"


def test_bulk_decisions_are_all_or_none(api, keys):
    orgs = keys["organisations"]
    mentor = orgs["broadland-mentors"]["provider"]
    ids = []
    for nino in ("AB000001A", "AB000002A", "AB000003A"):
        rid = chain_referral(api, keys, nino=nino)
        ids.append(api.post("/claims", mentor, {"referral_id": rid, "fee_id": "level-2-support", "amount_pence": 9000,
                                                "event_date": "2026-11-24", "evidence_ref": "ev",
                                                "contact_ids": ["mc1"]}).body["line_id"])
    prime_finance = keys["finance"]
    api.post(f"/claims/{ids[0]}/reject", prime_finance, {"reason": "no evidence on file"})
    mixed = api.post("/claims/decisions", prime_finance, {"line_ids": ids, "decision": "approve"})
    assert mixed.status == 422 and mixed.body["reason"] == "already_decided"
    assert [l["status"] for l in _lines(api, mentor)].count("submitted") == 2  # nothing changed
    assert [l["status"] for l in _lines(api, mentor)].count("approved") == 3  # its referral fees, earned
    ok = api.post("/claims/decisions", prime_finance, {"line_ids": ids[1:], "decision": "approve"})
    assert ok.status == 200 and [l["status"] for l in ok.body["items"]] == ["approved", "approved"]


def test_cascade_shows_a_subcontractor_what_it_is_owed_and_what_its_prime_kept(api, keys):
    orgs = keys["organisations"]
    _journey(api, keys, "kings-lynn-works", ["accept", "start"], nino="AB000001A")
    chain_referral(api, keys, deliverer="great-yarmouth-works", nino="AB000002A")
    chain_referral(api, keys, referrer="norfolk-community-links", deliverer="great-yarmouth-works", started=False,
                   nino="AB000003A")
    mine = api.get(f"/payments/cascade?period={NOV}", orgs["kings-lynn-works"]["finance"]).body
    assert mine["payees"] == [{"payee_org_id": "kings-lynn-works", "prime_org_id": "trobius", "lines": 1,
                               "amount_pence": 15750, "prime_retained_pence": 1575, "payee_net_pence": 14175}]
    assert {l["payee_org_id"] for l in mine["lines"]} == {"kings-lynn-works"}
    group = api.get(f"/payments/cascade?period={NOV}", orgs["norfolk-community-links"]["finance"]).body
    assert [(l["payee_role"], l["amount_pence"]) for l in group["lines"]] == [("referrer", 3500)]
    prime = api.get(f"/payments/cascade?period={NOV}", keys["finance"]).body
    assert {p["payee_org_id"] for p in prime["payees"]} == {"kings-lynn-works", "great-yarmouth-works",
                                                            "broadland-mentors", "norfolk-community-links"}
    assert api.get("/payments/cascade?period=2026-13", keys["finance"]).status == 422
    assert api.get(f"/payments/cascade?period={NOV}", orgs["middlesbrough-council"]["finance"]).body["payees"] == []
    # The cascade is for finance roles: a provider or referrer key of the same organisations is refused.
    for key in (orgs["kings-lynn-works"]["provider"], keys["prime"], keys["referrer"]):
        refused = api.get(f"/payments/cascade?period={NOV}", key)
        assert refused.status == 403 and refused.body["required_roles"] == ["finance"]


def _csv(reply_body):
    from urllib.parse import unquote, urlparse

    from chalicelib.store import files

    path = unquote(urlparse(reply_body["download_url"]).path).lstrip("/")
    key = path.removeprefix(f"{files.bucket()}/")
    text = files.client().get_object(Bucket=files.bucket(), Key=key)["Body"].read().decode()
    return text, list(csv.DictReader(io.StringIO(text)))


def test_claim_file_reconciles_locks_lines_and_holds_no_personal_data(api, keys, monkeypatch):
    orgs = keys["organisations"]
    _journey(api, keys, "kings-lynn-works", ["accept", "start", "assess", "plan", "job"], nino="AB000001A",
             monkeypatch=monkeypatch)
    chain_referral(api, keys, referrer="norfolk-community-links", started=False, nino="AB000002A")
    mentor = orgs["broadland-mentors"]["provider"]
    rid = chain_referral(api, keys, deliverer="great-yarmouth-works", nino="AB000003A", price=50000)
    claim = api.post("/claims", mentor, {"referral_id": rid, "fee_id": "level-2-support", "amount_pence": 12345,
                                         "event_date": "2026-11-24", "evidence_ref": "=HYPERLINK(\"http://x\")",
                                         "contact_ids": ["mc1"]}).body
    api.post(f"/claims/{claim['line_id']}/approve", keys["finance"], {})
    submitted_only = chain_referral(api, keys, deliverer="great-yarmouth-works", started=False, nino="AB000004A")
    api.post(f"/referrals/{submitted_only}/start", orgs["great-yarmouth-works"]["provider"], {"date": "2026-11-24"})
    api.post("/claims", mentor, {"referral_id": submitted_only, "fee_id": "level-2-support", "amount_pence": 500,
                                 "event_date": "2026-11-24", "evidence_ref": "ev", "contact_ids": ["mc1"]})

    assert api.post("/claim-files", keys["provider"], {"programme_id": "flexible-routeways-norfolk",
                                                       "period": NOV}).status == 403
    # A finance team that is not a prime's (a subcontractor's, a VCS group's): refused as a permission, naming why.
    for org in ("kings-lynn-works", "norfolk-community-links"):
        refused = api.post("/claim-files", orgs[org]["finance"], {"programme_id": "flexible-routeways-norfolk",
                                                                  "period": "2026-10"})
        assert refused.status == 403 and refused.headers["content-type"] == "application/problem+json", refused.body
        assert refused.body["rule"] == "prime_finance", refused.body
    early = api.post("/claim-files", keys["finance"], {"programme_id": "flexible-routeways-norfolk", "period": NOV})
    assert early.status == 422 and early.headers["content-type"] == "application/problem+json"
    assert [(e["field"], e["rule"]) for e in early.body["errors"]] == [("period", "period_ended")], early.body
    assert "2026-12-01" in early.body["errors"][0]["message"]
    cut, ready = cut_claim_file(api, keys["finance"], {"programme_id": "flexible-routeways-norfolk", "period": NOV})
    assert cut.status == 202, cut.body
    assert cut.body["status"] == "building" and cut.body["line_count"] == 0 and cut.body["download_url"] is None
    assert cut.headers["location"] == f"/claim-files/{cut.body['id']}"
    body = ready.body
    # King's Lynn's start and job; the Level 1 group's referral fee; for each Level 2 referral, the group's referral
    # fee and Great Yarmouth's start (30% of its agreed GBP 500, then of the GBP 525 default); the approved mentoring
    # claim. The claim still awaiting a decision is not filed.
    assert body["status"] == "ready" and body["line_count"] == body["locked_lines"] == 8
    assert body["total_pence"] == 15750 + 36750 + 3500 + (3500 + 15000) + 12345 + (3500 + 15750)
    assert body["total_gbp"] == "1060.95"
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in body["download_url"]
    text, rows = _csv(body)
    assert text.startswith("line_id,referral_id,participant_ref,") and "\r\n" in text
    assert sum(int(r["amount_pence"]) for r in rows) == body["total_pence"]
    for total in body["totals"]:
        mine = [r for r in rows if (r["payee_org_id"], r["funder"]) == (total["payee_org_id"], total["funder"])]
        assert sum(int(r["amount_pence"]) for r in mine) == total["amount_pence"]
        assert sum(int(r["payee_net_pence"]) for r in mine) == total["payee_net_pence"]
    assert next(r for r in rows if r["fee_id"] == "level-2-support")["evidence_ref"].startswith("'=")
    assert next(r for r in rows if r["fee_id"] == "level-2-support")["amount_gbp"] == "123.45"
    for personal in ("AB000001A", "Ada", "Lovelace", "1990-05-17", "NR1 3QU"):
        assert personal not in text
    assert all(l["status"] == "filed" for l in _lines(api, keys["finance"], status="filed"))

    again, _ = cut_claim_file(api, keys["finance"], {"programme_id": "flexible-routeways-norfolk", "period": NOV})
    assert again.status == 200 and again.body["id"] == body["id"] and again.body["line_count"] == 8
    fetched = api.get(f"/claim-files/{body['id']}", keys["finance"])
    assert fetched.status == 200 and fetched.body["total_pence"] == body["total_pence"]
    assert api.get(f"/claim-files/{body['id']}", orgs["kings-lynn-works"]["finance"]).status == 404

    # A filed line is never edited: a clawback is a new negative line, filed next period, once.
    job_line = next(r["line_id"] for r in rows if r["milestone"] == "job_start")
    back = api.post(f"/claims/{job_line}/clawback", keys["finance"], {"reason": "job start recorded in error"})
    assert back.status == 201 and back.body["amount_pence"] == -36750 and back.body["reverses_line_id"] == job_line
    assert (back.body["prime_retained_pence"], back.body["payee_net_pence"]) == (-3675, -33075)
    assert api.post(f"/claims/{job_line}/clawback", keys["finance"], {"reason": "again"}).status == 409
    original = api.get(f"/claims/{job_line}", keys["finance"]).body
    assert original["amount_pence"] == 36750 and original["status"] == "filed"
    december = api.post("/claim-files", keys["finance"], {"programme_id": "flexible-routeways-norfolk",
                                                          "period": "2026-12"})
    assert december.status == 422  # the period has not ended (today is 24 Nov 2026)


def test_concurrent_claims_of_one_milestone_make_exactly_one_line(api, keys, monkeypatch):
    from chalicelib.api.schemas import ClaimIn
    from chalicelib.domain.access import Principal
    from chalicelib.payments.lines import AlreadyClaimed
    from chalicelib.services import payments
    from chalicelib.store.transaction import Transaction

    rid = chain_referral(api, keys)
    payload = ClaimIn().load({"referral_id": rid, "fee_id": "level-2-support", "amount_pence": 15000,
                              "event_date": "2026-11-24", "evidence_ref": "ev", "contact_ids": ["mc1"]})
    principal = Principal("broadland-mentors", "subcontractor", frozenset({"provider"}), "key_t")
    n = 6
    barrier = threading.Barrier(n, timeout=10)
    lock = threading.Lock()
    outcomes = []

    def claim():
        tx = Transaction()
        payments.submit_claim(principal, payload, tx)
        barrier.wait()  # all have validated before any commits
        try:
            with lock:
                tx.commit()
            outcomes.append("line")
        except AlreadyClaimed:
            outcomes.append("refused")

    threads = [threading.Thread(target=claim) for _ in range(n)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(outcomes) == ["line"] + ["refused"] * (n - 1)
    mine = _lines(api, keys["organisations"]["broadland-mentors"]["provider"])
    assert [l["fee_id"] for l in mine].count("level-2-support") == 1


def test_rejected_lines_stay_out_and_a_clawback_nets_off_in_the_next_file(api, keys, monkeypatch, tmp_path, capsys):
    import manage

    orgs = keys["organisations"]
    mentor = orgs["broadland-mentors"]["provider"]
    rid = _journey(api, keys, "kings-lynn-works", ["accept", "start"], nino="AB000001A")
    other = chain_referral(api, keys, deliverer="great-yarmouth-works", nino="AB000002A")
    claim = api.post("/claims", mentor, {"referral_id": other, "fee_id": "level-2-support", "amount_pence": 5000,
                                         "event_date": "2026-11-24", "evidence_ref": "ev",
                                         "contact_ids": ["mc1"]}).body
    api.post(f"/claims/{claim['line_id']}/reject", keys["finance"], {"reason": "evidence does not show need"})
    november = cut_claim_file(api, keys["finance"], {"programme_id": "flexible-routeways-norfolk",
                                                     "period": NOV})[1].body
    # The two starts and the Level 2 group's referral fee; the rejected mentoring claim stays out.
    assert november["line_count"] == 3 and november["total_pence"] == 15750 + 15750 + 3500
    assert api.get(f"/claims/{claim['line_id']}", keys["finance"]).body["status"] == "rejected"

    monkeypatch.setenv("REFPAY_TODAY", "2026-12-02")
    start_line = f"{rid}:level-3-delivery:start"
    assert api.post(f"/claims/{start_line}/clawback", keys["finance"], {"reason": "start recorded in error"}).status == 201
    december = cut_claim_file(api, keys["finance"], {"programme_id": "flexible-routeways-norfolk",
                                                     "period": "2026-12"}, on="2027-01-04")[1].body
    assert december["line_count"] == 1 and december["total_pence"] == -15750 and december["total_gbp"] == "-157.50"
    text, rows = _csv(december)
    assert rows[0]["kind"] == "clawback" and rows[0]["reverses_line_id"] == start_line
    # The two files together net to zero for that participant; no line is in both.
    _, nov_rows = _csv(november)
    assert {r["line_id"] for r in nov_rows}.isdisjoint({r["line_id"] for r in rows})

    # Finance exports the same file at a terminal.
    out = tmp_path / "december.csv"
    capsys.readouterr()
    assert manage.main(["export-claim-file", december["id"], "--out", str(out), "--quiet"]) == 0
    assert out.read_bytes().decode() == text
    assert '"matches_recorded_total": true' in capsys.readouterr().out
    assert manage.main(["export-claim-file", "cf-missing", "--out", str(out), "--quiet"]) == 2


def test_esf_short_and_sustained_job_outcomes(api, keys, monkeypatch):
    orgs = keys["organisations"]
    book = api.get("/programmes/esf-community-hub", keys["referrer"]).body
    provider_id = book["allocations"][0]["org_id"]
    monkeypatch.setenv("REFPAY_TODAY", "2026-01-05")
    level = list(book["rulebook"]["support_levels"])[0]
    rid = api.post("/referrals", keys["referrer"], referral_body(
        programme_id="esf-community-hub", provider_id=provider_id, support_level=level,
        consent={"given": True, "date": "2026-01-05"})).body["id"]
    key = orgs[provider_id]["provider"]
    for path, payload in [("acknowledgement", {"decision": "accept", "date": "2026-01-05"}),
                          ("start", {"date": "2026-01-05"}), ("assessments", {"date": "2026-01-05"}),
                          ("action-plans", {"date": "2026-01-05"}),
                          ("outcomes", {"type": "job_start", "date": "2026-01-05", "employer_name": "Hub Cafe",
                                        "hours_per_week": 16, "weekly_earnings_pence": 19000})]:
        assert api.post(f"/referrals/{rid}/{path}", key, payload).status in (200, 201)
    for checkpoint, on in (("13-weeks", "2026-04-06"), ("26-weeks", "2026-07-06")):
        monkeypatch.setenv("REFPAY_TODAY", on)  # each recorded the day it is reached
        reply = api.post(f"/referrals/{rid}/outcomes", key, {"type": "sustainment", "checkpoint": checkpoint,
                                                             "date": on})
        assert reply.status == 201, reply.body
    lines = {l["milestone"]: l for l in _lines(api, key)}
    assert lines["short_job_outcome"]["amount_pence"] == 100000
    assert lines["short_job_outcome"]["event_date"] == "2026-04-06"
    assert lines["sustained_job_outcome"]["amount_pence"] == 150000
    assert lines["sustained_job_outcome"]["funder"] == "esf"


def test_claims_page_with_a_cursor_and_filters(api, keys):
    for n in range(1, 5):
        _journey(api, keys, "kings-lynn-works", ["accept", "start"], nino=f"AB00000{n}A")
    finance = keys["finance"]
    seen, cursor = [], None
    while True:
        page = api.get("/claims?limit=3" + (f"&cursor={cursor}" if cursor else ""), finance).body
        seen += [line["line_id"] for line in page["items"]]
        if not page["has_more"]:
            break
        cursor = page["cursor"]
    assert len(seen) == 4 == len(set(seen))
    assert len(_lines(api, finance, period=NOV, status="approved", programme_id="flexible-routeways-norfolk")) == 4
    assert _lines(api, finance, period="2026-10") == []
    assert api.get("/claims?period=November", finance).status == 422


def test_claims_stop_when_the_contract_value_is_exhausted(api, keys, monkeypatch):
    from dataclasses import replace

    from chalicelib.adapters.rulebooks import all_rulebooks

    books = all_rulebooks()
    norfolk = books["flexible-routeways-norfolk"]
    monkeypatch.setitem(books, norfolk.id, replace(norfolk, tariff=replace(norfolk.tariff, contract_value_pence=25000)))
    mentor = keys["organisations"]["broadland-mentors"]["provider"]
    first = chain_referral(api, keys, nino="AB000001A")
    second = chain_referral(api, keys, nino="AB000002A")
    claim = {"fee_id": "level-2-support", "amount_pence": 15000, "event_date": "2026-11-24", "evidence_ref": "e",
             "contact_ids": ["mc1"]}
    assert api.post("/claims", mentor, {**claim, "referral_id": first}).status == 201
    over = api.post("/claims", mentor, {**claim, "referral_id": second})
    assert over.status == 422 and over.body["reason"] == "contract_value_exhausted"
    assert [l["fee_id"] for l in _lines(api, mentor)].count("level-2-support") == 1  # nothing was written
    assert api.post("/claims", mentor, {**claim, "referral_id": second, "amount_pence": 10000}).status == 201


def test_a_cut_that_another_cut_beats_to_the_file_runs_again_and_answers_200_with_that_file(api, keys, monkeypatch):
    """Between this cut's read and its transaction, another cut (another key) creates the file: the transaction is
    refused on the file's condition, and the cut runs again, once: it reads the file then and answers with it (200),
    recording its own key's answer; nothing is made twice."""
    from chalicelib.services import claim_files
    from chalicelib.services.deps import store
    from tests.conftest import dynamodb_calls

    _journey(api, keys, "kings-lynn-works", ["accept", "start"], nino="AB000011A", monkeypatch=monkeypatch)
    monkeypatch.setenv("REFPAY_TODAY", "2026-12-01")
    monkeypatch.setattr(claim_files, "start_build", lambda claim_file_id: None)  # built below, once
    add, beaten = store().claim_files.add, []

    def another_cut_first(tx, record):
        if not beaten:
            beaten.append(record.claim_file_id)
            first = store().transaction()
            add(first, record)
            first.commit()
        add(tx, record)

    monkeypatch.setattr(store().claim_files, "add", another_cut_first)
    monkeypatch.setenv("REFPAY_AUTH_CACHE_SECONDS", "300")  # warm however slow the machine
    api.get("/claims", keys["finance"])  # the authorizer's cache, warm for the key
    calls = dynamodb_calls(monkeypatch)
    TG, TW = "TransactGetItems", "TransactWriteItems"
    body = {"programme_id": "flexible-routeways-norfolk", "period": NOV}
    cut = api.post("/claim-files", keys["finance"], body, headers={"Idempotency-Key": "cut-beaten"})
    assert cut.status == 200 and cut.body["id"] == beaten[0] and cut.body["status"] == "building", cut.body
    # Its read; the other cut's transaction, then its own (refused); whether its own key's first request answered
    # meanwhile (a read: no); then it again: a read that finds the file, and a transaction of its own record.
    assert calls == [TG, TW, TW, TG, TG, TW]
    again = api.post("/claim-files", keys["finance"], body, headers={"Idempotency-Key": "cut-beaten"})
    assert (again.status, again.body["id"]) == (200, beaten[0])
    assert len(beaten) == 1


def test_a_cut_whose_file_another_cut_is_committing_runs_again_and_answers_200_with_that_file(api, keys,
                                                                                              monkeypatch):
    """DynamoDB cancels a transaction that writes an item another transaction is committing (TransactionConflict,
    not a failed condition): a cut refused so on its file's record runs again too, and answers 200 with the file
    the other cut made (not 409)."""
    from pynamodb.connection.base import VerboseClientError
    from pynamodb.exceptions import CancellationReason, TransactWriteError

    from chalicelib.services import claim_files
    from chalicelib.services.deps import store
    from chalicelib.store import transaction

    _journey(api, keys, "kings-lynn-works", ["accept", "start"], nino="AB000012A", monkeypatch=monkeypatch)
    monkeypatch.setenv("REFPAY_TODAY", "2026-12-01")
    monkeypatch.setattr(claim_files, "start_build", lambda claim_file_id: None)
    real, made = transaction.TransactWrite, []
    fid = claim_files.file_id("flexible-routeways-norfolk", NOV, "trobius", None)

    class Conflicting(real):
        def _commit(self):
            if not made:  # the cut's own transaction: the first sent from here on
                made.append(1)
                record = claim_files.ClaimFile(
                    claim_file_id=fid, programme_id="flexible-routeways-norfolk", period=NOV, payee_org_id=None,
                    owner_org_id="trobius", status="building", created_at="2026-12-01T09:00:00+00:00",
                    created_by="key_other")
                other = store().transaction()
                store().claim_files.add(other, record)
                other.commit()  # the other cut, committing as this one's transaction is sent
                cause = VerboseClientError(
                    {"Error": {"Code": "TransactionCanceledException", "Message": "conflict"}}, "TransactWriteItems",
                    cancellation_reasons=[CancellationReason(code="TransactionConflict", message="conflict"), None])
                raise TransactWriteError("cancelled", cause=cause)
            return super()._commit()

    monkeypatch.setattr(transaction, "TransactWrite", Conflicting)
    cut = api.post("/claim-files", keys["finance"], {"programme_id": "flexible-routeways-norfolk", "period": NOV},
                   headers={"Idempotency-Key": "cut-conflict"})
    assert (cut.status, cut.body["id"], made) == (200, fid, [1]), cut.body
