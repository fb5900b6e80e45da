"""ESF (seed 003): the eligibility decision, due within a set time of the referral, an ineligible person told why and
signposted; leavers not in work followed up on the rulebook's cadence until in work or the tracking period ends."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from chalicelib.adapters.rulebooks import get_rulebook
from chalicelib.domain import compliance, deadlines, lifecycle
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.rulebook import LeaverTracking, Period
from tests.unit.test_journey_deadlines import act, in_support, refer

ESF = get_rulebook("esf-community-hub")
NORFOLK = get_rulebook("flexible-routeways-norfolk")
MONDAY = date(2026, 11, 2)


def _rules(rulebook, referral) -> dict[str, date]:
    return {d.rule: d.due for d in deadlines.running(rulebook, referral)}


def test_the_eligibility_decision_is_due_10_working_days_after_the_referral():
    referral = refer(ESF, today=MONDAY, consent_date=MONDAY).referral
    assert _rules(ESF, referral)["eligibility_decision"] == date(2026, 11, 16)
    assert "eligibility_decision" not in _rules(NORFOLK, refer(NORFOLK, today=MONDAY, consent_date=MONDAY).referral)


def test_an_eligible_decision_or_a_start_stops_the_clock():
    referral = refer(ESF, today=MONDAY, consent_date=MONDAY).referral
    decided = act("eligible", referral, {"date": date(2026, 11, 4)}, date(2026, 11, 4)).referral
    assert decided.status == "referred" and "eligibility_decision" not in _rules(ESF, decided)
    assert decided.eligibility_decision == {"on": "2026-11-04", "outcome": "eligible", "due": "2026-11-16",
                                            "on_time": True}
    with pytest.raises(ValidationFailed) as twice:
        act("eligible", decided, {"date": date(2026, 11, 5)}, date(2026, 11, 5))
    assert twice.value.errors[0].rule == "once"
    accepted = act("accept", referral, {"date": MONDAY}, MONDAY).referral
    started = act("start", accepted, {"date": date(2026, 11, 20)}, date(2026, 11, 20)).referral
    assert started.eligibility_decision == {"on": "2026-11-20", "outcome": "eligible", "due": "2026-11-16",
                                            "on_time": False, "by": "start"}


def test_an_ineligible_decision_closes_the_referral_with_its_reason_and_signposting():
    referral = act("accept", refer(ESF, today=MONDAY, consent_date=MONDAY).referral, {"date": MONDAY}, MONDAY).referral
    step = act("ineligible", referral, {"date": date(2026, 11, 17), "reason": "on_other_dwp_programme",
                                        "signposted_to": "Jobcentre Plus work coach"}, date(2026, 11, 17))
    assert (step.referral.status, step.referral.status_reason, step.referral.closed_on) == (
        "rejected", "ineligible", date(2026, 11, 17))
    assert step.event.data == {"on": "2026-11-17", "outcome": "ineligible", "due": "2026-11-16", "on_time": False,
                               "reason": "on_other_dwp_programme", "signposted_to": "Jobcentre Plus work coach"}
    assert compliance.pending_deadlines(ESF, step.referral) == set()


def test_a_programme_without_the_rule_has_no_eligibility_steps_and_keeps_its_plain_rejection():
    referral = refer(NORFOLK, today=MONDAY, consent_date=MONDAY).referral
    assert not {"eligible", "ineligible"} & set(lifecycle.available_actions(NORFOLK, referral))
    with pytest.raises(ValidationFailed) as refused:
        act("ineligible", referral, {"date": MONDAY, "reason": "age", "signposted_to": "x"}, MONDAY)
    assert refused.value.errors[0].rule == "eligibility_decision"
    assert act("reject", referral, {"date": MONDAY, "reason": "ineligible"}, MONDAY).referral.status == "rejected"
    with pytest.raises(ValidationFailed) as esf:
        act("reject", refer(ESF, today=MONDAY, consent_date=MONDAY).referral, {"date": MONDAY, "reason": "ineligible"}, MONDAY)
    assert esf.value.errors[0].rule == "ineligible_step"


def _exited(rulebook, destination="unemployed", reason="withdrew", on=date(2027, 1, 29)):
    referral = in_support(rulebook)
    review = {"date": on, "destination": destination}
    return act("exit", referral, {"date": on, "reason": reason, "exit_review": review}, on, rulebook).referral


def test_a_leaver_not_in_work_is_followed_up_monthly_for_6_months_then_no_more():
    leaver = _exited(ESF)
    assert leaver.leaver == {"exited_on": "2027-01-29", "destination": "unemployed", "contacts": 0,
                             "tracked_until": "2027-07-29", "last_contact_on": None, "outcome": None}
    pending = compliance.pending_deadlines(ESF, leaver)
    assert [(p.rule, p.due, p.act_on) for p in pending] == [
        ("leaver_follow_up", date(2027, 2, 28), date(2027, 3, 1))]
    day = date(2027, 1, 29)
    for n in range(1, 7):
        day = deadlines.next_follow_up(ESF, leaver)
        leaver = act("follow_up", leaver, {"date": day, "outcome": "not_in_work"}, day).referral
        assert leaver.leaver["contacts"] == n
    assert day == date(2027, 7, 29) and deadlines.next_follow_up(ESF, leaver) is None
    assert compliance.pending_deadlines(ESF, leaver) == set()
    with pytest.raises(ValidationFailed):
        act("follow_up", leaver, {"date": day, "outcome": "not_in_work"}, day)


def test_a_leaver_found_in_work_is_no_longer_tracked():
    leaver = _exited(ESF)
    found = act("follow_up", leaver, {"date": date(2027, 2, 10), "outcome": "self_employed"},
                date(2027, 2, 10)).referral
    assert found.leaver["outcome"] == "self_employed" and deadlines.next_follow_up(ESF, found) is None
    with pytest.raises(ValidationFailed) as early:
        act("follow_up", leaver, {"date": date(2027, 1, 28), "outcome": "not_in_work"}, date(2027, 2, 10))
    assert early.value.errors[0].rule == "not_before"


@pytest.mark.parametrize(("destination", "reason"), [("employment", "completed"), ("self_employment", "completed"),
                                                     ("unknown", "job_sustained")])
def test_a_leaver_in_work_is_not_tracked(destination, reason):
    assert _exited(ESF, destination, reason).leaver is None


def test_the_cadence_and_length_are_the_rulebooks():
    weekly = replace(ESF, leaver_tracking=LeaverTracking(Period(2, "weeks"), Period(4, "weeks")))
    leaver = _exited(weekly)
    assert leaver.leaver["tracked_until"] == "2027-02-26"
    assert deadlines.next_follow_up(weekly, leaver) == date(2027, 2, 12)
    assert _exited(NORFOLK).leaver is None
