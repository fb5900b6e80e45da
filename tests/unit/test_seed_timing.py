"""The seeds' time rules as pure functions: minimum delivery, module extensions, reassessment cadence and late
recording. Each test names the seed and the numbers it takes from it.

docs/rules.md lists every programme rule with the rulebook field that holds it and the test that proves it.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from chalicelib.adapters.rulebooks import get_rulebook
from chalicelib.domain import deadlines
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.rulebook import Period
from chalicelib.payments import tariff
from tests.unit.test_journey_deadlines import TODAY, act, dues, in_support, refer

NORFOLK = get_rulebook("flexible-routeways-norfolk")
TEES = get_rulebook("tees-valley-routes-to-work")
WORK_CHOICE = get_rulebook("work-choice")
ESF = get_rulebook("esf-community-hub")


# ------------------------------------------------------------------ minimum delivery (seed 000)


def in_work_ready(rulebook):
    """A referral in support since today (started 24 November 2026), ready for a job start."""
    return in_support(rulebook, referred=date(2026, 11, 24), started=date(2026, 11, 24), action_plan=TODAY)


def _norfolk_started(on=date(2026, 11, 2)):
    referral = refer(NORFOLK, today=on, consent_date=on).referral
    for name in ("accept", "start", "assessment"):
        referral = act(name, referral, {"date": on}, on).referral
    return referral


EXIT = {"reason": "completed", "exit_review": {"date": date(2026, 11, 6), "destination": "unemployed"}}


def test_a_completion_before_the_minimum_week_is_refused():
    """Seed 000: Level 3 'delivery itself will be a minimum of 1 week'."""
    referral = _norfolk_started(date(2026, 11, 2))
    with pytest.raises(ValidationFailed) as caught:
        act("exit", referral, {**EXIT, "date": date(2026, 11, 6)}, date(2026, 11, 6))
    assert [(e.field, e.rule) for e in caught.value.errors] == [("date", "min_duration")]
    done = act("exit", referral, {**EXIT, "date": date(2026, 11, 9)}, date(2026, 11, 9))  # a week after the start
    assert (done.referral.exit_reason, done.event.data["reason"]) == ("completed", "completed")
    # Leaving early for another reason is not a completion, and is recorded as it is.
    left = act("exit", referral, {**EXIT, "reason": "withdrew", "date": date(2026, 11, 3)}, date(2026, 11, 6))
    assert left.referral.exit_reason == "withdrew"


def test_where_the_rulebook_says_so_an_early_completion_is_an_early_leaver():
    lenient = replace(NORFOLK, completion_before_min="early_leaver")
    referral = _norfolk_started(date(2026, 11, 2))
    early = act("exit", referral, {**EXIT, "date": date(2026, 11, 6)}, date(2026, 11, 6), lenient)
    assert early.referral.exit_reason == "early_leaver" and early.referral.status_reason == "early_leaver"
    assert early.event.data == {"reason": "early_leaver", "stated_reason": "completed",
                                "minimum_delivery_met": False,
                                "exit_review": {"date": "2026-11-06", "destination": "unemployed"}}


def test_the_outcome_fee_needs_the_minimum_delivered():
    """Seed 000: 'roughly 30% up front and 70% upon successful completion'; Level 3 GBP 500-550 (525 default)."""
    referral = _norfolk_started(date(2026, 11, 2))
    job = {"employer_name": "Norwich Foods", "hours_per_week": 20, "weekly_earnings_pence": 24000}
    early = act("job_start", referral, {**job, "date": date(2026, 11, 5)}, date(2026, 11, 5))
    assert early.event.data["minimum_delivery_met"] is False
    level = NORFOLK.provider("kings-lynn-works").level
    assert tariff.earnings(NORFOLK.tariff, level, "job_start", early.event.data, (), set()) == []
    later = act("job_start", referral, {**job, "date": date(2026, 11, 9)}, date(2026, 11, 9))
    assert later.event.data["minimum_delivery_met"] is True
    paid = tariff.earnings(NORFOLK.tariff, level, "job_start", later.event.data, (), set())
    assert [(e.milestone, e.amount_pence) for e in paid] == [("job_start", 36750)]  # 70% of GBP 525
    # The start's 30% never waits for the minimum.
    assert [e.amount_pence for e in tariff.earnings(NORFOLK.tariff, level, "start", {}, (), set())] == [15750]
    # A programme without a minimum marks nothing.
    tees = act("job_start", in_work_ready(TEES), {**job, "date": TODAY}, TODAY)
    assert "minimum_delivery_met" not in tees.event.data


# ------------------------------------------------------------------ reassessment cadence (seed 003)


def test_esf_reassessment_runs_every_3_months_from_the_last_assessment():
    """Seed 003: 'KWs will complete a reassessment with the participant every REDACTED' (default 3 months)."""
    on = date(2026, 11, 2)
    referral = refer(ESF, today=on, consent_date=on).referral
    for name in ("accept", "start", "assessment"):
        referral = act(name, referral, {"date": on}, on).referral
    assert ("reassessment", date(2027, 2, 2)) in dues(ESF, referral)
    referral = act("action_plan", referral, {"date": on}, on).referral
    assert ("reassessment", date(2027, 2, 2)) in dues(ESF, referral)
    again = act("assessment", referral, {"date": date(2027, 1, 20)}, date(2027, 1, 20))
    assert again.event.data["kind"] == "reassessment"
    assert ("reassessment", date(2027, 4, 20)) in dues(ESF, again.referral)
    # Other programmes set no reassessment cadence.
    assert "reassessment" not in {rule for rule, _ in dues(NORFOLK, in_work_ready(NORFOLK))}


# ------------------------------------------------------------------ Module 1 and its extension (seed 002)


def _module_end(referral):
    return dict(dues(WORK_CHOICE, referral))["module_max_duration"]


def test_work_entry_lasts_6_months_and_the_commissioner_may_extend_it_up_to_the_limit():
    """Seed 002 para 16: not Work Preparation's 13 weeks but 'a far more appropriate maximum period with safeguards
    should an individual need more time': 6 months, extendable by up to 6 more with the commissioner's approval."""
    referral = in_support(WORK_CHOICE)  # started, and in Module 1, on Mon 30 November 2026
    assert _module_end(referral) == date(2027, 5, 30)
    ask = {"date": date(2027, 5, 3), "until": date(2027, 8, 31), "reason": "needs more time with in-work trials"}
    with pytest.raises(ValidationFailed) as caught:  # more than 6 months beyond the end
        act("module_extension_request", referral, {**ask, "until": date(2027, 12, 1)}, date(2027, 5, 3))
    assert [(e.field, e.rule) for e in caught.value.errors] == [("until", "extension_limit")]
    with pytest.raises(ValidationFailed):  # not later than the end
        act("module_extension_request", referral, {**ask, "until": date(2027, 5, 30)}, date(2027, 5, 3))
    asked = act("module_extension_request", referral, ask, date(2027, 5, 3))
    assert asked.event.data == {"module_id": "work-entry", "until": "2027-08-31",
                                "reason": "needs more time with in-work trials"}
    assert _module_end(asked.referral) == date(2027, 5, 30)  # not before the commissioner approves
    assert "awaits the commissioner" in next(d.description for d in deadlines.running(WORK_CHOICE, asked.referral)
                                             if d.rule == "module_max_duration")
    with pytest.raises(ValidationFailed) as caught:
        act("module_extension_request", asked.referral, ask, date(2027, 5, 3))
    assert caught.value.errors[0].rule == "one_at_a_time"
    approved = act("module_extension_decision", asked.referral, {"decision": "approve"}, date(2027, 5, 5))
    assert approved.referral.module_extension["status"] == "approved"
    assert _module_end(approved.referral) == date(2027, 8, 31)
    with pytest.raises(ValidationFailed):  # nothing left to decide
        act("module_extension_decision", approved.referral, {"decision": "approve"}, date(2027, 5, 6))


def test_a_refused_extension_gives_a_reason_and_leaves_the_end():
    asked = act("module_extension_request", in_support(WORK_CHOICE),
                {"date": date(2027, 5, 3), "until": date(2027, 6, 30), "reason": "more time"}, date(2027, 5, 3))
    with pytest.raises(ValidationFailed) as caught:
        act("module_extension_decision", asked.referral, {"decision": "refuse"}, date(2027, 5, 5))
    assert [(e.field, e.rule) for e in caught.value.errors] == [("reason", "required")]
    refused = act("module_extension_decision", asked.referral, {"decision": "refuse", "reason": "job offer made"},
                  date(2027, 5, 5))
    assert _module_end(refused.referral) == date(2027, 5, 30)
    assert refused.event.data == {"decision": "refuse", "until": "2027-06-30", "reason": "job offer made"}


def test_only_a_module_with_an_extension_limit_can_be_extended():
    moved = act("module_move", in_support(WORK_CHOICE), {"module_id": "longer-term-support",
                                                         "date": date(2026, 12, 10)}, date(2026, 12, 10))
    with pytest.raises(ValidationFailed) as caught:
        act("module_extension_request", moved.referral,
            {"date": date(2026, 12, 11), "until": date(2027, 6, 30), "reason": "x"}, date(2026, 12, 11))
    assert caught.value.errors[0].rule == "extendable_module"
    with pytest.raises(ValidationFailed):
        act("module_extension_request", in_support(ESF),
            {"date": date(2026, 12, 11), "until": date(2027, 6, 30), "reason": "x"}, date(2026, 12, 11))


def test_a_module_move_ends_the_extension_and_the_commissioner_steps_are_not_offered_to_providers():
    from chalicelib.domain import lifecycle

    asked = act("module_extension_request", in_support(WORK_CHOICE),
                {"date": date(2027, 5, 3), "until": date(2027, 6, 30), "reason": "more time"}, date(2027, 5, 3))
    moved = act("module_move", asked.referral, {"module_id": "transitional-supported-employment",
                                                "date": date(2027, 5, 4)}, date(2027, 5, 4))
    assert moved.referral.module_extension is None
    offered = lifecycle.allowed_actions("in_support")
    assert "module_extension_request" in offered and "module_extension_decision" not in offered


# ------------------------------------------------------------------ late recording


def test_working_days_between_skips_weekends_and_english_bank_holidays():
    from chalicelib.domain.calendar import working_days_between

    assert working_days_between(date(2026, 11, 2), date(2026, 11, 24)) == 16
    assert working_days_between(date(2026, 11, 24), date(2026, 11, 24)) == 0
    assert working_days_between(date(2026, 11, 24), date(2026, 11, 2)) == 0
    # Christmas Day, Boxing Day (substitute Monday 28th) and New Year's Day 2027 are not working days.
    assert working_days_between(date(2026, 12, 24), date(2027, 1, 4)) == 4  # 29, 30, 31 Dec and 4 Jan


def test_a_step_recorded_late_is_marked_and_dated_the_day_it_happened():
    referral = refer(NORFOLK, today=date(2026, 11, 2), consent_date=date(2026, 11, 2)).referral
    accepted = act("accept", referral, {"date": date(2026, 11, 3)}, date(2026, 11, 24))
    assert accepted.event.occurred_on == date(2026, 11, 3) and accepted.referral.accepted_on == date(2026, 11, 3)
    assert accepted.event.data["recorded_late"] == {"working_days": 15, "limit": "20 working days"}
    same_day = act("accept", referral, {"date": date(2026, 11, 3)}, date(2026, 11, 3))
    assert "recorded_late" not in same_day.event.data


def test_the_limit_is_20_working_days_and_beyond_it_the_commissioners_approval_is_needed_first():
    """Recorded on Tue 24 Nov 2026: 20 working days back is Tue 27 Oct (taken), 21 is Mon 26 Oct (refused)."""
    referral = refer(NORFOLK, today=date(2026, 10, 20), consent_date=date(2026, 10, 20)).referral
    today = date(2026, 11, 24)
    taken = act("accept", referral, {"date": date(2026, 10, 27)}, today)
    assert taken.event.data["recorded_late"] == {"working_days": 20, "limit": "20 working days"}
    with pytest.raises(ValidationFailed) as caught:
        act("accept", referral, {"date": date(2026, 10, 26)}, today)
    assert [(e.field, e.rule) for e in caught.value.errors] == [("date", "late_recording_limit")]
    approval = {"step": "accept", "step_date": date(2026, 10, 26), "reason": "found on file"}
    approved = act("approve_late_recording", referral, approval, today)
    assert approved.referral.late_approvals == {"accept@2026-10-26": {"approved_on": "2026-11-24",
                                                                      "reason": "found on file"}}
    assert approved.referral.status == "referred"  # an approval moves nothing on
    with pytest.raises(ValidationFailed) as caught:  # once per step and date
        act("approve_late_recording", approved.referral, approval, today)
    assert caught.value.errors[0].rule == "once"
    done = act("accept", approved.referral, {"date": date(2026, 10, 26)}, today)
    assert done.event.data["recorded_late"] == {"working_days": 21, "limit": "20 working days",
                                                "beyond_limit": True, "approved_on": "2026-11-24"}
    with pytest.raises(ValidationFailed):  # the approval is for that date only
        act("accept", approved.referral, {"date": date(2026, 10, 23)}, today)


def test_a_rulebook_sets_its_own_late_recording_limit():
    strict = replace(NORFOLK, late_recording_limit=Period(5, "working_days"))
    referral = refer(strict, today=date(2026, 11, 2), consent_date=date(2026, 11, 2)).referral
    with pytest.raises(ValidationFailed):
        act("accept", referral, {"date": date(2026, 11, 16)}, date(2026, 11, 24), strict)
    assert act("accept", referral, {"date": date(2026, 11, 17)}, date(2026, 11, 24), strict).referral.accepted_on
    assert NORFOLK.late_recording_limit == Period(20, "working_days")


def test_a_referral_recorded_beyond_the_limit_is_held_until_the_commissioner_approves_it():
    late = refer(NORFOLK, today=date(2026, 11, 24), consent_date=date(2026, 10, 1), referral_date=date(2026, 10, 1))
    assert late.referral.referred_on == date(2026, 10, 1) and late.event.occurred_on == date(2026, 10, 1)
    assert late.event.data["recorded_late"]["awaiting_approval"] is True
    # Its deadlines run from the day it was made.
    assert ("acknowledge", date(2026, 10, 5)) in dues(NORFOLK, late.referral)
    with pytest.raises(ValidationFailed) as caught:
        act("accept", late.referral, {"date": date(2026, 11, 24)}, date(2026, 11, 24))
    assert [(e.field, e.rule) for e in caught.value.errors] == [("referral_date", "late_recording_approval")]
    with pytest.raises(ValidationFailed) as caught:  # the approval names the day the referral was made
        act("approve_late_recording", late.referral,
            {"step": "referral", "step_date": date(2026, 10, 2), "reason": "x"}, date(2026, 11, 24))
    assert caught.value.errors[0].rule == "referral_date"
    approved = act("approve_late_recording", late.referral,
                   {"step": "referral", "step_date": date(2026, 10, 1), "reason": "x"}, date(2026, 11, 24))
    assert act("accept", approved.referral, {"date": date(2026, 11, 24)}, date(2026, 11, 24)).referral.accepted_on
    # The window and eligibility apply on the day it was made.
    with pytest.raises(Exception) as outside:
        refer(NORFOLK, today=date(2026, 11, 24), consent_date=date(2025, 3, 1), referral_date=date(2025, 3, 31))
    assert getattr(outside.value, "reason", None) == "outside_referral_window"


def test_late_recordings_are_counted_for_the_nightly_report():
    from chalicelib.domain import compliance, recording

    assert recording.counted({"recorded_late": {"working_days": 3}}) == {"recorded_late": 1}
    assert recording.counted({"recorded_late": {"working_days": 30, "beyond_limit": True}}) == {
        "recorded_late": 1, "recorded_beyond_limit": 1}
    assert recording.counted({}) == {}
    checks = compliance.programme_checks(NORFOLK, {}, {"kings-lynn-works": {"recorded_late": 3,
                                                                            "recorded_beyond_limit": 1}})
    assert [(c.measure, c.actual, c.met) for c in checks if c.measure.startswith("recorded_")] == [
        ("recorded_late", 3, None), ("recorded_beyond_limit", 1, None)]
