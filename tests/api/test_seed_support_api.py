"""The seeds' support rules over HTTP, each a worked example with the seed's own numbers: the trailblazer's checks
at referral (seed 004), ESF's eligibility decisions and leaver tracking (seed 003), and Tees Valley's flexible fund
and employer incentives (seed 001). docs/rules.md names each test beside the rule it proves."""
from __future__ import annotations

import pytest

from tests.conftest import provider_key as _provider
from tests.conftest import referral_body
from tests.conftest import run_nightly as _night

LSE = "local-supported-employment"
ESF = "esf-community-hub"
TEES = "tees-valley-routes-to-work"


# ------------------------------------------------------------------ seed 004: checked at referral


def _trailblazer(**eligibility):
    body = referral_body(programme_id=LSE, provider_id="leeds-city-council")
    body["participant"]["eligibility"] = {"seeking_work": True, "right_to_work": True, "learning_disability": True,
                                          **eligibility}
    return body


@pytest.mark.parametrize(("stated", "field", "rule"), [
    ({"on_other_dwp_programme": False}, "participant.eligibility.benefit_entitlement", "must_state"),
    ({"benefit_entitlement": True}, "participant.eligibility.on_other_dwp_programme", "must_state"),
    ({"benefit_entitlement": False, "on_other_dwp_programme": False},
     "participant.eligibility.benefit_entitlement", "required"),
    ({"benefit_entitlement": True, "on_other_dwp_programme": True},
     "participant.eligibility.on_other_dwp_programme", "excluded"),
])
def test_the_trailblazer_refuses_a_referral_without_its_benefit_and_dwp_programme_checks(api, keys, stated, field,
                                                                                         rule):
    """Seed 004: 'other conditions such as their benefit entitlement and not being on any other DWP programme'."""
    refused = api.post("/referrals", keys["referrer"], _trailblazer(**stated))
    assert refused.status == 422 and refused.body["reason"] == "ineligible", refused.body
    assert [(e["field"], e["rule"]) for e in refused.body["errors"]] == [(field, rule)]
    assert api.get("/referrals?view=referrer", keys["referrer"]).body["items"] == []  # nothing written


def test_the_trailblazer_records_both_checks_on_the_referral_and_still_reports_its_two_thirds_cohort(api, keys):
    """Seed 004: the checks are kept with the referral; 'at least two-thirds people with a learning disability
    and/or autism' is still reported (tests/api/test_nightly.py shows the nightly measure itself)."""
    created = api.post("/referrals", keys["referrer"],
                       _trailblazer(benefit_entitlement=True, on_other_dwp_programme=False))
    assert created.status == 201, created.body
    events = api.get(f"/referrals/{created.body['id']}/events", keys["referrer"]).body["items"]
    assert events[0]["type"] == "referral"
    assert events[0]["data"]["checks"] == {"benefit_entitlement": True, "on_other_dwp_programme": False}
    leeds = _provider(keys, "leeds-city-council")
    for step in ("accept", "start"):
        assert api.post(f"/referrals/{created.body['id']}/{step}", leeds, {"date": "2026-11-24"}).status == 200
    _night("2026-11-25")
    checks = {c["measure"]: c for c in api.get("/compliance/runs/2026-11-25", leeds).body["checks"]}
    cohort = checks["cohort_learning_disability_or_autism"]
    assert (cohort["actual"], cohort["base"], cohort["target_pct"], cohort["met"]) == (1, 1, 66.67, True)


# ------------------------------------------------------------------ seed 003: the ineligible told and signposted


def _on(monkeypatch, day: str) -> None:
    monkeypatch.setenv("REFPAY_TODAY", day)


def _esf_referral(api, keys, monkeypatch, day: str, nino: str = "AB123456C") -> tuple[str, str]:
    _on(monkeypatch, day)
    body = referral_body(programme_id=ESF, provider_id="northampton-community-hub", nino=nino,
                         consent={"given": True, "date": day})
    created = api.post("/referrals", keys["referrer"], body)
    assert created.status == 201, created.body
    return created.body["id"], _provider(keys, "northampton-community-hub")


def test_esf_tells_an_ineligible_person_why_and_signposts_them_within_10_working_days(api, keys, monkeypatch):
    """Seed 003: 'We will notify people who are ineligible by DEAT within REDACTED and signpost them to alternative
    provision' (10 working days from the referral in the rulebook: Monday 2 November 2026 -> Monday 16 November)."""
    rid, hub = _esf_referral(api, keys, monkeypatch, "2026-11-02")
    shown = api.get(f"/referrals/{rid}", hub).body
    assert {"eligible", "ineligible"} <= set(shown["allowed_actions"])
    assert {"rule": "eligibility_decision", "due": "2026-11-16"} in [
        {k: d[k] for k in ("rule", "due")} for d in shown["deadlines"]]
    # A plain rejection as ineligible is refused: the programme's own step names the reason and the signposting.
    plain = api.post(f"/referrals/{rid}/reject", hub, {"date": "2026-11-02", "reason": "ineligible"})
    assert plain.status == 422 and plain.body["errors"][0]["rule"] == "ineligible_step"
    missing = api.post(f"/referrals/{rid}/ineligible", hub, {"date": "2026-11-02", "reason": "in_employment"})
    assert missing.status == 422 and missing.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in missing.body["errors"]] == ["signposted_to"]
    _on(monkeypatch, "2026-11-10")
    told = api.post(f"/referrals/{rid}/ineligible", hub,
                    {"date": "2026-11-10", "reason": "in_employment", "signposted_to": "National Careers Service"},
                    headers={"Idempotency-Key": "ineligible-1"})
    assert told.status == 200, told.body
    assert (told.body["status"], told.body["status_reason"], told.body["closed_on"]) == (
        "rejected", "ineligible", "2026-11-10")
    assert told.body["eligibility_decision"] == {
        "on": "2026-11-10", "outcome": "ineligible", "due": "2026-11-16", "on_time": True,
        "reason": "in_employment", "signposted_to": "National Careers Service"}
    again = api.post(f"/referrals/{rid}/ineligible", hub,
                     {"date": "2026-11-10", "reason": "in_employment", "signposted_to": "National Careers Service"},
                     headers={"Idempotency-Key": "ineligible-1"})
    assert again.status == 200 and again.body["version"] == told.body["version"]  # replayed, not taken twice
    events = api.get(f"/referrals/{rid}/events", hub).body["items"]
    assert [e["type"] for e in events] == ["referral", "ineligible"]
    assert events[-1]["data"]["signposted_to"] == "National Careers Service"


def test_esf_flags_an_eligibility_decision_not_made_within_10_working_days(api, keys, monkeypatch):
    rid, hub = _esf_referral(api, keys, monkeypatch, "2026-11-02")
    decided, _ = _esf_referral(api, keys, monkeypatch, "2026-11-02", nino="AB123457C")
    _on(monkeypatch, "2026-11-04")
    assert api.post(f"/referrals/{decided}/eligible", hub, {"date": "2026-11-04"}).status == 200
    _on(monkeypatch, "2026-11-17")
    _night("2026-11-17")
    flags = api.get("/compliance/flags", hub).body["items"]
    assert [(f["referral_id"], f["rule"], f["due"]) for f in flags if f["rule"] == "eligibility_decision"] == [
        (rid, "eligibility_decision", "2026-11-16")]
    late = api.post(f"/referrals/{rid}/ineligible", hub,
                    {"date": "2026-11-17", "reason": "right_to_work", "signposted_to": "Citizens Advice"})
    assert late.status == 200 and late.body["eligibility_decision"]["on_time"] is False
    answered = [f for f in api.get("/compliance/flags", hub).body["items"]
                if f["referral_id"] == rid and f["rule"] == "eligibility_decision"]
    assert [(f["rule"], f["status"], f["resolved_on"]) for f in answered] == [
        ("eligibility_decision", "resolved", "2026-11-17")]


# ------------------------------------------------------------------ seed 003: leavers not in work are tracked


def _used(api, key) -> int:
    rows = {a["org_id"]: a for a in api.get(f"/programmes/{ESF}", key).body["allocations"]}
    return rows["northampton-community-hub"]["used"]


def _left(api, keys, monkeypatch, reason: str, destination: str):
    """An ESF participant referred, started and assessed on 1 June 2026, leaving on 1 July with `destination`."""
    rid, hub = _esf_referral(api, keys, monkeypatch, "2026-06-01")
    for step, code in (("accept", 200), ("start", 200), ("assessment", 201)):
        assert api.post(f"/referrals/{rid}/{step}", hub, {"date": "2026-06-01"}).status == code
    _on(monkeypatch, "2026-07-01")
    left = api.post(f"/referrals/{rid}/exit", hub, {"date": "2026-07-01", "reason": reason, "exit_review": {
        "date": "2026-07-01", "destination": destination}})
    assert left.status == 200, left.body
    return rid, hub, left


def test_esf_tracks_a_leaver_not_in_work_monthly_for_6_months_and_flags_a_missed_contact(api, keys, monkeypatch):
    """Seed 003: 'All leavers not in work will be tracked for REDACTED to monitor if they find work' (a contact every
    month for 6 months after the exit in the rulebook)."""
    rid, hub, left = _left(api, keys, monkeypatch, "withdrew", "unemployed")
    assert left.body["leaver"] == {"exited_on": "2026-07-01", "destination": "unemployed", "contacts": 0,
                                   "tracked_until": "2027-01-01", "last_contact_on": None, "outcome": None}
    assert "follow_up" in left.body["allowed_actions"]
    used_at_exit = _used(api, hub)
    assert [(d["rule"], d["due"]) for d in left.body["deadlines"]] == [("leaver_follow_up", "2026-08-01")]
    _on(monkeypatch, "2026-08-03")
    _night("2026-08-02")
    flags = [f for f in api.get("/compliance/flags", hub).body["items"] if f["referral_id"] == rid]
    assert [(f["rule"], f["due"]) for f in flags] == [("leaver_follow_up", "2026-08-01")]
    contact = api.post(f"/referrals/{rid}/follow_up", hub, {"date": "2026-08-03", "outcome": "not_in_work"})
    assert contact.status == 201, contact.body
    assert contact.body["leaver"]["contacts"] == 1 and contact.body["leaver"]["last_contact_on"] == "2026-08-03"
    # Each contact is due a month further from the exit: a late one does not move the next.
    assert [(d["rule"], d["due"]) for d in contact.body["deadlines"]] == [("leaver_follow_up", "2026-09-01")]
    _on(monkeypatch, "2026-09-02")
    found = api.post(f"/referrals/{rid}/follow_up", hub, {"date": "2026-09-02", "outcome": "in_work"})
    assert found.status == 201 and found.body["leaver"]["outcome"] == "in_work"
    assert found.body["deadlines"] == [] and "follow_up" not in found.body["allowed_actions"]
    over = api.post(f"/referrals/{rid}/follow_up", hub, {"date": "2026-09-02", "outcome": "in_work"})
    assert over.status == 422 and over.body["errors"][0]["rule"] == "tracked_leaver"
    assert _used(api, hub) == used_at_exit == 1  # the exit settled the place once: a follow-up never again


def test_esf_does_not_track_a_leaver_in_work(api, keys, monkeypatch):
    rid, hub, left = _left(api, keys, monkeypatch, "completed", "employment")
    assert left.body["leaver"] is None and left.body["deadlines"] == []
    refused = api.post(f"/referrals/{rid}/follow_up", hub, {"date": "2026-07-02", "outcome": "in_work"})
    assert refused.status == 422 and refused.body["errors"][0]["field"] == "referral_id"
