"""Late recording: a step is dated the day it happened, recorded the day it is recorded, and the gap is bounded.

Every step carries the date it happened (and a referral the date it was made), separate from when it is recorded.
A date in the future, or before the step it follows, is refused by the step's own rule. A date older than the
programme's late-recording limit (default 20 working days) needs the commissioner's approval, given beforehand on
the referral for that step and date (`approve_late_recording`); a referral itself recorded that late is taken but
held (it cannot be accepted) until the commissioner approves it. A step recorded on a later working day than it
happened carries a `recorded_late` marker in its event: the working days late, and the approval where one was
needed. Deadlines and fees then run from the date it happened, as they always do.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from .calendar import working_days_between
from .errors import ValidationFailed
from .referral import Referral
from .rulebook import Rulebook

REFERRAL = "referral"  # the name a late referral's approval is given under


def approval_key(step_name: str, on: date) -> str:
    return f"{step_name}@{on.isoformat()}"


def beyond_limit(rulebook: Rulebook, on: date, today: date) -> bool:
    """Whether something that happened on `on`, recorded `today`, is older than the late-recording limit."""
    return today > rulebook.late_recording_limit.after(on, rulebook.nation)


def marker(rulebook: Rulebook, referral: Referral | None, step_name: str, on: date, today: date,
           hold: bool = False) -> dict[str, Any] | None:
    """The `recorded_late` marker of a step dated `on` and recorded `today`, or None if recorded in time. Beyond
    the limit it needs the commissioner's approval for this step and date: without one it is refused, or, with
    `hold` (a referral), marked as awaiting it."""
    days = working_days_between(on, today, rulebook.nation)
    if days < 1:
        return None
    out: dict[str, Any] = {"working_days": days, "limit": rulebook.late_recording_limit.describe()}
    if not beyond_limit(rulebook, on, today):
        return out
    approval = (referral.late_approvals if referral else {}).get(approval_key(step_name, on))
    if approval is not None:
        return {**out, "beyond_limit": True, "approved_on": approval["approved_on"]}
    if hold:
        return {**out, "beyond_limit": True, "awaiting_approval": True}
    raise ValidationFailed.one(
        "date", "late_recording_limit",
        f"{on.isoformat()} is {days} working days ago, beyond the programme's limit of "
        f"{rulebook.late_recording_limit.describe()}: the commissioner's approval of this {step_name} on this date "
        "is needed first")


def counted(data: dict[str, Any]) -> dict[str, int]:
    """What a step's event adds to its provider's late-recording counters (reported by the nightly run)."""
    late = data.get("recorded_late")
    if not late:
        return {}
    return {"recorded_late": 1, **({"recorded_beyond_limit": 1} if late.get("beyond_limit") else {})}


def awaiting_referral_approval(rulebook: Rulebook, referral: Referral) -> bool:
    """A referral recorded beyond the limit after it was made, not yet approved by the commissioner."""
    return (beyond_limit(rulebook, referral.referred_on, referral.created_at.date())
            and approval_key(REFERRAL, referral.referred_on) not in referral.late_approvals)


def check_referral_not_held(rulebook: Rulebook, referral: Referral) -> None:
    if awaiting_referral_approval(rulebook, referral):
        raise ValidationFailed.one(
            "referral_date", "late_recording_approval",
            f"the referral was recorded more than {rulebook.late_recording_limit.describe()} after it was made "
            f"({referral.referred_on.isoformat()}): the commissioner's approval is needed before it is accepted")


def approve(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> dict[str, Any]:
    """The commissioner's approval of one late step (or the late referral) on one date: checked and returned as the
    referral's new `late_approvals`."""
    step_name, on = payload["step"], payload["step_date"]
    if on > today:
        raise ValidationFailed.one("step_date", "not_in_future", f"step_date {on.isoformat()} is in the future")
    if step_name == REFERRAL and on != referral.referred_on:
        raise ValidationFailed.one("step_date", "referral_date",
                                   f"the referral was made on {referral.referred_on.isoformat()}")
    recorded = referral.created_at.date() if step_name == REFERRAL else today
    if not beyond_limit(rulebook, on, recorded):
        raise ValidationFailed.one("step_date", "within_limit",
                                   f"{on.isoformat()} is within the late-recording limit of "
                                   f"{rulebook.late_recording_limit.describe()}: no approval is needed")
    key = approval_key(step_name, on)
    if key in referral.late_approvals:
        raise ValidationFailed.one("step", "once", f"the {step_name} on {on.isoformat()} is already approved")
    return {**referral.late_approvals, key: {"approved_on": today.isoformat(), "reason": payload["reason"]}}
