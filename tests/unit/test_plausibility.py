"""Plausible dates come from the programme's rulebook (`plausibility`): the oldest age at referral and how long a
recorded consent stays good. Defaults apply where a rulebook gives none."""
from __future__ import annotations

import copy
import dataclasses
from datetime import date

import pytest

from chalicelib.adapters.rulebooks import all_rulebooks, parse_rulebook
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.journey import check_consent, check_date_of_birth
from chalicelib.domain.rulebook import Period, Plausibility

TODAY = date(2026, 11, 24)
NORFOLK = all_rulebooks()["flexible-routeways-norfolk"]


def _rule(exc) -> tuple[str, str]:
    return exc.value.errors[0].field, exc.value.errors[0].rule


def test_every_programme_states_its_bounds():
    for book in all_rulebooks().values():
        assert book.document["plausibility"]["max_age"] == book.plausibility.max_age
        assert book.plausibility.consent_valid_for == Period(6, "months")


def test_a_rulebook_without_the_block_gets_the_defaults():
    document = copy.deepcopy(NORFOLK.document)
    document.pop("plausibility")
    assert parse_rulebook(document, "x.json").plausibility == Plausibility(100, Period(6, "months"))


def test_the_oldest_age_is_the_rulebook_s():
    strict = dataclasses.replace(NORFOLK, plausibility=Plausibility(max_age=70))
    check_date_of_birth(strict, date(1955, 11, 25), TODAY)  # 70, 71 tomorrow
    with pytest.raises(ValidationFailed) as exc:
        check_date_of_birth(strict, date(1955, 11, 24), TODAY)  # 71 today
    assert _rule(exc) == ("participant.date_of_birth", "plausible_age")
    check_date_of_birth(NORFOLK, date(1955, 11, 24), TODAY)
    with pytest.raises(ValidationFailed) as exc:
        check_date_of_birth(NORFOLK, TODAY, TODAY)
    assert _rule(exc) == ("participant.date_of_birth", "in_past")


def test_the_consent_period_is_the_rulebook_s():
    short = dataclasses.replace(NORFOLK, plausibility=Plausibility(consent_valid_for=Period(30, "days")))
    born = date(1990, 5, 17)
    check_consent(short, {"given": True, "date": date(2026, 10, 25)}, born, TODAY)
    with pytest.raises(ValidationFailed) as exc:
        check_consent(short, {"given": True, "date": date(2026, 10, 24)}, born, TODAY)
    assert _rule(exc) == ("consent.date", "recent")
    check_consent(NORFOLK, {"given": True, "date": date(2026, 10, 24)}, born, TODAY)


@pytest.mark.parametrize("consent, rule", [
    ({"given": False, "date": TODAY}, ("consent.given", "required")),
    ({"given": True, "date": date(2026, 11, 25)}, ("consent.date", "not_in_future")),
    ({"given": True, "date": date(1990, 5, 16)}, ("consent.date", "not_before")),
    ({"given": True, "date": date(1900, 1, 1)}, ("consent.date", "not_before")),
])
def test_a_consent_record_must_be_given_and_dated_plausibly(consent, rule):
    with pytest.raises(ValidationFailed) as exc:
        check_consent(NORFOLK, consent, date(1990, 5, 17), TODAY)
    assert _rule(exc) == rule
    assert "1990" not in exc.value.detail  # the date of birth is not repeated


def test_years_are_a_period_unit():
    assert Period(6, "years").after(date(2027, 3, 31), "ENG") == date(2033, 3, 31)
    assert Period(1, "years").after(date(2028, 2, 29), "ENG") == date(2029, 2, 28)
