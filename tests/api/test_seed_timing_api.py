"""The seeds' time rules over HTTP, each a worked example with the seed's own numbers: minimum delivery, module
extensions, reassessment cadence and late recording.

docs/rules.md lists every programme rule with the rulebook field that holds it and the test that proves it.
"""
from __future__ import annotations

from datetime import date

from tests.conftest import referral_body

NORFOLK = "flexible-routeways-norfolk"
ESF = "esf-community-hub"


def _night(on: str) -> dict:
    from chalicelib.services import nightly

    return nightly.run(date.fromisoformat(on))


def _provider(keys, org_id):
    return keys["organisations"][org_id]["provider"]


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
