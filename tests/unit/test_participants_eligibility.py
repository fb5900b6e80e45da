"""Participant identity (chalicelib/domain/participants.py) and eligibility (chalicelib/domain/eligibility.py)."""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import replace
from datetime import date

import pytest

from chalicelib.adapters.rulebooks import get_rulebook
from chalicelib.domain import eligibility
from chalicelib.domain.eligibility import Ineligibility
from chalicelib.domain.participants import (
    is_valid_nino,
    is_valid_postcode,
    normalise_nino,
    normalise_postcode,
    participant_hash,
    pseudonymous_reference,
)

# ------------------------------------------------------------------ National Insurance numbers


@pytest.mark.parametrize("value", [
    "AB123456C",
    "AB 12 34 56 C",
    "ab 12 34 56 c",
    "jg103759a",
    "CE123456D",
    "OA123456A",     # O is allowed as the first letter
    "ZA123456B",     # Z first is fine; only ZZ is barred
    "TA123456A",     # T first is fine; only TN is barred
    "NA123456A",     # N first is fine; only NK/NT are barred
    " AB123456C ",
    "AB\t123456C",
])
def test_valid_ninos(value):
    assert is_valid_nino(value) is True


@pytest.mark.parametrize("value", [
    *[f"{first}A123456A" for first in "DFIQUV"],          # never a first letter
    *[f"A{second}123456A" for second in "DFIQUVO"],        # never a second letter (O included)
    *[f"{prefix}123456A" for prefix in ("BG", "GB", "NK", "KN", "TN", "NT", "ZZ")],
    "AB123456E",      # suffix A-D only
    "AB123456Z",
    "AB123456",       # no suffix
    "AB12345C",       # five digits
    "AB1234567C",     # seven digits
    "A123456C",       # one prefix letter
    "ABC123456C",
    "AB12345XC",
    "AB-12-34-56-C",
    "",
    None,
])
def test_invalid_ninos(value):
    assert is_valid_nino(value) is False


def test_normalise_nino_removes_spaces_and_upper_cases():
    assert normalise_nino(" ab 12 34 56 c ") == "AB123456C"
    assert normalise_nino(None) == ""


# ------------------------------------------------------------------ postcodes


@pytest.mark.parametrize("value, normalised", [
    ("NR1 3QU", "NR1 3QU"),
    ("nr13qu", "NR1 3QU"),
    ("  nr1   3qu ", "NR1 3QU"),
    ("SW1A 1AA", "SW1A 1AA"),
    ("ec1a1bb", "EC1A 1BB"),
    ("M1 1AE", "M1 1AE"),
    ("B338TH", "B33 8TH"),
    ("DN55 1PT", "DN55 1PT"),
    ("W1A0AX", "W1A 0AX"),
    ("TS10 1AB", "TS10 1AB"),
    ("gir0aa", "GIR 0AA"),
])
def test_valid_postcodes_are_normalised(value, normalised):
    assert normalise_postcode(value) == normalised
    assert is_valid_postcode(value) is True


@pytest.mark.parametrize("value", [
    "NR1", "NR1 3Q", "NR1 3QUU", "1NR 3QU", "NRR1 3QU", "NR1 QQU", "123 456", "NR1-3QU", "", None,
])
def test_invalid_postcodes(value):
    assert is_valid_postcode(value) is False


def test_short_values_are_left_compact():
    assert normalise_postcode("nr1") == "NR1"
    assert normalise_postcode(None) == ""


# ------------------------------------------------------------------ the pseudonymous identifier

KEY = b"unit-test-key-1"
OTHER_KEY = b"unit-test-key-2"


def test_participant_hash_is_an_hmac_of_the_normalised_nino_without_its_suffix():
    expected = "p_" + hmac.new(KEY, b"AB123456", hashlib.sha256).hexdigest()
    assert participant_hash("AB123456C", KEY) == expected
    assert re.fullmatch(r"p_[0-9a-f]{64}", expected)


def test_participant_hash_is_deterministic_per_key():
    assert participant_hash("AB123456C", KEY) == participant_hash("AB123456C", KEY)
    assert participant_hash("AB123456C", KEY) != participant_hash("AB123456C", OTHER_KEY)
    assert participant_hash("AB123456C", KEY) != participant_hash("AB123457C", KEY)
    # The suffix letter does not identify the person: the same number with another suffix is the same person.
    assert participant_hash("AB123456C", KEY) == participant_hash("AB123456D", KEY)


@pytest.mark.parametrize("variant", ["ab123456c", "AB 12 34 56 C", " ab 12 34 56 c ", "Ab123456C"])
def test_participant_hash_ignores_spacing_and_case(variant):
    assert participant_hash(variant, KEY) == participant_hash("AB123456C", KEY)


def test_participant_hash_never_contains_the_nino():
    for nino in ("AB123456C", "CE654321A", "JG103759A"):
        value = participant_hash(nino, KEY)
        for form in (nino, nino.lower(), nino[2:8]):
            assert form not in value


def test_pseudonymous_reference_shape():
    value = participant_hash("AB123456C", KEY)
    reference = pseudonymous_reference(value)
    assert re.fullmatch(r"PR-[0-9A-F]{12}", reference)
    assert reference == "PR-" + value[2:14].upper()
    assert pseudonymous_reference("p_0123456789abcdef") == "PR-0123456789AB"
    assert pseudonymous_reference(participant_hash("AB123456C", OTHER_KEY)) != reference


# ------------------------------------------------------------------ eligibility

NORFOLK = get_rulebook("flexible-routeways-norfolk")
TEES = get_rulebook("tees-valley-routes-to-work")
LSE = get_rulebook("local-supported-employment")
ON = date(2026, 11, 24)
NORFOLK_OK = {"seeking_work": True, "right_to_work": True}


def test_eligible_participant_has_no_reasons():
    assert eligibility.check(NORFOLK, NORFOLK.provider("trobius"), date(1990, 5, 17), NORFOLK_OK, ON) == []


def test_under_the_programme_minimum_age():
    # Norfolk takes people from 16: a 15-year-old (16 tomorrow) is refused, a 16-year-old today is not.
    provider = NORFOLK.provider("trobius")
    assert eligibility.check(NORFOLK, provider, date(2010, 11, 25), NORFOLK_OK, ON) == [
        Ineligibility("participant.date_of_birth", "min_age", "must be at least 16 on the referral date"),
    ]
    assert eligibility.check(NORFOLK, provider, date(2010, 11, 24), NORFOLK_OK, ON) == []


def test_over_the_programme_maximum_age():
    capped = replace(NORFOLK, max_age=24)
    provider = capped.provider("trobius")
    assert eligibility.check(capped, provider, date(2001, 11, 25), NORFOLK_OK, ON) == []       # 24
    assert eligibility.check(capped, provider, date(2001, 11, 24), NORFOLK_OK, ON) == [        # 25 today
        Ineligibility("participant.date_of_birth", "max_age", "must be at most 24 on the referral date"),
    ]


def test_the_lower_of_programme_and_provider_maximum_age_applies():
    capped = replace(NORFOLK, max_age=64)
    provider = replace(capped.provider("trobius"), max_age=49)
    reasons = eligibility.check(capped, provider, date(1976, 11, 24), NORFOLK_OK, ON)   # 50 today
    assert [(r.rule, r.message) for r in reasons] == [("max_age", "must be at most 49 on the referral date")]


def test_redcar_refuses_a_29_year_old_naming_the_provider():
    redcar = TEES.provider("redcar-cleveland-council")
    reasons = eligibility.check(TEES, redcar, date(1996, 11, 25), {"right_to_work": True}, ON)  # 30 tomorrow
    assert reasons == [Ineligibility(
        "participant.date_of_birth", "min_age",
        "must be at least 30 on the referral date to be served by "
        "Redcar & Cleveland Borough Council (20% indicative share, residents aged 30+)")]


def test_redcar_accepts_on_the_30th_birthday():
    redcar = TEES.provider("redcar-cleveland-council")
    assert eligibility.check(TEES, redcar, date(1996, 11, 24), {"right_to_work": True}, ON) == []


def test_another_tees_provider_takes_a_29_year_old():
    middlesbrough = TEES.provider("middlesbrough-council")
    assert eligibility.check(TEES, middlesbrough, date(1996, 11, 25), {"right_to_work": True}, ON) == []


def test_programme_minimum_age_message_does_not_name_the_provider():
    middlesbrough = TEES.provider("middlesbrough-council")
    reasons = eligibility.check(TEES, middlesbrough, date(2008, 11, 25), {"right_to_work": True}, ON)  # 17
    assert [r.message for r in reasons] == ["must be at least 18 on the referral date"]


@pytest.mark.parametrize("attributes", [{"right_to_work": True}, {"right_to_work": True, "seeking_work": False}])
def test_required_attribute_missing_or_false(attributes):
    reasons = eligibility.check(NORFOLK, NORFOLK.provider("trobius"), date(1990, 5, 17), attributes, ON)
    assert reasons == [Ineligibility("participant.eligibility.seeking_work", "required",
                                     "the programme requires seeking_work to be true")]


def test_excluded_attribute_present():
    attributes = {"seeking_work": True, "right_to_work": True, "benefit_entitlement": True,
                  "on_other_dwp_programme": False, "secondary_mental_health_services": True}
    reasons = eligibility.check(LSE, LSE.provider("leeds-city-council"), date(1990, 5, 17), attributes, ON)
    assert reasons == [Ineligibility("participant.eligibility.secondary_mental_health_services", "excluded",
                                     "the programme excludes people with secondary_mental_health_services")]


def test_excluded_attribute_false_is_fine():
    attributes = {"seeking_work": True, "right_to_work": True, "benefit_entitlement": True,
                  "on_other_dwp_programme": False, "secondary_mental_health_services": False}
    assert eligibility.check(LSE, LSE.provider("leeds-city-council"), date(1990, 5, 17), attributes, ON) == []


def test_every_reason_is_given_at_once():
    attributes = {"right_to_work": True, "on_other_dwp_programme": True, "secondary_mental_health_services": True}
    reasons = eligibility.check(LSE, LSE.provider("bristol-city-council"), date(2009, 1, 1), attributes, ON)  # 17
    assert [(r.field, r.rule) for r in reasons] == [
        ("participant.date_of_birth", "min_age"),
        ("participant.eligibility.benefit_entitlement", "must_state"),
        ("participant.eligibility.seeking_work", "required"),
        ("participant.eligibility.secondary_mental_health_services", "excluded"),
        ("participant.eligibility.on_other_dwp_programme", "excluded"),
    ]


TRAILBLAZER_OK = {"seeking_work": True, "right_to_work": True, "benefit_entitlement": True,
                  "on_other_dwp_programme": False}


@pytest.mark.parametrize("attribute", ["benefit_entitlement", "on_other_dwp_programme"])
def test_the_trailblazer_checks_benefit_entitlement_and_other_dwp_programmes_at_referral(attribute):
    """Seed 004: 'other conditions such as their benefit entitlement and not being on any other DWP programme'.
    Each is stated at referral, true or false: leaving one out is refused, not taken as false."""
    provider = LSE.provider("bristol-city-council")
    assert eligibility.check(LSE, provider, date(1990, 1, 1), TRAILBLAZER_OK, ON) == []
    unstated = {k: v for k, v in TRAILBLAZER_OK.items() if k != attribute}
    assert [(r.field, r.rule) for r in eligibility.check(LSE, provider, date(1990, 1, 1), unstated, ON)] == [
        (f"participant.eligibility.{attribute}", "must_state")]
    assert eligibility.stated_checks(LSE, TRAILBLAZER_OK) == {"benefit_entitlement": True,
                                                             "on_other_dwp_programme": False}


def test_no_benefit_entitlement_or_another_dwp_programme_is_refused():
    provider = LSE.provider("bristol-city-council")
    refused = {**TRAILBLAZER_OK, "benefit_entitlement": False, "on_other_dwp_programme": True}
    assert [(r.field, r.rule) for r in eligibility.check(LSE, provider, date(1990, 1, 1), refused, ON)] == [
        ("participant.eligibility.benefit_entitlement", "required"),
        ("participant.eligibility.on_other_dwp_programme", "excluded")]


def test_other_programmes_take_an_unstated_attribute_as_false():
    assert eligibility.check(NORFOLK, NORFOLK.provider("trobius"), date(1990, 1, 1), NORFOLK_OK, ON) == []


def test_priority_groups_in_rulebook_order():
    attributes = {"long_term_mental_health": True, "autism": True, "learning_disability": False, "carer": True}
    assert eligibility.priority_groups(LSE, attributes) == ["autism", "long_term_mental_health"]
    assert eligibility.priority_groups(NORFOLK, attributes) == []
