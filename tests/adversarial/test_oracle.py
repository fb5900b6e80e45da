"""No oracle: a referrer cannot use POST /referrals to learn who is on which programme.

A referral for a person already active somewhere is refused with one problem, the same whichever programme,
provider or referrer holds them, and only once the request holds a valid consent record (the programme's consent
rule): without one, the consent error comes first, the same for a person held and for a stranger. Refusals that
answer from what is held about the person are counted per API key and day; the day's unusual count raises a
compliance flag for the key's organisation, which only that organisation reads.
"""
from __future__ import annotations

import json

import pytest

from chalicelib.domain.compliance import PERSON_HELD_ATTEMPTS, UNUSUAL_PERSON_HELD_ATTEMPTS_PER_DAY
from tests.conftest import referral_body

WORK_CHOICE = {"programme_id": "work-choice", "provider_id": "brightside-supported-employment"}
NORFOLK = {"programme_id": "flexible-routeways-norfolk", "provider_id": "kings-lynn-works"}
TEES = {"programme_id": "tees-valley-routes-to-work", "provider_id": "hartlepool-council", "support_level": "weekly"}
ON_WORK_CHOICE, ON_NORFOLK, NOBODY = "AB123456C", "JK654321A", "LM112233B"
# Everything that would say where a person is: programmes, providers, primes, referrers (ids and names).
WHERE = ("work-choice", "Work Choice", "brightside", "pathway", "disab", "flexible-routeways-norfolk", "Norfolk",
         "kings-lynn", "trobius", "jobcentre-plus-norwich", "Norwich", "remploy")


def _body(target: dict, nino: str, **overrides) -> dict:
    body = referral_body(nino=nino, **{**target, **overrides})
    if target is WORK_CHOICE:
        body["participant"]["eligibility"] = {"disabled": True, "right_to_work": True}
    return body


def _problem(reply) -> dict:
    """The problem as a caller compares it: without the per-request ids."""
    return {k: v for k, v in reply.body.items() if k not in ("instance", "request_id")}


@pytest.fixture
def held(api, keys):
    """Two people active on two programmes (one for disabled people), referred by Norwich's jobcentre."""
    norwich = keys["organisations"]["jobcentre-plus-norwich"]["referrer"]
    for target, nino in ((WORK_CHOICE, ON_WORK_CHOICE), (NORFOLK, ON_NORFOLK)):
        reply = api.post("/referrals", norwich, _body(target, nino))
        assert reply.status == 201, reply.body
    return keys


def _flags(api, key) -> list[dict]:
    reply = api.get("/compliance/flags?limit=200", key)
    assert reply.status == 200, reply.body
    return [f for f in reply.body["items"] if f["rule"] == PERSON_HELD_ATTEMPTS]


def _key_id(key: str) -> str:
    from chalicelib.services.auth import authenticate

    principal = authenticate(f"Bearer {key}")
    assert principal is not None
    return principal.key_id


def test_another_organisation_learns_nothing_of_programme_or_provider(api, held):
    tees = held["organisations"]["tees-valley-jcp"]["referrer"]
    on_work_choice = api.post("/referrals", tees, _body(TEES, ON_WORK_CHOICE))
    on_norfolk = api.post("/referrals", tees, _body(TEES, ON_NORFOLK))
    for reply in (on_work_choice, on_norfolk):
        assert reply.status == 422 and reply.body["reason"] == "already_active", reply.body
        assert reply.headers["content-type"] == "application/problem+json"
        text = json.dumps(reply.body) + json.dumps(reply.headers)
        assert not [word for word in WHERE if word.lower() in text.lower()], text
    # The same problem, word for word and header for header, whichever programme the person is on.
    assert _problem(on_work_choice) == _problem(on_norfolk)
    assert set(on_work_choice.headers) == set(on_norfolk.headers)
    # ...and whichever programme the request names (theirs, or another).
    into_work_choice = api.post("/referrals", tees, _body(WORK_CHOICE, ON_WORK_CHOICE))
    into_norfolk = api.post("/referrals", tees, _body(WORK_CHOICE, ON_NORFOLK))
    assert _problem(into_work_choice) == _problem(into_norfolk) == _problem(on_norfolk)


@pytest.mark.parametrize("consent, field, rule", [
    ({"given": False, "date": "2026-11-20"}, "consent.given", "required"),
    ({"given": True, "date": "2024-01-02"}, "consent.date", "recent"),
    ({"given": True, "date": "2026-12-01"}, "consent.date", "not_in_future"),
])
def test_without_a_valid_consent_record_the_consent_error_comes_first(api, held, consent, field, rule):
    tees = held["organisations"]["tees-valley-jcp"]["referrer"]
    replies = [api.post("/referrals", tees, _body(TEES, nino, consent=consent))
               for nino in (ON_WORK_CHOICE, ON_NORFOLK, NOBODY)]
    for reply in replies:
        assert reply.status == 422, reply.body
        assert [(e["field"], e["rule"]) for e in reply.body["errors"]] == [(field, rule)]
        assert "reason" not in reply.body
    # A person held and a stranger get the same answer: nothing is learnt before consent is shown.
    assert _problem(replies[0]) == _problem(replies[1]) == _problem(replies[2])
    # And these are not counted against the key.
    for _ in range(UNUSUAL_PERSON_HELD_ATTEMPTS_PER_DAY):
        api.post("/referrals", tees, _body(TEES, ON_NORFOLK, consent=consent))
    assert _flags(api, tees) == []


def test_an_unusual_rate_of_person_held_refusals_flags_the_key_s_organisation(api, held):
    from chalicelib.services.admin import create_api_key

    orgs = held["organisations"]
    tees = orgs["tees-valley-jcp"]["referrer"]
    for _ in range(UNUSUAL_PERSON_HELD_ATTEMPTS_PER_DAY - 1):
        assert api.post("/referrals", tees, _body(TEES, ON_WORK_CHOICE)).body["reason"] == "already_active"
    assert _flags(api, tees) == []  # a few refusals are ordinary
    assert api.post("/referrals", tees, _body(TEES, ON_NORFOLK)).body["reason"] == "already_active"
    [flag] = _flags(api, tees)
    assert flag["key_id"] == _key_id(tees) and flag["status"] == "open" and flag["raised_on"] == "2026-11-24"
    assert flag["referral_id"] is None and flag["programme_id"] is None
    assert not [word for word in WHERE if word.lower() in json.dumps(flag).lower()], flag
    # Raised once a day, however many more follow.
    for _ in range(3):
        api.post("/referrals", tees, _body(TEES, ON_NORFOLK))
    assert [f["id"] for f in _flags(api, tees)] == [flag["id"]]
    # Only the key's organisation sees it: not the organisation holding the people, nor their providers.
    for org, role in (("jobcentre-plus-norwich", "referrer"), ("trobius", "provider"), ("trobius", "finance"),
                      ("pathway-employment-prime", "provider"), ("hartlepool-council", "provider"),
                      ("citizens-advice-tees", "referrer")):
        assert _flags(api, orgs[org][role]) == [], (org, role)
    # Counted per key: another key of the same organisation starts from nothing.
    other, _ = create_api_key("tees-valley-jcp", ["referrer"], "second referrer key")
    for _ in range(UNUSUAL_PERSON_HELD_ATTEMPTS_PER_DAY - 1):
        api.post("/referrals", other, _body(TEES, ON_WORK_CHOICE))
    assert [f["key_id"] for f in _flags(api, tees)] == [_key_id(tees)]
    api.post("/referrals", other, _body(TEES, ON_WORK_CHOICE))
    assert sorted(f["key_id"] for f in _flags(api, tees)) == sorted([_key_id(tees), _key_id(other)])


def test_refusals_that_come_from_the_request_alone_are_not_counted(api, held):
    tees = held["organisations"]["tees-valley-jcp"]["referrer"]
    for _ in range(UNUSUAL_PERSON_HELD_ATTEMPTS_PER_DAY + 2):
        reply = api.post("/referrals", tees, _body(TEES, ON_NORFOLK, support_level="platinum"))
        assert reply.status == 422 and reply.body["errors"][0]["field"] == "support_level"
    assert _flags(api, tees) == []


def test_a_refused_referral_changes_nothing_but_the_count(api, held):
    from chalicelib.store.models import FlagItem, ParticipantItem, ReferralItem

    tees = held["organisations"]["tees-valley-jcp"]["referrer"]
    before = sorted(json.dumps(i.attribute_values, default=str) for model in (ReferralItem, ParticipantItem)
                    for i in model.scan())
    assert api.post("/referrals", tees, _body(TEES, ON_WORK_CHOICE)).status == 422
    after = sorted(json.dumps(i.attribute_values, default=str) for model in (ReferralItem, ParticipantItem)
                   for i in model.scan())
    assert after == before
    counters = [i for i in FlagItem.scan() if i.attempts]
    assert [(c.flag_id, c.attempts) for c in counters] == [(f"attempts#{_key_id(tees)}#2026-11-24", 1)]
    assert counters[0].provider_org_id is None and counters[0].prime_org_id is None  # in no listing's index
