"""The referral state machine (chalicelib/domain/lifecycle.py, derived from the step registry in
chalicelib/domain/steps.py), checked against a table written out by hand."""
from __future__ import annotations

import pytest

from chalicelib.domain import lifecycle, steps
from chalicelib.domain.errors import InvalidTransition
from chalicelib.domain.lifecycle import (
    ACCEPTED,
    ASSESSED,
    DID_NOT_START,
    EXITED,
    FINAL_STATES,
    IN_SUPPORT,
    IN_WORK,
    REFERRED,
    REJECTED,
    STARTED,
    STATES,
    allowed_actions,
    next_state,
)

# The lifecycle as the DOMAIN describes it, written out independently of the product's table.
EXPECTED: dict[str, dict[str, str]] = {
    "accept": {"referred": "accepted"},
    "reject": {"referred": "rejected"},
    "start": {"accepted": "started"},
    "did_not_start": {"accepted": "did_not_start"},
    "assessment": {"started": "assessed", "assessed": "assessed", "in_support": "in_support",
                   "in_work": "in_work"},
    "action_plan": {"assessed": "in_support", "in_support": "in_support", "in_work": "in_work"},
    "review": {"in_support": "in_support", "in_work": "in_work"},
    "job_start": {"assessed": "in_work", "in_support": "in_work", "in_work": "in_work"},
    "sustainment": {"in_work": "in_work"},
    "progression": {"in_work": "in_work"},
    "module_move": {"started": "started", "assessed": "assessed", "in_support": "in_support",
                    "in_work": "in_work"},
    "transfer": {"accepted": "accepted", "started": "started", "assessed": "assessed",
                 "in_support": "in_support", "in_work": "in_work"},
    "exit": {"started": "exited", "assessed": "exited", "in_support": "exited", "in_work": "exited"},
    "re_referral": {"exited": "exited"},
    "close_unstarted": {"referred": "did_not_start", "accepted": "did_not_start"},
    # The delivery chain: the prime routes a referral it holds, parties join and leave with dates, a hub hands a
    # person to a spoke, a mentor records its contacts. None of them moves the referral to another state.
    "route": {"referred": "referred"},
    "add_party": {s: s for s in ("referred", "accepted", "started", "assessed", "in_support", "in_work")},
    "end_party": {s: s for s in ("referred", "accepted", "started", "assessed", "in_support", "in_work")},
    "spoke_handover": {s: s for s in ("accepted", "started", "assessed", "in_support", "in_work")},
    "mentoring_contact": {s: s for s in ("accepted", "started", "assessed", "in_support", "in_work")},
    # ESF's eligibility decision before a start (an ineligible person is told and the referral closes), and the
    # follow-up of a leaver not in work after the exit.
    "eligible": {"referred": "referred", "accepted": "accepted"},
    "ineligible": {"referred": "rejected", "accepted": "rejected"},
    "follow_up": {"exited": "exited"},
    # a flexible-fund spend against the action plan; an employer incentive agreed in brokerage (seed 001).
    "flexible_fund_spend": {"assessed": "assessed", "in_support": "in_support", "in_work": "in_work"},
    "employer_incentive": {"assessed": "assessed", "in_support": "in_support", "in_work": "in_work"},
    "module_extension_request": {"started": "started", "assessed": "assessed", "in_support": "in_support",
                                 "in_work": "in_work"},
    "module_extension_decision": {"started": "started", "assessed": "assessed", "in_support": "in_support",
                                  "in_work": "in_work"},
    "approve_late_recording": {"referred": "referred", "accepted": "accepted", "started": "started",
                               "assessed": "assessed", "in_support": "in_support", "in_work": "in_work",
                               "exited": "exited"},
}

ALL_PAIRS = [(action, state) for action in EXPECTED for state in STATES]
TRANSITIONS = lifecycle.transitions()
SYSTEM_ACTIONS = lifecycle.system_actions()
COMMISSIONER_ACTIONS = {s.name for s in steps.all_steps() if s.actor == steps.COMMISSIONER}


def test_states_are_the_nine_of_the_domain():
    assert STATES == ("referred", "accepted", "rejected", "did_not_start", "started", "assessed",
                      "in_support", "in_work", "exited")
    assert {"rejected", "did_not_start", "exited"} == FINAL_STATES
    assert {"referred", "accepted", "started", "assessed", "in_support", "in_work"} == lifecycle.ACTIVE_STATES


def test_transition_table_is_the_expected_one():
    assert TRANSITIONS == EXPECTED


@pytest.mark.parametrize("action, state", ALL_PAIRS)
def test_next_state_for_every_action_and_state(action, state):
    if state in EXPECTED[action]:
        assert next_state(state, action) == EXPECTED[action][state]
        return
    with pytest.raises(InvalidTransition) as caught:
        next_state(state, action)
    exc = caught.value
    assert exc.current_state == state
    assert exc.extra == {"current_state": state, "action": action}
    assert f"'{state}'" in str(exc)
    assert f"'{action}'" in str(exc)
    assert exc.code == "invalid-transition"
    # The message lists where the action is allowed from.
    for allowed_from in EXPECTED[action]:
        assert allowed_from in str(exc)


def test_invalid_transition_message_is_exact():
    with pytest.raises(InvalidTransition) as caught:
        next_state(IN_WORK, "accept")
    assert str(caught.value) == "'accept' is not allowed while the referral is 'in_work' (allowed from: referred)"


def test_unknown_state_is_refused_with_that_state_named():
    with pytest.raises(InvalidTransition) as caught:
        next_state("paused", "review")
    assert caught.value.current_state == "paused"
    assert "'paused'" in str(caught.value)


@pytest.mark.parametrize("state", [REJECTED, DID_NOT_START])
def test_rejected_and_did_not_start_allow_nothing(state):
    assert allowed_actions(state) == []
    for action in EXPECTED:
        with pytest.raises(InvalidTransition):
            next_state(state, action)


def test_exited_allows_only_a_follow_up_or_a_re_referral_and_stays_exited():
    assert allowed_actions(EXITED) == ["follow_up", "re_referral"]
    assert next_state(EXITED, "re_referral") == EXITED
    assert next_state(EXITED, "follow_up") == EXITED


CHAIN = ["add_party", "end_party", "mentoring_contact", "spoke_handover"]
EXTEND = ["module_extension_request"]  # (the commissioner's decision is never offered to the referral's parties)
FUND = ["employer_incentive", "flexible_fund_spend"]  # from the assessment on (a spend needs the action plan)


@pytest.mark.parametrize("state, expected", [
    (REFERRED, ["accept", "add_party", "eligible", "end_party", "ineligible", "reject", "route"]),
    (ACCEPTED, sorted(["did_not_start", "eligible", "ineligible", "start", "transfer", *CHAIN])),
    (STARTED, sorted(["assessment", "exit", "module_move", "transfer", *CHAIN, *EXTEND])),
    (ASSESSED, sorted(["action_plan", "assessment", "exit", "job_start", "module_move", "transfer", *CHAIN,
                       *EXTEND, *FUND])),
    (IN_SUPPORT, sorted(["action_plan", "assessment", "exit", "job_start", "module_move", "review", "transfer",
                         *CHAIN, *EXTEND, *FUND])),
    (IN_WORK, sorted(["action_plan", "assessment", "exit", "job_start", "module_move", "progression", "review",
                      "sustainment", "transfer", *CHAIN, *EXTEND, *FUND])),
    (REJECTED, []),
    (DID_NOT_START, []),
    (EXITED, ["follow_up", "re_referral"]),
])
def test_allowed_actions(state, expected):
    assert allowed_actions(state) == expected


@pytest.mark.parametrize("state", STATES)
def test_allowed_actions_agrees_with_next_state(state):
    allowed = allowed_actions(state)
    assert allowed == sorted(allowed)
    for action in TRANSITIONS:
        if action in allowed:
            assert next_state(state, action) in STATES
        elif action in SYSTEM_ACTIONS or action in COMMISSIONER_ACTIONS:
            # The system's own actions, and the commissioner's decisions, are never offered to the referral's own
            # organisations.
            assert action not in allowed
        else:
            with pytest.raises(InvalidTransition):
                next_state(state, action)


def test_every_target_state_is_a_known_state():
    for table in TRANSITIONS.values():
        assert set(table) <= set(STATES)
        assert set(table.values()) <= set(STATES)
