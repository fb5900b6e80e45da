"""Whole journeys through the API, one per programme shape, checking state, deadlines and the audit trail."""
from __future__ import annotations

from tests.conftest import referral_body


def _refer(api, key, **kw):
    reply = api.post("/referrals", key, referral_body(**kw))
    assert reply.status == 201, reply.body
    return reply.body


def test_norfolk_referral_to_job_start_and_exit(api, keys):
    referrer, provider = keys["referrer"], keys["provider"]
    created = _refer(api, referrer, nino="AB123456C")
    rid = created["id"]
    assert created["status"] == "referred"
    assert created["provider_org_id"] == "kings-lynn-works"
    assert created["prime_org_id"] == "trobius"
    # Acknowledge within 2 working days of Tue 24 Nov 2026: Thu 26 Nov.
    assert {"rule": "acknowledge", "due": "2026-11-26", "overdue": False,
            "description": "acknowledge the referral within 2 working days of the referral"} in created["deadlines"]
    assert created["participant"]["reference"].startswith("PR-")

    steps = [
        ("acknowledgement", {"decision": "accept", "date": "2026-11-24"}, "accepted", 200),
        ("start", {"date": "2026-11-24"}, "started", 200),
        ("assessments", {"date": "2026-11-24", "support_level": "intensive"}, "assessed", 201),
        ("action-plans", {"date": "2026-11-24", "document_ref": "AP-1"}, "in_support", 201),
        ("reviews", {"date": "2026-11-24"}, "in_support", 201),
        ("outcomes", {"type": "job_start", "date": "2026-11-24", "employer_name": "Norwich Foods Ltd",
                      "hours_per_week": 20, "weekly_earnings_pence": 24000}, "in_work", 201),
    ]
    for path, body, state, status in steps:
        reply = api.post(f"/referrals/{rid}/{path}", provider, body)
        assert reply.status == status, (path, reply.body)
        assert reply.body["status"] == state, path

    current = api.get(f"/referrals/{rid}", provider).body
    assert current["support_level"] == "intensive"
    assert current["job_start"]["hours_per_week"] == 20
    assert current["next_review_due"] == "2026-12-01"  # intensive: weekly
    rules = {d["rule"] for d in current["deadlines"]}
    assert {"review", "sustainment:13-weeks", "max_duration"} <= rules

    # Exit needs an exit review on this programme.
    missing = api.post(f"/referrals/{rid}/exit", provider, {"date": "2026-11-24", "reason": "job_sustained"})
    assert missing.status == 422 and missing.body["errors"][0]["field"] == "exit_review"
    done = api.post(f"/referrals/{rid}/exit", provider, {
        "date": "2026-11-24", "reason": "job_sustained",
        "exit_review": {"date": "2026-11-24", "destination": "employment"}})
    assert done.status == 200 and done.body["status"] == "exited"
    assert done.body["allowed_actions"] == []

    events = api.get(f"/referrals/{rid}/events", provider).body["items"]
    assert [e["type"] for e in events] == ["referral", "accept", "start", "assessment", "action_plan", "review",
                                           "job_start", "exit"]
    assert [e["seq"] for e in events] == list(range(1, 9))
    assert events[0]["actor"]["org_id"] == "jobcentre-plus-norwich"
    assert events[1]["actor"]["org_id"] == "kings-lynn-works"
    assert all(e["actor"]["key_id"].startswith("key_") for e in events)
    assert events[6]["data"]["hours_band"] == "over_16"

    # Once exited the person is free to be referred elsewhere (this programme allows no return).
    again = api.post("/referrals", referrer, referral_body(nino="AB123456C"))
    assert again.status == 422 and again.body["reason"] == "previously_participated"
    elsewhere = api.post("/referrals", keys["organisations"]["tees-valley-jcp"]["referrer"], referral_body(
        programme_id="tees-valley-routes-to-work", provider_id=None, area="Middlesbrough", nino="AB123456C",
        support_level="weekly"))
    assert elsewhere.status == 201, elsewhere.body
    assert elsewhere.body["provider_org_id"] == "middlesbrough-council"


def test_tees_valley_sustainment_checkpoints_and_extra_review(api, keys, monkeypatch):
    orgs = keys["organisations"]
    referrer, provider = orgs["tees-valley-jcp"]["referrer"], orgs["darlington-council"]["provider"]
    monkeypatch.setenv("REFPAY_TODAY", "2026-01-05")
    rid = _refer(api, referrer, programme_id="tees-valley-routes-to-work", provider_id="darlington-council",
                 support_level="fortnightly", nino="CE987654A", consent={"given": True, "date": "2026-01-05"})["id"]
    monkeypatch.setenv("REFPAY_TODAY", "2026-01-09")
    for path, body in [("acknowledgement", {"decision": "accept", "date": "2026-01-05"}),
                       ("start", {"date": "2026-01-06"}), ("assessments", {"date": "2026-01-07"}),
                       ("action-plans", {"date": "2026-01-08"})]:
        assert api.post(f"/referrals/{rid}/{path}", provider, body).status in (200, 201)
    view = api.get(f"/referrals/{rid}", provider).body
    careers = next(d for d in view["deadlines"] if d["rule"] == "ceiag-interview")
    assert careers["due"] == "2026-07-06"  # six months after the start
    assert api.post(f"/referrals/{rid}/reviews", provider, {"date": "2026-01-08", "kind": "ceiag-interview"}).status == 201
    view = api.get(f"/referrals/{rid}", provider).body
    assert next(d for d in view["deadlines"] if d["rule"] == "ceiag-interview")["due"] == "2026-07-08"
    unknown_kind = api.post(f"/referrals/{rid}/reviews", provider, {"date": "2026-01-08", "kind": "weekly-call"})
    assert unknown_kind.status == 422 and unknown_kind.body["errors"][0]["field"] == "kind"

    job = {"type": "job_start", "date": "2026-01-09", "employer_name": "Darlington Rail", "hours_per_week": 12.5,
           "weekly_earnings_pence": 15000}
    assert api.post(f"/referrals/{rid}/outcomes", provider, job).status == 201
    view = api.get(f"/referrals/{rid}", provider).body
    assert next(d for d in view["deadlines"] if d["rule"].startswith("sustainment"))["due"] == "2026-04-09"
    early = api.post(f"/referrals/{rid}/outcomes", provider,
                     {"type": "sustainment", "checkpoint": "3-months", "date": "2026-01-09"})
    assert early.status == 422 and early.body["errors"][0]["rule"] == "not_before"

    for checkpoint, on in (("3-months", "2026-04-09"), ("6-months", "2026-07-09")):
        monkeypatch.setenv("REFPAY_TODAY", on)  # each recorded the day it is reached
        reply = api.post(f"/referrals/{rid}/outcomes", provider,
                         {"type": "sustainment", "checkpoint": checkpoint, "date": on})
        assert reply.status == 201, reply.body
    twice = api.post(f"/referrals/{rid}/outcomes", provider,
                     {"type": "sustainment", "checkpoint": "3-months", "date": "2026-04-10"})
    assert twice.status == 422 and twice.body["errors"][0]["rule"] == "once"
    view = api.get(f"/referrals/{rid}", provider).body
    assert view["sustainments"] == {"3-months": "2026-04-09", "6-months": "2026-07-09"}
    assert next(d for d in view["deadlines"] if d["rule"].startswith("sustainment"))["rule"] == "sustainment:9-months"


def test_work_choice_modules_transfer_exit_and_return(api, keys):
    orgs = keys["organisations"]
    referrer = keys["referrer"]
    book = api.get("/programmes/work-choice", referrer).body
    subs = [a["org_id"] for a in book["allocations"] if a["role"] == "subcontractor"]
    holder, other = subs[0], subs[1]
    holder_key = orgs[holder]["provider"]
    person = referral_body()["participant"]
    person.update(nino="HJ246810D", eligibility={"disabled": True, "right_to_work": True, "autism": True})
    created = _refer(api, referrer, programme_id="work-choice", provider_id=holder,
                     support_level=list(book["rulebook"]["support_levels"])[0], participant=person)
    assert created["priority_groups"] == ["autism"]
    rid = created["id"]
    assert created["module_id"] == book["rulebook"]["modules"][0]["id"]
    for path, body in [("acknowledgement", {"decision": "accept", "date": "2026-11-24"}),
                       ("start", {"date": "2026-11-24"})]:
        assert api.post(f"/referrals/{rid}/{path}", holder_key, body).status == 200
    modules = [m["id"] for m in book["rulebook"]["modules"]]
    moved = api.post(f"/referrals/{rid}/module", holder_key, {"module_id": modules[1], "date": "2026-11-24"})
    assert moved.status == 200 and moved.body["module_id"] == modules[1]
    same = api.post(f"/referrals/{rid}/module", holder_key, {"module_id": modules[1], "date": "2026-11-24"})
    assert same.status == 422 and same.body["errors"][0]["rule"] == "allowed_move"

    transferred = api.post(f"/referrals/{rid}/transfer", holder_key, {
        "to_provider_id": other, "date": "2026-11-24", "handover": {"date": "2026-11-24", "document_ref": "HO-7"}})
    assert transferred.status == 200, transferred.body
    assert transferred.body["provider_org_id"] == other
    # The old holder no longer sees the referral; the new one does.
    assert api.get(f"/referrals/{rid}", holder_key).status == 404
    other_key = orgs[other]["provider"]
    assert api.get(f"/referrals/{rid}", other_key).status == 200
    used = {a["org_id"]: a["used"] for a in api.get("/programmes/work-choice", referrer).body["allocations"]}
    assert used[holder] == 0 and used[other] == 1

    exited = api.post(f"/referrals/{rid}/exit", other_key, {
        "date": "2026-11-24", "reason": "unsupported_work",
        "exit_review": {"date": "2026-11-24", "destination": "employment"}})
    # A return is the referrer's to make: offered to the referrer, not to the provider that recorded the exit.
    assert exited.status == 200 and exited.body["allowed_actions"] == []
    assert api.get(f"/referrals/{rid}", referrer).body["allowed_actions"] == ["re_referral"]

    back = api.post(f"/referrals/{rid}/re-referrals", referrer, {"consent": {"given": True, "date": "2026-11-24"}})
    assert back.status == 201, back.body
    assert back.body["previous_referral_id"] == rid
    assert back.body["status"] == "referred"
    assert back.body["participant"]["reference"] == exited.body["participant"]["reference"]
    # Only one active referral at a time: a second return is refused.
    again = api.post(f"/referrals/{rid}/re-referrals", referrer, {"consent": {"given": True, "date": "2026-11-24"}})
    assert again.status == 422 and again.body["reason"] == "already_active"


def test_return_refused_where_programme_does_not_allow_it(api, keys):
    referrer, provider = keys["referrer"], keys["provider"]
    rid = _refer(api, referrer, nino="AB123456C")["id"]
    for path, body in [("acknowledgement", {"decision": "accept", "date": "2026-11-24"}),
                       ("start", {"date": "2026-11-24"}),
                       ("exit", {"date": "2026-11-24", "reason": "withdrew",
                                 "exit_review": {"date": "2026-11-24", "destination": "unemployed"}})]:
        assert api.post(f"/referrals/{rid}/{path}", provider, body).status == 200
    back = api.post(f"/referrals/{rid}/re-referrals", referrer, {"consent": {"given": True, "date": "2026-11-24"}})
    assert back.status == 422 and back.body["reason"] == "returns_not_allowed"


def test_rejection_and_did_not_start_free_the_person_and_the_place(api, keys):
    referrer, provider = keys["referrer"], keys["provider"]
    first = _refer(api, referrer, nino="AB123456C")["id"]
    no_reason = api.post(f"/referrals/{first}/acknowledgement", provider, {"decision": "reject", "date": "2026-11-24"})
    assert no_reason.status == 422 and no_reason.body["errors"][0]["field"] == "reason"
    rejected = api.post(f"/referrals/{first}/acknowledgement", provider,
                        {"decision": "reject", "date": "2026-11-24", "reason": "already_employed"})
    assert rejected.status == 200 and rejected.body["status"] == "rejected"
    assert rejected.body["status_reason"] == "already_employed"
    allocation = {a["org_id"]: a["used"] for a in api.get("/programmes/flexible-routeways-norfolk", referrer).body["allocations"]}
    assert allocation["kings-lynn-works"] == 0

    second = _refer(api, referrer, nino="AB123456C")["id"]
    assert api.post(f"/referrals/{second}/acknowledgement", provider, {"decision": "accept", "date": "2026-11-24"}).status == 200
    dns = api.post(f"/referrals/{second}/did-not-start", provider, {"date": "2026-11-24", "reason": "failed_to_attend"})
    assert dns.status == 200 and dns.body["status"] == "did_not_start"
    assert _refer(api, referrer, nino="AB123456C")["status"] == "referred"


def test_listing_filters_and_cursor_pagination(api, keys):
    referrer, provider = keys["referrer"], keys["provider"]
    ninos = ["AB000001A", "AB000002A", "AB000003A", "AB000004A", "AB000005A"]
    ids = [_refer(api, referrer, nino=n)["id"] for n in ninos]
    api.post(f"/referrals/{ids[0]}/acknowledgement", provider, {"decision": "accept", "date": "2026-11-24"})
    seen, cursor = [], None
    while True:
        path = "/referrals?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = api.get(path, referrer).body
        seen += [r["id"] for r in page["items"]]
        if not page["has_more"]:
            break
        cursor = page["cursor"]
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    accepted = api.get("/referrals?status=accepted", provider).body["items"]
    assert [r["id"] for r in accepted] == [ids[0]]
    by_programme = api.get("/referrals?programme_id=work-choice", referrer).body["items"]
    assert by_programme == []
    prime_view = api.get("/referrals?provider_id=kings-lynn-works", keys["prime"]).body["items"]
    assert len(prime_view) == 5
    forged = api.get("/referrals?limit=2&cursor=abc.def", referrer)
    assert forged.status == 422 and forged.body["errors"][0]["field"] == "cursor"
    other_cursor = api.get("/referrals?limit=2", referrer).body["cursor"]
    stolen = api.get(f"/referrals?limit=2&cursor={other_cursor}", provider)
    assert stolen.status == 422
