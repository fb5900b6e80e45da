"""The seeds' rules as pure functions: each test names the seed and the numbers it takes from it.

docs/rules.md lists every programme rule with the rulebook field that holds it and the test that proves it.
"""
from __future__ import annotations

from datetime import date

import pytest

from chalicelib.adapters.rulebooks import get_rulebook
from chalicelib.domain import compliance, residence, targets
from chalicelib.domain.errors import ReferralRefused, ValidationFailed
from tests.unit.test_journey_deadlines import act, refer

NORFOLK = get_rulebook("flexible-routeways-norfolk")
TEES = get_rulebook("tees-valley-routes-to-work")
WORK_CHOICE = get_rulebook("work-choice")
ESF = get_rulebook("esf-community-hub")
LSE = get_rulebook("local-supported-employment")


# ------------------------------------------------------------------ closing unstarted referrals (seed 004)


def _closure(rulebook, referral):
    return next((p for p in compliance.pending_deadlines(rulebook, referral)
                 if p.rule == compliance.CLOSE_UNSTARTED), None)


def test_an_unstarted_referral_is_closed_the_day_after_the_window_shuts():
    """Seed 004: referrals 'within an 8 month window' (to 31 March 2027 in the rulebook)."""
    referral = refer(LSE, today=date(2027, 1, 5), consent_date=date(2027, 1, 5)).referral
    closure = _closure(LSE, referral)
    assert (closure.due, closure.act_on) == (date(2027, 3, 31), date(2027, 4, 1))
    accepted = act("accept", referral, {"date": date(2027, 1, 6)}, date(2027, 1, 6)).referral
    assert _closure(LSE, accepted).act_on == date(2027, 4, 1)


def test_a_referral_made_late_in_the_window_is_closed_after_its_start_deadline():
    referral = refer(LSE, today=date(2027, 3, 30), consent_date=date(2027, 3, 30)).referral
    closure = _closure(LSE, referral)
    # 15 working days after Tuesday 30 March 2027 (Easter 2027, 26 and 29 March, falls just before it).
    assert (closure.due, closure.act_on) == (date(2027, 4, 20), date(2027, 4, 21))


def test_a_started_or_closed_referral_has_no_closure_pending():
    referral = refer(LSE, today=date(2027, 1, 5), consent_date=date(2027, 1, 5)).referral
    accepted = act("accept", referral, {"date": date(2027, 1, 5)}, date(2027, 1, 5)).referral
    assert _closure(LSE, act("start", accepted, {"date": date(2027, 1, 6)}, date(2027, 1, 6)).referral) is None
    rejected = act("reject", referral, {"date": date(2027, 1, 5), "reason": "inappropriate"}, date(2027, 1, 5))
    assert _closure(LSE, rejected.referral) is None


# ------------------------------------------------------------------ minimums, not caps (seed 001, seed 004)


def test_the_pro_rata_path_spreads_the_minimum_over_the_referral_window():
    """Seed 001: Darlington delivers to a minimum of 325; the window is 2025-01-01..2027-12-31 (1,095 days)."""
    assert targets.window_elapsed_bp(TEES, date(2024, 12, 31)) == 0
    assert targets.window_elapsed_bp(TEES, date(2025, 1, 1)) == 9  # 1 day of 1,095
    assert targets.window_elapsed_bp(TEES, date(2026, 7, 2)) == 5004  # day 548 of 1,095
    assert targets.window_elapsed_bp(TEES, date(2027, 12, 31)) == 10000
    assert targets.window_elapsed_bp(TEES, date(2030, 1, 1)) == 10000
    assert targets.expected_by(325, 5000) == 163  # 162.5 people: 163 is on the path, 162 behind it
    assert targets.expected_by(325, 10000) == 325


def test_minimum_progress_reports_share_count_and_whether_behind():
    started = {"darlington-council": 100, "middlesbrough-council": 400}
    progress = {p.org_id: p for p in targets.minimum_progress(TEES, started, date(2026, 7, 2))}
    darlington, middlesbrough = progress["darlington-council"], progress["middlesbrough-council"]
    assert (darlington.minimum, darlington.started, darlington.expected_by_now) == (325, 100, 163)
    assert darlington.behind_pro_rata and darlington.pct_of_minimum == 30.8
    assert (darlington.indicative_share_pct, darlington.started_share_pct) == (13.0, 20.0)
    assert not middlesbrough.behind_pro_rata and middlesbrough.indicative_share_pct == 26.0
    assert progress["hartlepool-council"].started == 0 and progress["hartlepool-council"].behind_pro_rata
    over = targets.minimum_progress(TEES, {"darlington-council": 326}, date(2027, 12, 31))
    assert next(p for p in over if p.org_id == "darlington-council").pct_of_minimum == 100.3


def test_the_nightly_checks_report_minimum_progress_as_met_or_behind():
    stats = {"darlington-council": {"started": 162}, "stockton-on-tees-council": {"started": 313}}
    checks = {(c.org_id, c.measure): c for c in compliance.programme_checks(TEES, {}, stats, date(2026, 7, 2))}
    darlington = checks[("darlington-council", "minimum_progress")]
    assert (darlington.actual, darlington.base, darlington.target_pct, darlington.met) == (162, 325, 50.04, False)
    assert checks[("stockton-on-tees-council", "minimum_progress")].met is True  # 313 of 625 by day 548
    assert ("darlington-council", "allocation_used") not in checks  # no cap, so no allocation to use up
    lse = {(c.org_id, c.measure) for c in compliance.programme_checks(LSE, {}, {}, date(2026, 12, 1))}
    assert {("leeds-city-council", "allocation_used"), ("leeds-city-council", "minimum_progress")} <= lse


def test_no_cap_means_any_number_of_referrals_the_minimum_is_never_a_refusal():
    referral = refer(TEES, provider_id="darlington-council").referral
    assert referral.provider_org_id == "darlington-council" and TEES.provider("darlington-council").allocation is None


# ------------------------------------------------------------------ residence (seed 001)


def _tees(provider_id: str, postcode: str, **extra):
    return refer(TEES, provider_id=provider_id, postcode=postcode, **extra)


def test_residence_district_of_a_postcode():
    assert residence.district_of("dl3 6aa") == "DL3"
    assert residence.district_of("TS17 6AB") == "TS17"
    assert residence.district_of("DL98 1AA") == "DL98"


def test_a_resident_of_a_district_wholly_in_the_authority_is_taken():
    assert _tees("darlington-council", "DL3 6AA").event.data.get("residence_authority") is None


def test_a_darlington_postcode_is_refused_by_redcar_and_cleveland():
    with pytest.raises(ReferralRefused) as caught:
        _tees("redcar-cleveland-council", "DL3 6AA", date_of_birth=date(1980, 1, 1))
    assert caught.value.reason == "not_resident"
    assert [(e.field, e.rule) for e in caught.value.errors] == [("participant.postcode", "residence")]
    assert "DL3" not in str(caught.value.errors) and "6AA" not in str(caught.value.errors)


def test_a_straddling_district_needs_the_authority_stated_and_it_must_be_the_provider_s():
    """TS17 (Thornaby): 1,025 units in Stockton-on-Tees, 6 in Middlesbrough (Code-Point Open 2025.4.0)."""
    with pytest.raises(ValidationFailed) as caught:
        _tees("stockton-on-tees-council", "TS17 6AB")
    assert [(e.field, e.rule) for e in caught.value.errors] == [
        ("residence_authority", "required_for_straddling_district")]
    taken = _tees("stockton-on-tees-council", "TS17 6AB", residence_authority="E06000004")
    assert taken.event.data["residence_authority"] == "E06000004"
    assert _tees("middlesbrough-council", "TS17 6AB", residence_authority="E06000002").referral.status == "referred"
    with pytest.raises(ReferralRefused) as stated_elsewhere:
        _tees("stockton-on-tees-council", "TS17 6AB", residence_authority="E06000002")
    assert [(e.field, e.rule) for e in stated_elsewhere.value.errors] == [("residence_authority", "residence")]


def test_a_district_outside_the_authority_is_refused_whatever_authority_is_stated():
    """TS28 is wholly County Durham: no Tees Valley authority's resident."""
    with pytest.raises(ReferralRefused) as caught:
        _tees("hartlepool-council", "TS28 5AA", residence_authority="E06000001")
    assert caught.value.reason == "not_resident"


def test_programmes_without_a_residence_rule_take_any_postcode():
    assert refer(NORFOLK).referral.participant.postcode == "NR1 3QU"
    assert refer(LSE).referral.status == "referred"
