"""The seeds' support rules over HTTP, each a worked example with the seed's own numbers: the trailblazer's checks
at referral (seed 004), ESF's eligibility decisions and leaver tracking (seed 003), and Tees Valley's flexible fund
and employer incentives (seed 001). docs/rules.md names each test beside the rule it proves."""
from __future__ import annotations

from datetime import date

import pytest

from tests.conftest import referral_body

LSE = "local-supported-employment"
ESF = "esf-community-hub"
TEES = "tees-valley-routes-to-work"


def _night(on: str) -> dict:
    from chalicelib.services import nightly

    return nightly.run(date.fromisoformat(on))


def _provider(keys, org_id):
    return keys["organisations"][org_id]["provider"]


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
