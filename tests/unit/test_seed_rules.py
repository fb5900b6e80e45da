"""The seeds' rules as pure functions: each test names the seed and the numbers it takes from it.

docs/rules.md lists every programme rule with the rulebook field that holds it and the test that proves it.
"""
from __future__ import annotations

from datetime import date

from chalicelib.adapters.rulebooks import get_rulebook
from chalicelib.domain import compliance
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
