"""POST /referrals: every rejection rule answers a problem naming the rule, and writes nothing."""
from __future__ import annotations

import pytest

from tests.conftest import referral_body


def _count(api, key):
    return len(api.get("/referrals?limit=100", key).body["items"])


def test_referral_created_with_location_and_rules_applied(api, keys):
    reply = api.post("/referrals", keys["referrer"], referral_body(nino="ab 12 34 56 c"))
    assert reply.status == 201
    assert reply.headers["location"] == f"/referrals/{reply.body['id']}"
    assert reply.body["participant"]["nino"] == "AB123456C"
    assert reply.body["participant"]["postcode"] == "NR1 3QU"
    assert reply.body["referred_on"] == "2026-11-24"
    assert api.get(reply.headers["location"], keys["referrer"]).body["id"] == reply.body["id"]


def test_area_resolves_to_the_provider_serving_it(api, keys):
    key = keys["organisations"]["tees-valley-jcp"]["referrer"]
    body = referral_body(programme_id="tees-valley-routes-to-work", provider_id=None, area="stockton",
                         support_level="weekly")
    reply = api.post("/referrals", key, body)
    assert reply.status == 201 and reply.body["provider_org_id"] == "stockton-on-tees-council"
    unknown = api.post("/referrals", key, referral_body(programme_id="tees-valley-routes-to-work", provider_id=None,
                                                        area="york", support_level="weekly", nino="AB000009A"))
    assert unknown.status == 422 and unknown.body["errors"][0] == {
        "field": "area", "rule": "served_area", "message": "no provider of tees-valley-routes-to-work serves 'york'"}


@pytest.mark.parametrize("today", ["2026-07-31", "2027-04-01"])
def test_outside_referral_window(api, keys, monkeypatch, today):
    monkeypatch.setenv("REFPAY_TODAY", today)
    body = referral_body(programme_id="local-supported-employment", provider_id="leeds-city-council",
                         support_level=None, consent={"given": True, "date": "2026-07-01"})
    body["support_level"] = "standard"
    reply = api.post("/referrals", keys["referrer"], body)
    assert reply.status == 422
    assert reply.body["reason"] == "outside_referral_window"
    assert reply.body["errors"][0]["field"] == "programme_id"
    assert reply.headers["content-type"] == "application/problem+json"
    assert _count(api, keys["referrer"]) == 0


def test_allocation_full(api, keys):
    from chalicelib.store.models import AllocationItem

    AllocationItem(programme_id="flexible-routeways-norfolk", org_id="kings-lynn-works", used=300).save()
    reply = api.post("/referrals", keys["referrer"], referral_body())
    assert reply.status == 422 and reply.body["reason"] == "allocation_full"
    assert _count(api, keys["referrer"]) == 0
    # Nothing else was written either: the person was not claimed, so another provider can take them.
    other = api.post("/referrals", keys["referrer"], referral_body(provider_id="great-yarmouth-works"))
    assert other.status == 201


def test_programme_total_capacity_full(api, keys):
    from chalicelib.store.models import AllocationItem

    AllocationItem(programme_id="flexible-routeways-norfolk", org_id="*", used=1700).save()
    reply = api.post("/referrals", keys["referrer"], referral_body())
    assert reply.status == 422 and reply.body["reason"] == "allocation_full"


@pytest.mark.parametrize("change, field, rule", [
    ({"date_of_birth": "2012-01-01"}, "participant.date_of_birth", "min_age"),
    ({"eligibility": {"seeking_work": False, "right_to_work": True}}, "participant.eligibility.seeking_work", "required"),
    ({"eligibility": {"seeking_work": True, "right_to_work": True, "on_other_dwp_programme": True}},
     "participant.eligibility.on_other_dwp_programme", "excluded"),
])
def test_ineligible(api, keys, change, field, rule):
    body = referral_body()
    body["participant"].update(change)
    reply = api.post("/referrals", keys["referrer"], body)
    assert reply.status == 422 and reply.body["reason"] == "ineligible"
    assert {"field": field, "rule": rule} == {k: reply.body["errors"][0][k] for k in ("field", "rule")}
    assert _count(api, keys["referrer"]) == 0


def test_provider_minimum_age_redcar(api, keys):
    key = keys["organisations"]["tees-valley-jcp"]["referrer"]
    body = referral_body(programme_id="tees-valley-routes-to-work", provider_id="redcar-cleveland-council",
                         support_level="weekly")
    body["participant"]["date_of_birth"] = "1996-11-25"  # 29 today
    reply = api.post("/referrals", key, body)
    assert reply.status == 422 and reply.body["errors"][0]["rule"] == "min_age"
    body["participant"]["date_of_birth"] = "1996-11-24"  # 30 today
    assert api.post("/referrals", key, body).status == 201


def test_trailblazer_excludes_secondary_mental_health_services(api, keys):
    body = referral_body(programme_id="local-supported-employment", provider_id="leeds-city-council",
                         support_level="standard")
    body["participant"]["eligibility"] = {"learning_disability": True, "secondary_mental_health_services": True}
    reply = api.post("/referrals", keys["referrer"], body)
    assert reply.status == 422
    assert "participant.eligibility.secondary_mental_health_services" in [e["field"] for e in reply.body["errors"]]


def test_already_active_on_this_or_another_programme(api, keys):
    assert api.post("/referrals", keys["referrer"], referral_body()).status == 201
    same = api.post("/referrals", keys["referrer"], referral_body(provider_id="great-yarmouth-works"))
    assert same.status == 422 and same.body["reason"] == "already_active"
    other_referrer = keys["organisations"]["tees-valley-jcp"]["referrer"]
    other = api.post("/referrals", other_referrer, referral_body(
        programme_id="tees-valley-routes-to-work", provider_id="hartlepool-council", support_level="weekly",
        nino="AB 123456 c"))
    assert other.status == 422 and other.body["reason"] == "already_active"
    # Which programme holds them is not revealed to another referrer.
    assert "flexible-routeways-norfolk" not in str(other.body)
    assert _count(api, other_referrer) == 0


@pytest.mark.parametrize("change, field, rule", [
    ({"provider_id": "middlesbrough-council"}, "provider_id", "delivers_programme"),
    ({"programme_id": "no-such-programme"}, "programme_id", "known_programme"),
    ({"support_level": "platinum"}, "support_level", "one_of"),
    ({"module_id": "work-entry"}, "module_id", "not_modular"),
    ({"consent": {"given": False, "date": "2026-11-20"}}, "consent.given", "required"),
    ({"consent": {"given": True, "date": "2026-12-20"}}, "consent.date", "not_in_future"),
    ({"provider_id": None}, "provider_id", "required"),
])
def test_invalid_referral_fields(api, keys, change, field, rule):
    body = referral_body(**change)
    reply = api.post("/referrals", keys["referrer"], body)
    assert reply.status == 422, reply.body
    assert (reply.body["errors"][0]["field"], reply.body["errors"][0]["rule"]) == (field, rule)
    assert _count(api, keys["referrer"]) == 0


@pytest.mark.parametrize("participant_change, field, rule", [
    ({"nino": "QQ123456Z"}, "participant.nino", "format"),
    ({"nino": "DA123456A"}, "participant.nino", "format"),
    ({"nino": "AB123456C" + " " * 10_000}, "participant.nino", "length"),  # valid once its spaces are gone
    ({"postcode": "NOT A CODE"}, "participant.postcode", "format"),
    ({"date_of_birth": "2027-01-01"}, "participant.date_of_birth", "in_past"),
    ({"date_of_birth": "1800-01-01"}, "participant.date_of_birth", "range"),
    ({"date_of_birth": "17/05/1990"}, "participant.date_of_birth", "type"),
    ({"given_name": ""}, "participant.given_name", "length"),
    ({"given_name": "x" * 101}, "participant.given_name", "length"),
    ({"given_name": "Ada\u202eecalevol"}, "participant.given_name", "plain_text"),
    ({"family_name": "Love\x00lace"}, "participant.family_name", "plain_text"),
    ({"date_of_birth": "1990-W20-4"}, "participant.date_of_birth", "type"),
    ({"date_of_birth": "19900517"}, "participant.date_of_birth", "type"),
    ({"eligibility": {"seeking_work": "yes please"}}, "participant.eligibility.seeking_work", "type"),
    ({"eligibility": {"is_wizard": True}}, "participant.eligibility.is_wizard", "unknown_field"),
    ({"favourite_colour": "blue"}, "participant.favourite_colour", "unknown_field"),
])
def test_invalid_participant(api, keys, participant_change, field, rule):
    body = referral_body()
    body["participant"].update(participant_change)
    reply = api.post("/referrals", keys["referrer"], body)
    assert reply.status == 422, reply.body
    assert (field, rule) in [(e["field"], e["rule"]) for e in reply.body["errors"]]
    # The error never echoes the participant's personal data.
    text = str(reply.body)
    assert "Lovelace" not in text and "1990-05-17" not in text
