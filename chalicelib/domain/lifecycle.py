"""The referral lifecycle as one explicit state machine.

Every action a caller can take on a referral is a row here: the states it may be taken from and the state
it leaves the referral in. Anything not in this table is refused with the current state named.
"""
from __future__ import annotations

from .errors import InvalidTransition

REFERRED = "referred"            # sent by a referrer, waiting for the provider to acknowledge
ACCEPTED = "accepted"            # acknowledged and accepted, waiting to start
REJECTED = "rejected"            # acknowledged and rejected with a reason (final)
DID_NOT_START = "did_not_start"  # accepted but never started (final)
STARTED = "started"              # on provision, not yet assessed
ASSESSED = "assessed"            # initial assessment done, action plan due
IN_SUPPORT = "in_support"        # action plan agreed, regular reviews running
IN_WORK = "in_work"              # job start recorded, in-work support and sustainment checks
EXITED = "exited"                # left provision with an exit reason (final; a return is a new referral)

STATES = (REFERRED, ACCEPTED, REJECTED, DID_NOT_START, STARTED, ASSESSED, IN_SUPPORT, IN_WORK, EXITED)
FINAL_STATES = frozenset({REJECTED, DID_NOT_START, EXITED})
ON_PROVISION = (STARTED, ASSESSED, IN_SUPPORT, IN_WORK)

_SAME = object()  # the action leaves the state as it is

# action -> {from state: to state}
TRANSITIONS: dict[str, dict[str, str]] = {
    "accept": {REFERRED: ACCEPTED},
    "reject": {REFERRED: REJECTED},
    "start": {ACCEPTED: STARTED},
    "did_not_start": {ACCEPTED: DID_NOT_START},
    "assessment": {STARTED: ASSESSED, ASSESSED: ASSESSED, IN_SUPPORT: IN_SUPPORT, IN_WORK: IN_WORK},
    "action_plan": {ASSESSED: IN_SUPPORT, IN_SUPPORT: IN_SUPPORT, IN_WORK: IN_WORK},
    "review": {IN_SUPPORT: IN_SUPPORT, IN_WORK: IN_WORK},
    "job_start": {ASSESSED: IN_WORK, IN_SUPPORT: IN_WORK, IN_WORK: IN_WORK},
    "sustainment": {IN_WORK: IN_WORK},
    "progression": {IN_WORK: IN_WORK},
    "module_move": {s: s for s in ON_PROVISION},
    "transfer": {ACCEPTED: ACCEPTED, **{s: s for s in ON_PROVISION}},
    "exit": {s: EXITED for s in ON_PROVISION},
    "re_referral": {EXITED: EXITED},
    # The nightly run closes a referral never started by its start deadline once the referral window has shut.
    "close_unstarted": {REFERRED: DID_NOT_START, ACCEPTED: DID_NOT_START},
}

# Which states hold a place on the programme (the participant cannot be referred anywhere else meanwhile).
ACTIVE_STATES = frozenset(set(STATES) - FINAL_STATES)


def next_state(current: str, action: str) -> str:
    """The state `action` leads to from `current`, or InvalidTransition naming the current state."""
    allowed = TRANSITIONS[action]
    if current not in allowed:
        raise InvalidTransition(action, current, sorted(allowed))
    return allowed[current]


# Actions only the system takes (never offered to a caller).
SYSTEM_ACTIONS = frozenset({"close_unstarted"})


def allowed_actions(current: str) -> list[str]:
    """What a caller may do next from `current`."""
    return sorted(a for a, table in TRANSITIONS.items() if current in table and a not in SYSTEM_ACTIONS)
