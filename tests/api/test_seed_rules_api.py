"""The seeds' rules over HTTP, each a worked example with the seed's own numbers, as a new user would try them.

docs/rules.md lists every programme rule with the rulebook field that holds it and the test that proves it.
"""
from __future__ import annotations

from datetime import date

from tests.conftest import referral_body

TEES = "tees-valley-routes-to-work"
LSE = "local-supported-employment"


def _tees_referrer(keys):
    return keys["organisations"]["tees-valley-jcp"]["referrer"]


def _provider(keys, org_id):
    return keys["organisations"][org_id]["provider"]


def _night(on: str) -> dict:
    from chalicelib.services import nightly

    return nightly.run(date.fromisoformat(on))


# ------------------------------------------------------------------ 1. minimums are targets, not caps


def test_darlington_takes_its_326th_referral_and_reports_progress_against_its_minimum_of_325(api, keys):
    """Seed 001: Darlington 'will deliver their service to a minimum of 325 individuals'."""
    from chalicelib.store.models import AllocationItem, ProgrammeStatsItem

    AllocationItem(programme_id=TEES, org_id="darlington-council", used=325).save()
    ProgrammeStatsItem(programme_id=TEES, org_id="stats#darlington-council", started=325).save()
    body = referral_body(programme_id=TEES, provider_id="darlington-council", support_level="weekly")
    created = api.post("/referrals", _tees_referrer(keys), body)
    assert created.status == 201, created.body  # the 326th: a minimum is not a cap
    darlington = _provider(keys, "darlington-council")
    for step in ("accept", "start"):
        assert api.post(f"/referrals/{created.body['id']}/{step}", darlington, {"date": "2026-11-24"}).status == 200
    programme = api.get(f"/programmes/{TEES}", darlington).body
    rows = {a["org_id"]: a for a in programme["allocations"]}
    assert (rows["darlington-council"]["allocation"], rows["darlington-council"]["used"]) == (None, 326)
    assert rows["darlington-council"]["minimum"] == {
        "minimum": 325, "started": 326, "pct_of_minimum": 100.3, "indicative_share_pct": 13.0,
        "started_share_pct": 100.0, "expected_by_now": 206, "behind_pro_rata": False}
    # 24 November 2026 is day 693 of the 1,095-day window: Hartlepool, with no starts, is behind its path.
    hartlepool = rows["hartlepool-council"]["minimum"]
    assert (hartlepool["minimum"], hartlepool["started"], hartlepool["expected_by_now"]) == (400, 0, 254)
    assert hartlepool["behind_pro_rata"] is True and hartlepool["indicative_share_pct"] == 16.0
    # The nightly report flags an authority behind its pro-rata path (met: false) and shows each its own.
    _night("2026-11-24")
    mine = api.get("/compliance/runs/2026-11-24", darlington).body["checks"]
    progress = next(c for c in mine if c["measure"] == "minimum_progress")
    assert (progress["org_id"], progress["actual"], progress["base"], progress["met"]) == (
        "darlington-council", 326, 325, True)
    theirs = api.get("/compliance/runs/2026-11-24", _provider(keys, "hartlepool-council")).body["checks"]
    assert [(c["measure"], c["actual"], c["base"], c["met"]) for c in theirs] == [
        ("minimum_progress", 0, 400, False)]


def test_a_trailblazer_authority_stops_at_80_and_reports_against_30(api, keys):
    """Seed 004: each local authority 'can choose to deliver support to an additional 30 - 80 jobseekers': 30 is a
    target; the number an authority chose, at most 80, a cap (Leeds chose 80)."""
    from chalicelib.store.models import AllocationItem

    AllocationItem(programme_id=LSE, org_id="leeds-city-council", used=80).save()
    body = referral_body(programme_id=LSE, provider_id="leeds-city-council")
    refused = api.post("/referrals", keys["referrer"], body)
    assert refused.status == 422 and refused.body["reason"] == "allocation_full"
    assert refused.body["errors"][0] == {"field": "provider_id", "rule": "allocation", "message": "no places left"}
    bristol = api.post("/referrals", keys["referrer"], referral_body(programme_id=LSE,
                                                                     provider_id="bristol-city-council"))
    assert bristol.status == 201
    rows = {a["org_id"]: a for a in api.get(f"/programmes/{LSE}", keys["referrer"]).body["allocations"]}
    assert (rows["leeds-city-council"]["allocation"], rows["leeds-city-council"]["minimum"]["minimum"]) == (80, 30)


# ------------------------------------------------------------------ 2. each authority serves its own residents


def test_redcar_and_cleveland_refuses_a_darlington_postcode(api, keys):
    """Seed 001: Redcar & Cleveland 'will work with residents of the Borough who are 30+'."""
    body = referral_body(programme_id=TEES, provider_id="redcar-cleveland-council", support_level="weekly")
    body["participant"].update({"postcode": "DL3 6AA", "date_of_birth": "1980-01-01"})
    reply = api.post("/referrals", _tees_referrer(keys), body)
    assert reply.status == 422 and reply.body["reason"] == "not_resident"
    assert [(e["field"], e["rule"]) for e in reply.body["errors"]] == [("participant.postcode", "residence")]
    assert "DL3" not in str(reply.body)  # the postcode is not echoed
    body["participant"]["postcode"] = "TS10 1AA"  # Redcar
    assert api.post("/referrals", _tees_referrer(keys), body).status == 201


def test_a_straddling_district_is_taken_with_the_authority_stated(api, keys):
    """TS17 (Thornaby): 1,025 postcode units in Stockton-on-Tees, 6 in Middlesbrough (OS Code-Point Open)."""
    body = referral_body(programme_id=TEES, provider_id="stockton-on-tees-council", support_level="weekly")
    body["participant"]["postcode"] = "TS17 6AB"
    missing = api.post("/referrals", _tees_referrer(keys), body)
    assert missing.status == 422
    assert [(e["field"], e["rule"]) for e in missing.body["errors"]] == [
        ("residence_authority", "required_for_straddling_district")]
    elsewhere = api.post("/referrals", _tees_referrer(keys), {**body, "residence_authority": "E06000002"})
    assert elsewhere.status == 422 and elsewhere.body["reason"] == "not_resident"
    bad = api.post("/referrals", _tees_referrer(keys), {**body, "residence_authority": "Stockton"})
    assert bad.status == 422 and bad.body["errors"][0]["rule"] == "format"
    taken = api.post("/referrals", _tees_referrer(keys), {**body, "residence_authority": "E06000004"})
    assert taken.status == 201, taken.body
    events = api.get(f"/referrals/{taken.body['id']}/events", _tees_referrer(keys)).body["items"]
    assert events[0]["data"]["residence_authority"] == "E06000004"
