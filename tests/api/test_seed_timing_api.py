"""The seeds' time rules over HTTP, each a worked example with the seed's own numbers: minimum delivery, module
extensions, reassessment cadence and late recording.

docs/rules.md lists every programme rule with the rulebook field that holds it and the test that proves it.
"""
from __future__ import annotations

from tests.conftest import provider_key as _provider
from tests.conftest import referral_body
from tests.conftest import run_nightly as _night

NORFOLK = "flexible-routeways-norfolk"
ESF = "esf-community-hub"


def _on(monkeypatch, day: str) -> None:
    monkeypatch.setenv("REFPAY_TODAY", day)


def _post(api, key, rid, step, body, status=200):
    reply = api.post(f"/referrals/{rid}/{step}", key, body)
    assert reply.status == status, reply.body
    return reply.body


def _refer(api, keys, day, programme_id=NORFOLK, provider_id="kings-lynn-works", **kw):
    body = referral_body(programme_id=programme_id, provider_id=provider_id,
                         consent={"given": True, "date": day}, **kw)
    created = api.post("/referrals", keys["referrer"], body)
    assert created.status == 201, created.body
    return created.body["id"]


def _started(api, keys, monkeypatch, day, programme_id=NORFOLK, provider_id="kings-lynn-works", **kw):
    """A referral made, accepted, started and assessed on `day` (recorded that day)."""
    _on(monkeypatch, day)
    rid = _refer(api, keys, day, programme_id, provider_id, **kw)
    key = _provider(keys, provider_id)
    for step in ("accept", "start", "assessment"):
        _post(api, key, rid, step, {"date": day}, 201 if step == "assessment" else 200)
    return rid, key


def _lines(api, key):
    return api.get("/claims?limit=200", key).body["items"]


# ------------------------------------------------------------------ 3. minimum delivery (Norfolk Level 3)

EXIT = {"reason": "completed", "exit_review": {"date": "2026-11-20", "destination": "unemployed"}}
JOB = {"employer_name": "Fenland Foods", "hours_per_week": 20, "weekly_earnings_pence": 24000}


def test_a_level_3_completion_before_its_minimum_week_is_refused(api, keys, monkeypatch):
    """Seed 000: Level 3 'delivery itself will be a minimum of 1 week and a maximum of 26'."""
    rid, key = _started(api, keys, monkeypatch, "2026-11-17")
    _on(monkeypatch, "2026-11-20")
    refused = api.post(f"/referrals/{rid}/exit", key, {**EXIT, "date": "2026-11-20"})
    assert refused.status == 422
    assert [(e["field"], e["rule"]) for e in refused.body["errors"]] == [("date", "min_duration")]
    assert api.get(f"/referrals/{rid}", key).body["status"] == "assessed"  # nothing changed
    _on(monkeypatch, "2026-11-24")  # a week after the start: the minimum is met
    done = _post(api, key, rid, "exit", {**EXIT, "date": "2026-11-24"})
    assert (done["status"], done["exit_reason"]) == ("exited", "completed")


def test_a_level_3_job_before_the_minimum_week_earns_no_outcome_fee(api, keys, monkeypatch):
    """Seed 000: 'roughly 30% up front and 70% upon successful completion of outcomes'; Level 3 is GBP 500-550
    (GBP 525 in the rulebook): GBP 157.50 on the start, GBP 367.50 on a job once the week's minimum is met."""
    rid, key = _started(api, keys, monkeypatch, "2026-11-17")
    _on(monkeypatch, "2026-11-20")
    _post(api, key, rid, "action_plan", {"date": "2026-11-20"}, 201)
    early = _post(api, key, rid, "job_start", {**JOB, "date": "2026-11-20"}, 201)
    assert early["status"] == "in_work"
    assert [(x["milestone"], x["amount_pence"]) for x in _lines(api, key)] == [("start", 15750)]
    events = api.get(f"/referrals/{rid}/events", key).body["items"]
    assert events[-1]["data"]["minimum_delivery_met"] is False
    _on(monkeypatch, "2026-11-24")  # a new job a week after the start earns the 70%
    _post(api, key, rid, "job_start", {**JOB, "date": "2026-11-24", "employer_name": "Norwich Foods"}, 201)
    assert sorted((x["milestone"], x["amount_pence"]) for x in _lines(api, key)) == [
        ("job_start", 36750), ("start", 15750)]


# ------------------------------------------------------------------ 4. Work Choice Module 1 and its extension


def _module_end(api, key, rid):
    detail = api.get(f"/referrals/{rid}", key).body
    return next(d for d in detail["deadlines"] if d["rule"] == "module_max_duration")


def test_work_entry_lasts_6_months_and_the_commissioner_approves_more_time(api, keys, monkeypatch):
    """Seed 002 para 16: Module 1 replaces Work Preparation's 'maximum of 13 weeks' with 'a far more appropriate
    maximum period with safeguards should an individual need more time': 6 months by default; the provider asks for
    more time with a reason, up to 6 more months (`modules[].extension_max`), and the commissioner decides."""
    orgs = keys["organisations"]
    holder = "brightside-supported-employment"
    person = referral_body()["participant"]
    person.update(eligibility={"disabled": True, "right_to_work": True})
    rid, key = _started(api, keys, monkeypatch, "2026-11-24", "work-choice", holder, participant=person)
    end = _module_end(api, key, rid)
    assert (end["due"], end["description"]) == (
        "2027-05-24", "Module 1: Work Entry (intensive support into employment) lasts at most 6 months")
    commissioner = orgs["dwp-commissioning"]["commissioner"]
    seen = api.get(f"/referrals/{rid}", commissioner).body  # the commissioner reads it, without the person
    assert seen["viewed_as"] == "commissioner" and seen["participant"]["personal_data"] == "withheld"
    assert set(seen["participant"]) == {"reference", "personal_data"}
    assert api.get("/referrals?limit=100", commissioner).body["items"] == []  # and lists nothing
    _on(monkeypatch, "2027-05-03")
    ask = {"date": "2027-05-03", "until": "2027-08-24", "reason": "in-work trial with a second employer"}
    too_long = api.post(f"/referrals/{rid}/module_extension_request", key, {**ask, "until": "2027-11-25"})
    assert too_long.status == 422 and too_long.body["errors"][0]["rule"] == "extension_limit"
    assert api.post(f"/referrals/{rid}/module_extension_request", commissioner, ask).status == 403
    asked = _post(api, key, rid, "module_extension_request", ask)
    assert "module_extension_request" in asked["allowed_actions"]
    assert "module_extension_decision" not in asked["allowed_actions"]
    end = _module_end(api, key, rid)
    assert end["due"] == "2027-05-24" and "an extension to 2027-08-24 awaits" in end["description"]
    approve = {"decision": "approve"}
    for who in (key, orgs["pathway-employment-prime"]["provider"], orgs["dwp-commissioning"]["finance"],
                orgs["riverside-disability-works"]["provider"], orgs["dwp-esf"]["commissioner"]):
        assert api.post(f"/referrals/{rid}/module_extension_decision", who, approve).status in (403, 404)
    _on(monkeypatch, "2027-05-05")
    _post(api, commissioner, rid, "module_extension_decision", approve)
    end = _module_end(api, key, rid)
    assert end["due"] == "2027-08-24" and "extended to 2027-08-24 with the commissioner's approval" in end[
        "description"]
    events = api.get(f"/referrals/{rid}/events", key).body["items"]
    assert [(e["type"], e["occurred_on"], e["data"]) for e in events[-2:]] == [
        ("module_extension_request", "2027-05-03",
         {"module_id": "work-entry", "until": "2027-08-24", "reason": "in-work trial with a second employer"}),
        ("module_extension_decision", "2027-05-05", {"decision": "approve", "until": "2027-08-24"})]
    # The nightly run flags Module 1's end on its new date, not the old one.
    _night("2027-05-25")
    assert api.get("/compliance/flags?limit=200&rule=module_max_duration", key).body["items"] == []


# ------------------------------------------------------------------ 5. ESF reassessment cadence


def test_esf_reassessment_every_3_months_is_a_running_deadline_and_flagged_when_missed(api, keys, monkeypatch):
    """Seed 003: 'KWs will complete a reassessment with the participant every REDACTED': every 3 months after the
    last assessment by default (`reassessment_every`)."""
    rid, key = _started(api, keys, monkeypatch, "2026-08-03", ESF, "northampton-community-hub")
    _post(api, key, rid, "action_plan", {"date": "2026-08-03"}, 201)
    detail = api.get(f"/referrals/{rid}", key).body
    assert {"rule": "reassessment", "due": "2026-11-03", "overdue": False,
            "description": "reassessment every 3 months after the last assessment"} in detail["deadlines"]
    _night("2026-11-03")
    flags = api.get("/compliance/flags?limit=200&rule=reassessment", key).body["items"]
    assert flags == []
    _night("2026-11-04")
    flags = api.get("/compliance/flags?limit=200&rule=reassessment", key).body["items"]
    assert [(f["referral_id"], f["due"], f["status"]) for f in flags] == [(rid, "2026-11-03", "open")]
    _on(monkeypatch, "2026-11-04")
    reassessed = _post(api, key, rid, "assessment", {"date": "2026-11-04"}, 201)
    assert {"rule": "reassessment", "due": "2027-02-04", "overdue": False,
            "description": "reassessment every 3 months after the last assessment"} in reassessed["deadlines"]
    flags = api.get("/compliance/flags?limit=200&rule=reassessment", key).body["items"]
    assert [(f["due"], f["status"]) for f in flags] == [("2026-11-03", "resolved")]
    events = api.get(f"/referrals/{rid}/events", key).body["items"]
    assert events[-1]["data"]["kind"] == "reassessment"


# ------------------------------------------------------------------ 7. late recording


def test_steps_recorded_late_run_from_the_day_they_happened_and_show_in_the_trail_and_the_nightly(
        api, keys, monkeypatch):
    """A Norfolk referral made on Monday 2 November 2026 and recorded on Tuesday 24 November, 16 working days
    later (within the default limit of 20): its deadlines and fees run from the dates things happened."""
    key = _provider(keys, "kings-lynn-works")
    body = referral_body(referral_date="2026-11-02", consent={"given": True, "date": "2026-11-02"})
    created = api.post("/referrals", keys["referrer"], body)
    assert created.status == 201, created.body
    rid = created.body["id"]
    assert created.body["referred_on"] == "2026-11-02"
    # Norfolk acknowledges within 2 working days of the referral: due on 4 November, already overdue.
    assert {"rule": "acknowledge", "due": "2026-11-04", "overdue": True,
            "description": "acknowledge the referral within 2 working days of the referral"} in created.body["deadlines"]
    _post(api, key, rid, "accept", {"date": "2026-11-03"})
    started = _post(api, key, rid, "start", {"date": "2026-11-09"})
    assert {"rule": "assessment", "due": "2026-12-07", "overdue": False,
            "description": "initial assessment within 20 working days of the start"} in started["deadlines"]
    # Level 3's 30% is earned on the day of the start (GBP 157.50), not the day it was recorded.
    assert [(x["milestone"], x["amount_pence"], x["event_date"]) for x in _lines(api, key)] == [
        ("start", 15750, "2026-11-09")]
    # Bounded: not in the future, not before the step it follows.
    future = api.post(f"/referrals/{rid}/assessment", key, {"date": "2026-11-25"})
    assert [(e["field"], e["rule"]) for e in future.body["errors"]] == [("date", "not_in_future")]
    before = api.post(f"/referrals/{rid}/assessment", key, {"date": "2026-11-06"})
    assert [(e["field"], e["rule"]) for e in before.body["errors"]] == [("date", "not_before")]
    early = api.post("/referrals", keys["referrer"], referral_body(nino="AB654321C", referral_date="2026-11-25"))
    assert [(e["field"], e["rule"]) for e in early.body["errors"]] == [("referral_date", "not_in_future")]
    # The audit trail: each event is dated the day it happened, recorded today, and marked late.
    events = api.get(f"/referrals/{rid}/events", key).body["items"]
    assert [(e["type"], e["occurred_on"], e["recorded_at"][:10], e["data"]["recorded_late"]) for e in events] == [
        ("referral", "2026-11-02", "2026-11-24", {"working_days": 16, "limit": "20 working days"}),
        ("accept", "2026-11-03", "2026-11-24", {"working_days": 15, "limit": "20 working days"}),
        ("start", "2026-11-09", "2026-11-24", {"working_days": 11, "limit": "20 working days"})]
    on_time = _post(api, key, rid, "assessment", {"date": "2026-11-24"}, 201)
    assert on_time["status"] == "assessed"
    last = api.get(f"/referrals/{rid}/events", key).body["items"][-1]
    assert "recorded_late" not in last["data"]
    # The nightly report counts the provider's late recordings.
    _night("2026-11-24")
    checks = api.get("/compliance/runs/2026-11-24", key).body["checks"]
    assert [(c["measure"], c["actual"]) for c in checks if c["measure"].startswith("recorded_")] == [
        ("recorded_late", 3)]


def test_beyond_20_working_days_a_step_needs_the_commissioners_approval(api, keys, monkeypatch):
    """A referral made on 1 October 2026 and recorded on 24 November, 38 working days later: it is taken but waits for
    DWP's approval before it can be accepted; each step dated beyond the limit needs its own approval first."""
    orgs = keys["organisations"]
    key = _provider(keys, "kings-lynn-works")
    commissioner = orgs["dwp-commissioning"]["commissioner"]
    created = api.post("/referrals", keys["referrer"], referral_body(
        referral_date="2026-10-01", consent={"given": True, "date": "2026-10-01"}))
    assert created.status == 201, created.body
    rid = created.body["id"]
    held = api.post(f"/referrals/{rid}/accept", key, {"date": "2026-10-02"})
    assert held.status == 422
    assert [(e["field"], e["rule"]) for e in held.body["errors"]] == [("referral_date", "late_recording_approval")]
    approval = {"step": "referral", "step_date": "2026-10-01", "reason": "paper referral found in a Level 1 group"}
    assert api.post(f"/referrals/{rid}/approve_late_recording", key, approval).status == 403
    assert api.post(f"/referrals/{rid}/approve_late_recording", orgs["dwp-esf"]["commissioner"],
                    approval).status in (403, 404)
    _post(api, commissioner, rid, "approve_late_recording", approval)
    refused = api.post(f"/referrals/{rid}/accept", key, {"date": "2026-10-02"})
    assert [(e["field"], e["rule"]) for e in refused.body["errors"]] == [("date", "late_recording_limit")]
    within = api.post(f"/referrals/{rid}/approve_late_recording", commissioner,
                      {"step": "accept", "step_date": "2026-11-20", "reason": "x"})
    assert [(e["field"], e["rule"]) for e in within.body["errors"]] == [("step_date", "within_limit")]
    unknown = api.post(f"/referrals/{rid}/approve_late_recording", commissioner,
                       {"step": "close_unstarted", "step_date": "2026-10-02", "reason": "x"})
    assert [(e["field"], e["rule"]) for e in unknown.body["errors"]] == [("step", "one_of")]
    _post(api, commissioner, rid, "approve_late_recording",
          {"step": "accept", "step_date": "2026-10-02", "reason": "acknowledged by phone at the time"})
    _post(api, key, rid, "accept", {"date": "2026-10-02"})
    events = api.get(f"/referrals/{rid}/events", key).body["items"]
    assert [(e["type"], e["occurred_on"]) for e in events] == [
        ("referral", "2026-10-01"), ("approve_late_recording", "2026-11-24"), ("approve_late_recording", "2026-11-24"),
        ("accept", "2026-10-02")]
    assert events[0]["data"]["recorded_late"] == {"working_days": 38, "limit": "20 working days",
                                                  "beyond_limit": True, "awaiting_approval": True}
    assert events[-1]["data"]["recorded_late"] == {"working_days": 37, "limit": "20 working days",
                                                   "beyond_limit": True, "approved_on": "2026-11-24"}
    assert events[1]["actor"]["org_id"] == "dwp-commissioning"
    _night("2026-11-24")
    checks = api.get("/compliance/runs/2026-11-24", key).body["checks"]
    assert [(c["measure"], c["actual"]) for c in checks if c["measure"].startswith("recorded_")] == [
        ("recorded_late", 2), ("recorded_beyond_limit", 2)]
