"""The participant journey (chalicelib/domain/journey.py) and the deadlines it runs (chalicelib/domain/deadlines.py).

Working-day dates are worked out by hand from England's bank holidays: Christmas Day Fri 25 Dec 2026, the
Boxing Day substitute Mon 28 Dec 2026 and New Year's Day Fri 1 Jan 2027.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from chalicelib.adapters.rulebooks import get_rulebook
from chalicelib.domain import deadlines, journey, lifecycle, steps
from chalicelib.domain.deadlines import Due
from chalicelib.domain.errors import FieldError, InvalidTransition, ReferralRefused, ValidationFailed
from chalicelib.domain.referral import Referral, Step
from chalicelib.domain.rulebook import Period
from tests.postcodes import resident_postcode

NORFOLK = get_rulebook("flexible-routeways-norfolk")
TEES = get_rulebook("tees-valley-routes-to-work")
WORK_CHOICE = get_rulebook("work-choice")
LSE = get_rulebook("local-supported-employment")

TODAY = date(2026, 11, 24)  # a Tuesday

ELIGIBLE = {
    "flexible-routeways-norfolk": {"seeking_work": True, "right_to_work": True},
    "tees-valley-routes-to-work": {"right_to_work": True},
    "work-choice": {"disabled": True, "right_to_work": True},
    "local-supported-employment": {"seeking_work": True, "right_to_work": True, "benefit_entitlement": True,
                                   "on_other_dwp_programme": False},
    "esf-community-hub": {"right_to_work": True},
}
PROVIDER = {
    "flexible-routeways-norfolk": "kings-lynn-works",
    "tees-valley-routes-to-work": "middlesbrough-council",
    "work-choice": "pathway-employment-prime",
    "local-supported-employment": "leeds-city-council",
    "esf-community-hub": "working-links",
}


def payload(rulebook, *, provider_id=None, support_level=None, consent_given=True,
            consent_date=date(2026, 11, 20), date_of_birth=date(1990, 5, 17), eligibility=None, postcode=None,
            **extra) -> dict:
    body = {
        "programme_id": rulebook.id,
        "provider_id": provider_id or PROVIDER[rulebook.id],
        "support_level": support_level or ("weekly" if rulebook.id == TEES.id else "standard"),
        "consent": {"given": consent_given, "date": consent_date},
        "participant": {
            "nino": "AB123456C", "given_name": "Ada", "family_name": "Lovelace",
            "date_of_birth": date_of_birth, "postcode": postcode or resident_postcode(provider_id or PROVIDER[rulebook.id]),
            "eligibility": dict(ELIGIBLE[rulebook.id] if eligibility is None else eligibility),
        },
    }
    body.update(extra)
    return body


def refer(rulebook, today=TODAY, previous_programmes=(), active=False, **kwargs) -> Step:
    return journey.new_referral(
        rulebook=rulebook, referral_id="ref-1", referrer_org_id="jcp-norwich", payload=payload(rulebook, **kwargs),
        participant_hash="p_abc", today=today, now=datetime.combine(today, datetime.min.time(), UTC),
        active=active, previous_programmes=list(previous_programmes))


def in_support(rulebook, *, referred=date(2026, 11, 24), started=date(2026, 11, 30),
               action_plan=date(2026, 12, 2), **kwargs) -> Referral:
    """A referral taken through accept, start, assessment and action plan with the journey functions."""
    referral = refer(rulebook, today=referred, **kwargs).referral
    referral = act("accept", referral, {"date": referred}, referred).referral
    referral = act("start", referral, {"date": started}, started).referral
    referral = act("assessment", referral, {"date": started}, started).referral
    referral = act("action_plan", referral, {"date": action_plan}, action_plan).referral
    assert referral.status == lifecycle.IN_SUPPORT
    return referral


def job(on: date, **changes) -> dict:
    body = {"type": "job_start", "date": on, "employer_name": "Acme Ltd", "hours_per_week": Decimal("20"),
            "weekly_earnings_pence": 25000}
    body.update(changes)
    return body


def act(name: str, referral, body: dict, today: date, rulebook=None) -> Step:
    """Take a registered journey step with the domain alone (transition checked, rule applied)."""
    return steps.apply(steps.get(name), rulebook or get_rulebook(referral.programme_id), referral, body, today)


def outcome(rulebook, referral, body: dict, today: date) -> Step:
    """A job start, sustainment or progression, named by the body's `type` as the old outcomes URL did."""
    rest = {k: v for k, v in body.items() if k != "type"}
    return act(body["type"], referral, rest, today, rulebook)


def dues(rulebook, referral) -> list[tuple[str, date]]:
    return [(d.rule, d.due) for d in deadlines.running(rulebook, referral)]


# ------------------------------------------------------------------ new_referral


def test_new_referral_happy_path():
    step = refer(NORFOLK)
    referral = step.referral
    assert referral.status == lifecycle.REFERRED
    assert referral.version == 1
    assert referral.provider_org_id == "kings-lynn-works"
    assert referral.prime_org_id == "trobius"
    assert referral.referred_on == TODAY
    assert referral.consent_given_on == date(2026, 11, 20)
    assert referral.module_id is None
    assert step.event.type == "referral"
    assert step.event.to_status == "referred"
    assert step.event.data == {"programme_id": NORFOLK.id, "provider_org_id": "kings-lynn-works",
                               "support_level": "standard"}


@pytest.mark.parametrize("rulebook, today", [
    (NORFOLK, date(2025, 3, 31)),       # the day before it opens
    (NORFOLK, date(2028, 4, 1)),        # the day after it closes
    (LSE, date(2026, 7, 31)),
    (LSE, date(2027, 4, 1)),
])
def test_referral_outside_the_window_is_refused(rulebook, today):
    with pytest.raises(ReferralRefused) as caught:
        refer(rulebook, today=today, consent_date=date(2025, 1, 1))
    exc = caught.value
    assert exc.reason == "outside_referral_window"
    assert exc.extra == {"reason": "outside_referral_window"}
    assert [(e.field, e.rule) for e in exc.errors] == [("programme_id", "referral_window")]
    assert rulebook.referral_opens.isoformat() in exc.errors[0].message
    assert rulebook.referral_closes.isoformat() in exc.errors[0].message


@pytest.mark.parametrize("today", [date(2026, 8, 1), date(2027, 3, 31)])
def test_referral_on_the_window_edges_is_taken(today):
    assert refer(LSE, today=today, consent_date=today).referral.referred_on == today


def test_ineligible_referral_is_refused_with_field_errors():
    with pytest.raises(ReferralRefused) as caught:
        refer(TEES, provider_id="redcar-cleveland-council", date_of_birth=date(1996, 11, 25),
              eligibility={"right_to_work": True, "in_employment": True})
    exc = caught.value
    assert exc.reason == "ineligible"
    assert exc.errors == [
        FieldError("participant.date_of_birth", "min_age",
                   "must be at least 30 on the referral date to be served by "
                   "Redcar & Cleveland Borough Council (20% indicative share, residents aged 30+)"),
        FieldError("participant.eligibility.in_employment", "excluded",
                   "the programme excludes people with in_employment"),
    ]


def test_redcar_takes_a_referral_on_the_30th_birthday():
    step = refer(TEES, provider_id="redcar-cleveland-council", date_of_birth=date(1996, 11, 24))
    assert step.referral.provider_org_id == "redcar-cleveland-council"


def test_previous_participant_is_refused_where_returns_are_not_allowed():
    with pytest.raises(ReferralRefused) as caught:
        refer(NORFOLK, previous_programmes=["esf-community-hub", "flexible-routeways-norfolk"])
    assert caught.value.reason == "previously_participated"
    assert [(e.field, e.rule) for e in caught.value.errors] == [("participant.nino", "no_return")]


def test_previous_participation_in_another_programme_does_not_matter():
    assert refer(NORFOLK, previous_programmes=["work-choice"]).referral.status == lifecycle.REFERRED


def test_work_choice_takes_back_a_former_participant():
    step = refer(WORK_CHOICE, previous_programmes=["work-choice"])
    assert step.referral.status == lifecycle.REFERRED
    assert step.referral.module_id == "work-entry"
    assert step.event.data["module_id"] == "work-entry"


def test_unknown_support_level_fails_validation():
    with pytest.raises(ValidationFailed) as caught:
        refer(NORFOLK, support_level="fortnightly")
    assert [(e.field, e.rule) for e in caught.value.errors] == [("support_level", "one_of")]
    assert caught.value.errors[0].message == "one of: intensive, standard"


def test_consent_not_given_fails_validation():
    with pytest.raises(ValidationFailed) as caught:
        refer(NORFOLK, consent_given=False)
    assert [(e.field, e.rule) for e in caught.value.errors] == [("consent.given", "required")]


def test_consent_dated_in_the_future_fails_validation():
    with pytest.raises(ValidationFailed) as caught:
        refer(NORFOLK, consent_date=date(2026, 11, 25))
    assert [(e.field, e.rule) for e in caught.value.errors] == [("consent.date", "not_in_future")]


def test_unknown_provider_fails_validation():
    with pytest.raises(ValidationFailed) as caught:
        refer(NORFOLK, provider_id="middlesbrough-council")
    assert [(e.field, e.rule) for e in caught.value.errors] == [("provider_id", "delivers_programme")]


def test_provider_found_by_area():
    body = payload(TEES, area="Hartlepool", provider_id="hartlepool-council")
    del body["provider_id"]
    step = journey.new_referral(rulebook=TEES, referral_id="r", referrer_org_id="x", payload=body,
                                participant_hash="p_1", today=TODAY, now=datetime(2026, 11, 24), active=False,
                                previous_programmes=[])
    assert step.referral.provider_org_id == "hartlepool-council"


def test_module_on_a_programme_without_modules_fails_validation():
    with pytest.raises(ValidationFailed) as caught:
        refer(NORFOLK, module_id="work-entry")
    assert [(e.field, e.rule) for e in caught.value.errors] == [("module_id", "not_modular")]


# ------------------------------------------------------------------ job start


@pytest.fixture
def supported() -> Referral:
    return in_support(NORFOLK)


def test_job_start_moves_the_referral_into_work(supported):
    step = outcome(NORFOLK, supported, job(date(2026, 12, 10)), date(2026, 12, 10))
    assert step.referral.status == lifecycle.IN_WORK
    assert step.referral.job_start == {"employer_name": "Acme Ltd", "start_date": "2026-12-10",
                                       "hours_per_week": 20.0, "weekly_earnings_pence": 25000,
                                       "self_employed": False}
    assert step.event.data["hours_band"] == "over_16"


@pytest.mark.parametrize("hours", [Decimal("0"), Decimal("-1"), Decimal("80.01"), Decimal("81")])
def test_job_start_hours_out_of_range(supported, hours):
    with pytest.raises(ValidationFailed) as caught:
        outcome(NORFOLK, supported, job(date(2026, 12, 10), hours_per_week=hours), date(2026, 12, 10))
    assert [(e.field, e.rule) for e in caught.value.errors] == [("hours_per_week", "range")]


@pytest.mark.parametrize("hours", [Decimal("0.5"), Decimal("80")])
def test_job_start_hours_at_the_limits(supported, hours):
    step = outcome(NORFOLK, supported, job(date(2026, 12, 10), hours_per_week=hours), date(2026, 12, 10))
    assert step.referral.status == lifecycle.IN_WORK


def test_job_start_without_earnings_is_refused_unless_self_employed(supported):
    with pytest.raises(ValidationFailed) as caught:
        outcome(NORFOLK, supported, job(date(2026, 12, 10), weekly_earnings_pence=0), date(2026, 12, 10))
    assert [(e.field, e.rule) for e in caught.value.errors] == [("weekly_earnings_pence", "paid_work")]


def test_self_employed_job_start_with_no_earnings_is_fine(supported):
    step = outcome(NORFOLK, supported,
                           job(date(2026, 12, 10), weekly_earnings_pence=0, self_employed=True), date(2026, 12, 10))
    assert step.referral.status == lifecycle.IN_WORK
    assert step.referral.job_start["self_employed"] is True
    assert step.referral.job_start["weekly_earnings_pence"] == 0


def test_job_start_earnings_above_the_ceiling(supported):
    with pytest.raises(ValidationFailed) as caught:
        outcome(NORFOLK, supported, job(date(2026, 12, 10), weekly_earnings_pence=1_000_001),
                        date(2026, 12, 10))
    assert [(e.field, e.rule) for e in caught.value.errors] == [("weekly_earnings_pence", "range")]


def test_job_start_without_an_employer(supported):
    body = job(date(2026, 12, 10))
    del body["employer_name"]
    with pytest.raises(ValidationFailed) as caught:
        outcome(NORFOLK, supported, body, date(2026, 12, 10))
    assert [(e.field, e.rule) for e in caught.value.errors] == [("employer_name", "required")]


def test_job_start_missing_everything_names_every_field(supported):
    body = {"type": "job_start", "date": date(2026, 12, 10)}
    with pytest.raises(ValidationFailed) as caught:
        outcome(NORFOLK, supported, body, date(2026, 12, 10))
    assert [e.field for e in caught.value.errors] == ["employer_name", "hours_per_week", "weekly_earnings_pence"]


def test_job_start_before_the_start_is_refused(supported):
    with pytest.raises(ValidationFailed) as caught:
        outcome(NORFOLK, supported, job(date(2026, 11, 29)), date(2026, 12, 10))
    assert [(e.field, e.rule) for e in caught.value.errors] == [("date", "not_before")]


def test_job_start_before_starting_is_an_invalid_transition():
    accepted = act("accept", refer(NORFOLK).referral, {"date": TODAY}, TODAY).referral
    with pytest.raises(InvalidTransition) as caught:
        outcome(NORFOLK, accepted, job(TODAY), TODAY)
    assert caught.value.current_state == "accepted"


@pytest.mark.parametrize("hours, band", [
    (Decimal("0.5"), "up_to_8"),
    (Decimal("8"), "up_to_8"),
    (Decimal("8.01"), "over_8"),
    (Decimal("16"), "over_8"),
    (Decimal("16.01"), "over_16"),
    (Decimal("16.5"), "over_16"),
    (Decimal("37.5"), "over_16"),
    (8, "up_to_8"),
    (16, "over_8"),
])
def test_hours_band_boundaries(hours, band):
    assert journey.hours_band(hours) == band


# ------------------------------------------------------------------ deadlines: Norfolk at Christmas 2026

CHRISTMAS_EVE = date(2026, 12, 24)  # Thursday


def test_norfolk_referral_on_christmas_eve():
    referral = refer(NORFOLK, today=CHRISTMAS_EVE).referral
    # acknowledge: 2 working days after Thu 24 Dec; Fri 25 and Mon 28 are bank holidays, so Tue 29 is the
    # first working day and Wed 30 the second.
    # start: 15 working days: Tue 29, Wed 30, Thu 31 (3); Fri 1 Jan is a bank holiday; Mon 4 - Fri 8 Jan (8);
    # Mon 11 - Fri 15 Jan (13); Mon 18 (14), Tue 19 Jan (15).
    assert dues(NORFOLK, referral) == [("acknowledge", date(2026, 12, 30)), ("start", date(2027, 1, 19))]
    first = deadlines.running(NORFOLK, referral)[0]
    assert first.description == "acknowledge the referral within 2 working days of the referral"


def test_accepted_referral_keeps_only_the_start_deadline():
    referral = refer(NORFOLK, today=CHRISTMAS_EVE).referral
    accepted = act("accept", referral, {"date": date(2026, 12, 29)},
                                   date(2026, 12, 29)).referral
    assert dues(NORFOLK, accepted) == [("start", date(2027, 1, 19))]


def test_started_referral_runs_assessment_action_plan_and_duration():
    referral = refer(NORFOLK, today=CHRISTMAS_EVE).referral
    started = replace(referral, status=lifecycle.STARTED, accepted_on=date(2026, 12, 29),
                      started_on=date(2027, 1, 11))
    # 20 working days after Mon 11 Jan 2027 (no bank holidays in between) is Mon 8 Feb; 26 weeks is Mon 12 Jul.
    assert dues(NORFOLK, started) == [
        ("assessment", date(2027, 2, 8)),
        ("action_plan", date(2027, 2, 8)),
        ("max_duration", date(2027, 7, 12)),
    ]


@pytest.mark.parametrize("status", [lifecycle.REJECTED, lifecycle.DID_NOT_START, lifecycle.EXITED])
def test_final_states_run_no_deadlines(status):
    referral = replace(refer(NORFOLK, today=CHRISTMAS_EVE).referral, status=status,
                       started_on=date(2027, 1, 11) if status == lifecycle.EXITED else None)
    assert deadlines.running(NORFOLK, referral) == []


def test_esf_assessment_runs_from_acceptance_and_action_plan_from_referral():
    esf = get_rulebook("esf-community-hub")
    referral = refer(esf, today=CHRISTMAS_EVE).referral
    started = replace(referral, status=lifecycle.STARTED, accepted_on=date(2026, 12, 29),
                      started_on=date(2027, 1, 11))
    # assessment: 20 working days after Tue 29 Dec 2026 (skipping Fri 1 Jan) is Wed 27 Jan 2027.
    # action plan: 35 working days after Thu 24 Dec 2026 (skipping 25 Dec, 28 Dec, 1 Jan) is Tue 16 Feb 2027.
    assert dues(esf, started) == [
        ("assessment", date(2027, 1, 27)),
        ("action_plan", date(2027, 2, 16)),
        ("max_duration", date(2028, 1, 10)),
    ]


# ------------------------------------------------------------------ review cadence


def test_review_cadence_is_the_support_levels():
    referral = in_support(TEES, support_level="fortnightly")  # Middlesbrough: no provider cap
    assert deadlines.review_interval(TEES, referral) == Period(2, "weeks")
    assert dict(dues(TEES, referral))["review"] == date(2026, 12, 16)


def test_hartlepool_caps_a_fortnightly_participant_at_weekly():
    referral = in_support(TEES, provider_id="hartlepool-council", support_level="fortnightly")
    assert deadlines.review_interval(TEES, referral) == Period(1, "weeks")
    # action plan Wed 2 Dec 2026 + 1 week
    assert dict(dues(TEES, referral))["review"] == date(2026, 12, 9)
    review = [d for d in deadlines.running(TEES, referral) if d.rule == "review"][0]
    assert review.description == "action-plan review every 1 weeks (fortnightly)"


def test_hartlepool_cap_does_not_loosen_a_daily_participant():
    referral = in_support(TEES, provider_id="hartlepool-council", support_level="daily")
    assert deadlines.review_interval(TEES, referral) == Period(1, "working_days")
    last = replace(referral, last_review_on=CHRISTMAS_EVE)
    assert dict(dues(TEES, last))["review"] == date(2026, 12, 29)


def test_next_review_runs_from_the_last_review():
    referral = in_support(TEES, provider_id="hartlepool-council", support_level="fortnightly")
    reviewed = act("review", referral, {"date": date(2026, 12, 7)}, date(2026, 12, 7)).referral
    assert dict(dues(TEES, reviewed))["review"] == date(2026, 12, 14)


def test_darlington_runs_the_ceiag_interview_every_six_months_from_the_start():
    referral = in_support(TEES, provider_id="darlington-council", support_level="weekly")
    assert dues(TEES, referral) == [
        ("review", date(2026, 12, 9)),
        ("ceiag-interview", date(2027, 5, 30)),
        ("max_duration", date(2028, 11, 30)),
    ]


# ------------------------------------------------------------------ sustainment


def test_tees_sustainment_checkpoints_fall_due_in_order():
    referral = in_support(TEES)
    job_day = date(2026, 11, 30)
    # The job start's date cannot be before the start (30 Nov), and 30 Nov + 3 months clamps to 28 Feb.
    working = outcome(TEES, referral, job(job_day), date(2026, 12, 2)).referral

    def next_checkpoint(r):
        return [(rule, due) for rule, due in dues(TEES, r) if rule.startswith("sustainment:")]

    assert next_checkpoint(working) == [("sustainment:3-months", date(2027, 2, 28))]
    expected = [("3-months", date(2027, 2, 28)), ("6-months", date(2027, 5, 30)),
                ("9-months", date(2027, 8, 30)), ("12-months", date(2027, 11, 30))]
    for i, (checkpoint, due) in enumerate(expected):
        assert next_checkpoint(working) == [(f"sustainment:{checkpoint}", due)]
        working = outcome(TEES, working, {"type": "sustainment", "checkpoint": checkpoint, "date": due},
                                  due).referral
        assert list(working.sustainments) == [c for c, _ in expected[:i + 1]]
    assert next_checkpoint(working) == []


def test_sustainment_before_the_checkpoint_is_refused():
    working = outcome(TEES, in_support(TEES), job(date(2026, 11, 30)), date(2026, 12, 2)).referral
    with pytest.raises(ValidationFailed) as caught:
        outcome(TEES, working, {"type": "sustainment", "checkpoint": "3-months", "date": date(2027, 2, 27)},
                        date(2027, 3, 1))
    assert [(e.field, e.rule) for e in caught.value.errors] == [("date", "not_before")]


def test_in_work_without_an_action_plan_still_runs_its_deadlines():
    # The lifecycle allows a job start straight from 'assessed' (no action plan yet), so an in-work referral
    # may have neither an action plan nor a review. Its deadlines must still be listed.
    referral = refer(NORFOLK).referral
    referral = act("accept", referral, {"date": TODAY}, TODAY).referral
    referral = act("start", referral, {"date": date(2026, 11, 30)}, date(2026, 11, 30)).referral
    referral = act("assessment", referral, {"date": date(2026, 11, 30)}, date(2026, 11, 30)).referral
    assert referral.status == lifecycle.ASSESSED
    working = outcome(NORFOLK, referral, job(date(2026, 12, 1)), date(2026, 12, 1)).referral
    assert working.status == lifecycle.IN_WORK
    assert working.action_plan_on is None
    running = dues(NORFOLK, working)  # today: TypeError (the review is computed from a None date)
    assert ("sustainment:13-weeks", date(2027, 3, 2)) in running
    assert ("max_duration", date(2027, 5, 31)) in running


# ------------------------------------------------------------------ Due.as_dict


def test_due_is_not_overdue_on_the_due_date_and_overdue_the_day_after():
    due = Due("acknowledge", date(2026, 12, 30), "acknowledge the referral")
    assert due.as_dict(date(2026, 12, 29)) == {"rule": "acknowledge", "due": date(2026, 12, 30), "overdue": False,
                                               "description": "acknowledge the referral"}
    assert due.as_dict(date(2026, 12, 30))["overdue"] is False
    assert due.as_dict(date(2026, 12, 31))["overdue"] is True


# ------------------------------------------------------------------ allocation and modules


def test_provider_with_no_allocation_refuses_the_referral():
    closed = replace(NORFOLK, delivery_organisations=tuple(
        replace(o, allocation=0) if o.org_id == "kings-lynn-works" else o for o in NORFOLK.delivery_organisations))
    with pytest.raises(ReferralRefused) as caught:
        refer(closed)
    assert caught.value.reason == "allocation_full"
    assert [(e.field, e.rule) for e in caught.value.errors] == [("provider_id", "allocation")]


def test_work_choice_module_deadlines_follow_the_module():
    referral = in_support(WORK_CHOICE)
    assert referral.module_id == "work-entry"
    assert referral.module_since == date(2026, 11, 30)
    # review: 4 weeks after the action plan (Wed 2 Dec); Work Entry lasts at most 6 months from Mon 30 Nov.
    assert dues(WORK_CHOICE, referral) == [("review", date(2026, 12, 30)),
                                           ("module_max_duration", date(2027, 5, 30))]
    moved = act("module_move", referral, {"module_id": "longer-term-support",
                                                        "date": date(2026, 12, 10)}, date(2026, 12, 10)).referral
    assert (moved.module_id, moved.module_since) == ("longer-term-support", date(2026, 12, 10))
    assert dues(WORK_CHOICE, moved) == [("review", date(2026, 12, 30))]


def test_a_person_active_elsewhere_is_refused_only_after_a_valid_consent_record():
    with pytest.raises(ValidationFailed) as caught:
        refer(NORFOLK, active=True, consent_given=False)
    assert [(e.field, e.rule) for e in caught.value.errors] == [("consent.given", "required")]
    with pytest.raises(ReferralRefused) as refused:
        refer(NORFOLK, active=True)
    assert refused.value.reason == "already_active"
    assert str(refused.value) == "the participant is already active on a programme"


def test_a_step_resolves_only_the_flags_its_referral_records_as_raised():
    from chalicelib.domain import compliance

    flagged = (compliance.flag_key("acknowledge", date(2026, 11, 26)), compliance.flag_key("review", date(2027, 1, 4)),
               compliance.flag_key("sustainment:13w", date(2027, 3, 1)))
    referral = SimpleNamespace(flagged=flagged)
    answered = {("acknowledge", date(2026, 11, 26)), ("start", date(2026, 12, 16)), ("review", date(2027, 1, 5))}
    resolved, still = compliance.answered_flags(referral, answered)
    assert resolved == [("acknowledge", date(2026, 11, 26))]  # not the start (never flagged), nor another review
    assert still == ("review@2027-01-04", "sustainment:13w@2027-03-01")
    assert compliance.flag_id_of("ref_1", still[1]) == compliance.flag_id("ref_1", "sustainment:13w", date(2027, 3, 1))
    assert compliance.answered_flags(SimpleNamespace(flagged=()), answered) == ([], ())
