"""How long a participant's personal fields are kept (UK GDPR storage limitation), and when they may be erased.

Each programme's rulebook states its retention (`Retention`): until a closure date its funder sets (ESF: records
kept until the programme's closure), or a stated period after the referral ends. When a referral ends, its
erasure becomes pending nightly work due the day after retention ends; the run erases the personal fields and
keeps everything else: the referral's dates and states, the payment lines, the audit trail, all of which name
the person only by the pseudonymous reference.

An erasure request by the data controller (the programme's commissioner) is honoured where the law allows it,
and refused with a named reason otherwise: while the person is still on the programme, while a claim for them is
open (awaiting a decision or payment), or while the funder requires the records kept (a legal obligation, UK
GDPR Article 17(3)(b)).
"""
from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from . import states
from .errors import DomainError
from .referral import Event, Referral
from .rulebook import Rulebook

ERASE = "erase_personal_data"  # the pending item (and the event) of an erasure
RETENTION_ENDED, CONTROLLER_REQUEST = "retention_ended", "controller_request"


class ErasureRefused(DomainError):
    """The law does not allow the erasure now; `reason` names why (participant_active, claim_open,
    retention_mandated)."""

    code = "erasure-refused"

    def __init__(self, reason: str, detail: str, **extra: Any) -> None:
        super().__init__(detail, None, reason=reason, **extra)
        self.reason = reason


def retention_ends(rulebook: Rulebook, referral: Referral) -> date | None:
    """The last day the personal fields are kept; None while the referral has not ended."""
    if referral.status not in states.FINAL_STATES or referral.closed_on is None:
        return None
    return rulebook.retention.ends(referral.closed_on, rulebook.nation)


def pending_erasure(rulebook: Rulebook, referral: Referral) -> tuple[date, date, str] | None:
    """(due, act on, description) of the referral's erasure, or None (still running, or already erased)."""
    ends = retention_ends(rulebook, referral)
    if ends is None or referral.erased_on is not None:
        return None
    return ends, ends + timedelta(days=1), (f"personal fields erased after {ends.isoformat()} "
                                            f"({rulebook.retention.describe()})")


def erasure_refusal(rulebook: Rulebook, referral: Referral, open_claims: int, today: date) -> ErasureRefused | None:
    """Why the controller's erasure request cannot be honoured today (None: it can)."""
    if referral.status not in states.FINAL_STATES:
        return ErasureRefused("participant_active", "the participant is still on the programme; their provider "
                              "needs the details until they exit", status=referral.status)
    if open_claims:
        return ErasureRefused("claim_open", f"{open_claims} claim(s) for this participant await a decision or "
                              "payment; erase once they are settled", open_claims=open_claims)
    ends = retention_ends(rulebook, referral)
    if rulebook.retention.funder_mandated and ends is not None and today <= ends:
        return ErasureRefused("retention_mandated", f"the funder requires these records kept until "
                              f"{ends.isoformat()} ({rulebook.retention.describe()})", retained_until=ends.isoformat())
    return None


def erase(referral: Referral, on: date, why: str) -> tuple[Referral, Event]:
    """The referral without its personal fields, and the audit event that says so (naming nobody)."""
    after = replace(referral, participant=None, erased_on=on, version=referral.version + 1)
    return after, Event(ERASE, on, referral.status, referral.status, {"reason": why})
