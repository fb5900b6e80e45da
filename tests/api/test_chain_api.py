"""The delivery chain over HTTP, worked from seed 000 (Flexible Routeways, Norfolk: VCS groups refer to Trobius,
Trobius routes to a Level 3 deliverer, a Level 2 group mentors alongside) and seed 001 (Tees Valley: Darlington's
hub passes a person to a spoke partner), and a matrix of what each party may read and do on a referral."""
from __future__ import annotations

import json

import pytest

from tests.api.test_payments import _csv
from tests.conftest import TODAY, WEEK_BEFORE, chain_referral, cut_claim_file, referral_body

NOV = TODAY[:7]
NORFOLK = "flexible-routeways-norfolk"


def _lines(api, key, **filters):
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    return api.get(f"/claims?limit=200&{query}", key).body["items"]


def _post(api, path, key, body, status=(200, 201)):
    reply = api.post(path, key, body)
    assert reply.status in status, (path, reply.status, reply.body)
    return reply.body


# ------------------------------------------------------------------ seed 000: Level 1


def test_a_level_1_group_refers_to_trobius_which_routes_to_a_level_3_deliverer_and_each_is_paid(api, keys,
                                                                                                monkeypatch):
    orgs = keys["organisations"]
    group, prime = orgs["norfolk-community-links"], orgs["trobius"]
    deliverer = orgs["kings-lynn-works"]["provider"]

    # The group's referrer key refers a person to the prime, a week before the job (Level 3's minimum delivery).
    monkeypatch.setenv("REFPAY_TODAY", WEEK_BEFORE)
    made = api.post("/referrals", group["referrer"], referral_body(
        provider_id="trobius", consent={"given": True, "date": WEEK_BEFORE}))
    assert made.status == 201, made.body
    rid = made.body["id"]
    assert (made.body["provider_org_id"], made.body["viewed_as"]) == ("trobius", "referrer")
    assert [(p["org_id"], p["role"]) for p in made.body["parties"]] == [("norfolk-community-links", "referrer")]
    held = api.get(f"/referrals/{rid}", prime["provider"]).body
    assert held["allowed_actions"] == ["add_party", "reject", "route"]
    # The prime holds it: nobody accepts it before it is routed.
    assert api.post(f"/referrals/{rid}/accept", prime["provider"], {"date": WEEK_BEFORE}).status == 409

    routed = _post(api, f"/referrals/{rid}/route", prime["provider"], {"date": WEEK_BEFORE,
                                                                      "to_provider_id": "kings-lynn-works"})
    assert routed["provider_org_id"] == "kings-lynn-works"
    assert [(p["org_id"], p["role"], p["added_by"]) for p in routed["parties"]] == [
        ("norfolk-community-links", "referrer", "norfolk-community-links"),
        ("kings-lynn-works", "deliverer", "trobius")]

    outside = api.post(f"/referrals/{rid}/accept", deliverer, {"date": WEEK_BEFORE, "agreed_price_pence": 55001,
                                                               "activity": "1:1 job search"})
    assert outside.status == 422 and outside.body["errors"][0]["rule"] == "within_band"
    accepted = _post(api, f"/referrals/{rid}/accept", deliverer, {
        "date": WEEK_BEFORE, "agreed_price_pence": 54000, "activity": "13 weeks of 1:1 job search and CV support"})
    assert (accepted["agreed_price_pence"], accepted["agreed_activity"]) == (
        54000, "13 weeks of 1:1 job search and CV support")

    # GBP 35 (the default within 30-40) to the group on acceptance, through Trobius, which keeps none of it.
    owed = _lines(api, group["finance"])
    assert [(x["fee_id"], x["payee_org_id"], x["payee_role"], x["amount_pence"], x["prime_org_id"],
             x["prime_retained_pence"]) for x in owed] == [
        ("level-1-referral", "norfolk-community-links", "referrer", 3500, "trobius", 0)]

    _post(api, f"/referrals/{rid}/start", deliverer, {"date": WEEK_BEFORE})
    monkeypatch.setenv("REFPAY_TODAY", TODAY)
    for step, body in (("assessment", {"date": TODAY}),
                       ("job_start", {"date": TODAY, "employer_name": "Fenland Foods", "hours_per_week": 20,
                                      "weekly_earnings_pence": 24000})):
        _post(api, f"/referrals/{rid}/{step}", deliverer, body)
    # 30% on start and 70% on the job start of the agreed GBP 540, to the penny; Trobius keeps 10% of each.
    paid = sorted((x["milestone"], x["amount_pence"], x["prime_retained_pence"], x["payee_net_pence"])
                  for x in _lines(api, deliverer))
    assert paid == [("job_start", 37800, 3780, 34020), ("start", 16200, 1620, 14580)]

    cascade = api.get(f"/payments/cascade?period={NOV}", prime["finance"]).body
    assert {p["payee_org_id"]: (p["amount_pence"], p["prime_retained_pence"], p["payee_net_pence"])
            for p in cascade["payees"]} == {"kings-lynn-works": (54000, 5400, 48600),
                                           "norfolk-community-links": (3500, 0, 3500)}
    mine = api.get(f"/payments/cascade?period={NOV}", group["finance"]).body
    assert [(x["payee_role"], x["amount_pence"]) for x in mine["lines"]] == [("referrer", 3500)]

    # The claim file names each line's payee party, funder and prime, and what the prime keeps.
    cut, ready = cut_claim_file(api, prime["finance"], {"programme_id": NORFOLK, "period": NOV})
    assert (cut.status, ready.body["status"]) == (202, "ready"), (cut.body, ready.body)
    rows = sorted((r["payee_org_id"], r["payee_role"], r["milestone"], r["amount_pence"], r["funder_org_id"],
                   r["prime_org_id"], r["prime_retained_pence"]) for r in _csv(ready.body)[1] if r["referral_id"] == rid)
    assert rows == [
        ("kings-lynn-works", "deliverer", "job_start", "37800", "dwp-commissioning", "trobius", "3780"),
        ("kings-lynn-works", "deliverer", "start", "16200", "dwp-commissioning", "trobius", "1620"),
        ("norfolk-community-links", "referrer", "referral_accepted", "3500", "dwp-commissioning", "trobius", "0")]


# ------------------------------------------------------------------ seed 000: Level 2


def test_a_level_2_group_refers_and_mentors_alongside_a_level_3_deliverer_and_both_are_paid(api, keys, monkeypatch):
    orgs = keys["organisations"]
    group, deliverer = orgs["broadland-mentors"], orgs["great-yarmouth-works"]["provider"]
    rid = chain_referral(api, keys, deliverer="great-yarmouth-works", price=52000, monkeypatch=monkeypatch)
    view = api.get(f"/referrals/{rid}", group["provider"]).body
    assert view["viewed_as"] == "mentor" and view["allowed_actions"] == ["mentoring_contact"]
    assert [(p["org_id"], p["role"]) for p in view["parties"]] == [
        ("broadland-mentors", "referrer"), ("great-yarmouth-works", "deliverer"), ("broadland-mentors", "mentor")]
    _post(api, f"/referrals/{rid}/mentoring_contact", group["provider"],
          {"date": TODAY, "minutes": 90, "mode": "in_person", "notes_ref": "MN-118"})
    no_evidence = api.post("/claims", group["provider"], {"referral_id": rid, "fee_id": "level-2-support",
                                                          "amount_pence": 18000, "event_date": TODAY,
                                                          "evidence_ref": "mentoring log"})
    assert no_evidence.status == 422 and no_evidence.body["errors"][0]["field"] == "contact_ids"
    over = api.post("/claims", group["provider"], {"referral_id": rid, "fee_id": "level-2-support",
                                                   "amount_pence": 20001, "event_date": TODAY,
                                                   "evidence_ref": "mentoring log", "contact_ids": ["mc1"]})
    assert over.status == 422 and over.body["reason"] == "over_cap"
    claim = _post(api, "/claims", group["provider"], {"referral_id": rid, "fee_id": "level-2-support",
                                                      "amount_pence": 18000, "event_date": TODAY,
                                                      "evidence_ref": "mentoring log", "contact_ids": ["mc1", "mc2"]})
    assert (claim["payee_role"], claim["contact_ids"], claim["status"]) == ("mentor", ["mc1", "mc2"], "submitted")
    own = api.post(f"/claims/{claim['line_id']}/approve", group["finance"], {})
    assert own.status == 403 and own.body["rule"] == "segregation_of_duties", own.body  # never its own money
    _post(api, f"/claims/{claim['line_id']}/approve", keys["finance"], {})  # Trobius pays its chain
    _post(api, f"/referrals/{rid}/assessment", deliverer, {"date": TODAY})
    _post(api, f"/referrals/{rid}/job_start", deliverer, {"date": TODAY, "employer_name": "Broads Boats",
                                                          "hours_per_week": 30, "weekly_earnings_pence": 36000})
    group_lines = sorted((x["fee_id"], x["payee_role"], x["amount_pence"], x["prime_retained_pence"])
                         for x in _lines(api, group["finance"]))
    assert group_lines == [("level-2-referral", "referrer", 3500, 175), ("level-2-support", "mentor", 18000, 900)]
    delivered = sorted((x["milestone"], x["amount_pence"]) for x in _lines(api, deliverer))
    assert delivered == [("job_start", 36400), ("start", 15600)]  # 30% / 70% of the agreed GBP 520


# ------------------------------------------------------------------ seed 001: a hub and its spokes


def test_a_darlington_hub_passes_a_person_to_a_spoke_which_sees_it_and_records_its_steps(api, keys):
    orgs = keys["organisations"]
    hub, spoke = orgs["darlington-council"]["provider"], orgs["skerne-valley-works"]["provider"]
    body = referral_body(programme_id="tees-valley-routes-to-work", provider_id="darlington-council",
                         support_level="weekly")
    rid = _post(api, "/referrals", orgs["tees-valley-jcp"]["referrer"], body)["id"]
    for step in ("accept", "start"):
        _post(api, f"/referrals/{rid}/{step}", hub, {"date": TODAY})
    assert api.get(f"/referrals/{rid}", spoke).status == 404
    handed = _post(api, f"/referrals/{rid}/spoke_handover", hub, {"date": TODAY, "spoke_org_id": "skerne-valley-works",
                                                                 "handover_ref": "WH-2026-031"})
    assert [(p["org_id"], p["role"], p["handover_ref"]) for p in handed["parties"]][-1] == (
        "skerne-valley-works", "spoke", "WH-2026-031")
    seen = api.get(f"/referrals/{rid}", spoke).body
    assert seen["viewed_as"] == "spoke" and "review" not in seen["allowed_actions"]
    assert set(seen["allowed_actions"]) == {"assessment"}
    assert [r["id"] for r in api.get("/referrals", spoke).body["items"]] == [rid]
    _post(api, f"/referrals/{rid}/assessment", spoke, {"date": TODAY})
    _post(api, f"/referrals/{rid}/action_plan", spoke, {"date": TODAY, "document_ref": "IAP-9"})
    events = api.get(f"/referrals/{rid}/events", hub).body["items"]
    assert [(e["type"], e["actor"]["org_id"]) for e in events][-3:] == [
        ("spoke_handover", "darlington-council"), ("assessment", "skerne-valley-works"),
        ("action_plan", "skerne-valley-works")]
    assert events[-3]["data"] == {"spoke_org_id": "skerne-valley-works", "handover_date": TODAY,
                                  "handover_ref": "WH-2026-031"}
    # The hub keeps its decisions and is paid for the outcome the spoke supports.
    exit_body = {"date": TODAY, "reason": "withdrew", "exit_review": {"date": TODAY, "destination": "unknown"}}
    assert api.post(f"/referrals/{rid}/exit", spoke, exit_body).status == 403
    _post(api, f"/referrals/{rid}/job_start", spoke, {"date": TODAY, "employer_name": "Darlo Print",
                                                      "hours_per_week": 25, "weekly_earnings_pence": 30000})
    assert [(x["payee_org_id"], x["payee_role"]) for x in _lines(api, orgs["darlington-council"]["finance"])] == [
        ("darlington-council", "deliverer")]
    assert api.get(f"/referrals/{rid}", orgs["darlington-wellbeing-partners"]["provider"]).status == 404


# ------------------------------------------------------------------ what each party may read and do

# (who, key role) -> the part it plays on the Norfolk referral (None: none) and on the Tees Valley one.
CALLERS = {
    "referrer": ("norfolk-community-links", "referrer"),
    "mentor": ("broadland-mentors", "provider"),
    "deliverer": ("kings-lynn-works", "provider"),
    "prime": ("trobius", "provider"),
    "spoke": ("skerne-valley-works", "provider"),
    "hub": ("darlington-council", "provider"),
    "unrelated": ("great-yarmouth-works", "provider"),
    "other spoke": ("darlington-wellbeing-partners", "provider"),
}
NORFOLK_PARTS = {"referrer": "referrer", "mentor": "mentor", "deliverer": "deliverer", "prime": "prime"}
TEES_PARTS = {"spoke": "spoke", "hub": "prime"}
# Who works with the person, and so sees their personal fields: the referring group's referrer key, the provider
# keys of the deliverer (or the hub holding the referral), the mentor and the spoke. A prime that only routes, and
# every finance key, sees the pseudonymous reference.
PERSONAL_READERS = {"referrer", "mentor", "deliverer", "spoke", "hub"}
CASE_FIELDS = ("support_level", "assessed_on", "action_plan_on", "job_start", "contacts", "agreed_price_pence",
               "next_review_due")

CONTACT = {"date": TODAY, "minutes": 15, "mode": "phone"}
# step -> (body, the callers that may take it: every other caller is refused, 404 if it plays no part, else 403;
# an entitled caller may still meet a rule of the programme, 409 or 422, never 401, 403 or 404)
NORFOLK_WRITES = {
    "mentoring_contact": (CONTACT, {"mentor"}),
    "review": ({"date": TODAY}, {"deliverer"}),
    "route": ({"date": TODAY, "to_provider_id": "great-yarmouth-works"}, {"prime"}),
    "add_party": ({"date": TODAY, "party_org_id": "broadland-mentors", "role": "mentor"}, {"prime"}),
    "spoke_handover": ({"date": TODAY, "spoke_org_id": "skerne-valley-works", "handover_ref": "WH"}, {"deliverer"}),
    "end_party": ({"date": TODAY, "party_org_id": "broadland-mentors", "role": "mentor", "reason": "matrix"},
                  {"prime"}),
    "transfer": ({"date": TODAY, "to_provider_id": "great-yarmouth-works", "handover": {"date": TODAY}},
                 {"deliverer", "prime"}),
}
TEES_WRITES = {
    "review": ({"date": TODAY}, {"spoke", "hub"}),
    "exit": ({"date": TODAY, "reason": "withdrew", "exit_review": {"date": TODAY, "destination": "unknown"}}, {"hub"}),
    "spoke_handover": ({"date": TODAY, "spoke_org_id": "darlington-wellbeing-partners", "handover_ref": "WH"},
                       {"hub"}),
}


@pytest.fixture
def chain_world(api, keys):
    orgs = keys["organisations"]
    # Norfolk: a Level 1 group refers to Trobius, which routes to King's Lynn Works with Broadland mentoring.
    body = referral_body(provider_id="trobius")
    norfolk = _post(api, "/referrals", orgs["norfolk-community-links"]["referrer"], body)["id"]
    _post(api, f"/referrals/{norfolk}/route", orgs["trobius"]["provider"], {
        "date": TODAY, "to_provider_id": "kings-lynn-works", "mentor_org_id": "broadland-mentors"})
    deliverer = orgs["kings-lynn-works"]["provider"]
    _post(api, f"/referrals/{norfolk}/accept", deliverer, {"date": TODAY, "agreed_price_pence": 51000,
                                                           "activity": "weekly 1:1 sessions"})
    for step in ("start", "assessment"):
        _post(api, f"/referrals/{norfolk}/{step}", deliverer, {"date": TODAY})
    _post(api, f"/referrals/{norfolk}/action_plan", deliverer, {"date": TODAY, "document_ref": "AP-1"})
    _post(api, f"/referrals/{norfolk}/mentoring_contact", orgs["broadland-mentors"]["provider"], CONTACT)
    # Tees Valley: Darlington's hub takes a referral and hands the person to a spoke.
    tees_body = referral_body(programme_id="tees-valley-routes-to-work", provider_id="darlington-council",
                              support_level="weekly", nino="AB654321C")
    tees = _post(api, "/referrals", orgs["tees-valley-jcp"]["referrer"], tees_body)["id"]
    hub = orgs["darlington-council"]["provider"]
    for step in ("accept", "start", "assessment"):
        _post(api, f"/referrals/{tees}/{step}", hub, {"date": TODAY})
    _post(api, f"/referrals/{tees}/action_plan", hub, {"date": TODAY})
    _post(api, f"/referrals/{tees}/spoke_handover", hub, {"date": TODAY, "spoke_org_id": "skerne-valley-works",
                                                          "handover_ref": "WH-1"})
    return {"norfolk": (norfolk, NORFOLK_PARTS, NORFOLK_WRITES, "trobius"),
            "tees": (tees, TEES_PARTS, TEES_WRITES, "darlington-council")}


def _key(keys, who):
    org, role = CALLERS[who]
    return keys["organisations"][org][role]


def _version(api, keys, rid, holder_of_contract):
    return api.get(f"/referrals/{rid}", keys["organisations"][holder_of_contract]["provider"]).body["version"]


@pytest.mark.parametrize("referral", ["norfolk", "tees"])
def test_each_party_reads_only_what_its_role_allows(api, keys, chain_world, referral):
    rid, parts, _, _ = chain_world[referral]
    for who in CALLERS:
        key, part = _key(keys, who), parts.get(who)
        read = api.get(f"/referrals/{rid}", key)
        trail = api.get(f"/referrals/{rid}/events", key)
        if part is None:
            assert (read.status, trail.status) == (404, 404), who
            answers = [{k: v for k, v in r.body.items() if k != "instance"} for r in (read, trail)]
            assert rid not in json.dumps(answers), who  # (the instance is the path it asked for)
            assert rid not in {r["id"] for r in api.get("/referrals?limit=100", key).body["items"]}, who
            continue
        assert (read.status, trail.status) == (200, 200), (who, read.body, trail.body)
        assert read.body["viewed_as"] == part, who
        shown = read.body["participant"]["personal_data"] == "shown"
        assert shown == (who in PERSONAL_READERS), (who, read.body["participant"])
        assert ("nino" in read.body["participant"]) == shown, who
        finance = keys["organisations"][CALLERS[who][0]].get("finance")
        if finance:  # the same organisation's finance key: the reference only (or nothing, for a referrer group)
            seen = api.get(f"/referrals/{rid}", finance)
            assert seen.status in (200, 404) and "nino" not in seen.body.get("participant", {}), (who, seen.body)
        types = [e["type"] for e in trail.body["items"]]
        if part == "referrer":
            assert not any(f in read.body for f in CASE_FIELDS), (who, sorted(read.body))
            assert {d["rule"] for d in read.body["deadlines"]} <= {"acknowledge", "start"}
            assert "assessment" not in types and "mentoring_contact" not in types
            # The data of events others recorded is not shown; its own referral it sees as it made it.
            assert all(e["data"] == {} for e in trail.body["items"] if e["type"] != "referral")
            assert trail.body["items"][0]["data"]["provider_org_id"] == "trobius"
        elif part in ("mentor", "spoke"):
            assert "agreed_price_pence" not in read.body and "support_level" in read.body, who
            accept = next(e for e in trail.body["items"] if e["type"] == "accept")
            assert "agreed_price_pence" not in accept["data"]
            assert "assessment" in types
        else:
            assert all(f in read.body for f in ("support_level", "contacts", "agreed_price_pence")), who
        if part == "mentor":
            assert [c["org_id"] for c in read.body["contacts"]] == ["broadland-mentors"]
        listed = {r["id"] for r in api.get("/referrals?limit=100", key).body["items"]}
        assert rid in listed, (who, part)


@pytest.mark.parametrize("referral", ["norfolk", "tees"])
def test_each_party_takes_only_the_steps_its_role_allows(api, keys, chain_world, referral):
    rid, parts, writes, contract_holder = chain_world[referral]
    for step, (body, entitled) in writes.items():
        for who in CALLERS:
            if who in entitled:
                continue
            before = _version(api, keys, rid, contract_holder)
            reply = api.post(f"/referrals/{rid}/{step}", _key(keys, who), body)
            expected = 403 if parts.get(who) else 404
            if who == "referrer":
                expected = 403  # a referrer key records no step at all
            assert reply.status == expected, (step, who, reply.status, reply.body)
            assert _version(api, keys, rid, contract_holder) == before, (step, who)
    # The entitled take them (the programme's rules may still refuse one: never 401, 403 or 404).
    for step, (body, entitled) in writes.items():
        for who in sorted(entitled):
            reply = api.post(f"/referrals/{rid}/{step}", _key(keys, who), body)
            assert reply.status not in (401, 403, 404), (step, who, reply.status, reply.body)


def test_only_the_party_a_fee_pays_claims_it(api, keys, chain_world):
    rid = chain_world["norfolk"][0]
    claim = {"referral_id": rid, "fee_id": "level-2-support", "amount_pence": 5000, "event_date": TODAY,
             "evidence_ref": "log", "contact_ids": ["mc1"]}
    expected = {"referrer": 403, "deliverer": 422, "prime": 422, "unrelated": 422, "spoke": 422, "mentor": 201}
    seen = {who: api.post("/claims", _key(keys, who), claim) for who in expected}
    assert {who: r.status for who, r in seen.items()} == expected, {w: r.body for w, r in seen.items()}
    assert seen["deliverer"].body["reason"] == "not_eligible"
    assert seen["unrelated"].body["errors"][0]["rule"] == "party_to_referral"


def test_the_vcs_share_counts_the_referrals_level_1_and_2_groups_make_against_norfolk_s_600_to_700(api, keys):
    orgs = keys["organisations"]
    _post(api, "/referrals", keys["referrer"], referral_body(nino="AB000001A"))  # Jobcentre Plus: not the VCS
    _post(api, "/referrals", orgs["norfolk-community-links"]["referrer"],
          referral_body(provider_id="trobius", nino="AB000002A"))
    _post(api, "/referrals", orgs["broadland-mentors"]["referrer"], referral_body(provider_id="trobius",
                                                                                  nino="AB000003A"))
    for key in (keys["commissioner_finance"], orgs["trobius"]["finance"]):
        report = api.get(f"/payments/supply-chain?programme={NORFOLK}&period={NOV}", key)
        assert report.status == 200, report.body
        assert report.body["vcs_referrals"] == {
            "chain_levels": [1, 2], "referred_by_vcs": 2, "referred": 3, "vcs_share_bp": 6667, "target_min": 600,
            "target_max": 700, "of_participants": 1700}
