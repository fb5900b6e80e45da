"""The referral lifecycle as one explicit state machine, derived from the step registry (steps.py).

Every action a caller can take on a referral is a registered step: the states it may be taken from and the state
it leaves the referral in. Anything not in that table is refused with the current state named.
"""
from __future__ import annotations

from . import steps
from .referral import Referral
from .rulebook import Rulebook
from .states import (  # noqa: F401  (the states are part of this module's interface)
    ACCEPTED,
    ACTIVE_STATES,
    ASSESSED,
    DID_NOT_START,
    EXITED,
    FINAL_STATES,
    IN_SUPPORT,
    IN_WORK,
    ON_PROVISION,
    REFERRED,
    REJECTED,
    STARTED,
    STATES,
)


def transitions() -> dict[str, dict[str, str]]:
    """action -> {from state: to state}, for every registered step."""
    return {s.name: dict(s.transitions) for s in steps.all_steps()}


def next_state(current: str, action: str) -> str:
    """The state `action` leads to from `current`, or InvalidTransition naming the current state."""
    return steps.next_state(current, steps.get(action))


def system_actions() -> frozenset[str]:
    """Actions only the system takes (never offered to a caller)."""
    return frozenset(s.name for s in steps.all_steps() if s.actor == steps.SYSTEM)


def allowed_actions(current: str) -> list[str]:
    """What a caller may do next from `current`: the names of the steps it can call."""
    return sorted(s.name for s in steps.all_steps() if s.offered and current in s.transitions)


def available_actions(rulebook: Rulebook, referral: Referral) -> list[str]:
    """The steps that may be taken next on this referral: allowed from its state and applying to its programme
    and its parties (a route only while its prime holds it, a mentoring contact only with a mentor...). An exited
    referral offers a return only where the programme allows one (and a follow-up while its leaver is tracked)."""
    names = allowed_actions(referral.status)
    if referral.status == EXITED:
        names = [n for n in names if n != "re_referral" or rulebook.returns_allowed]
    return [name for name in names
            if (step := steps.get(name)).available is None or step.available(rulebook, referral)]
