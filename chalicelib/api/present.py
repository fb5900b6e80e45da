"""Turn domain objects into response bodies (marshmallow dump)."""
from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime

from ..domain import deadlines, lifecycle
from ..domain.journey import Referral
from ..domain.participants import pseudonymous_reference
from ..domain.rulebook import Rulebook
from .schemas import EventOut, ReferralOut


def referral_body(referral: Referral, rulebook: Rulebook, today: date) -> dict:
    data = asdict(referral)
    if referral.job_start:
        data["job_start"]["start_date"] = date.fromisoformat(referral.job_start["start_date"])
    data["participant"]["reference"] = pseudonymous_reference(referral.participant_hash)
    running = deadlines.running(rulebook, referral)
    data["deadlines"] = [d.as_dict(today) for d in running]
    data["next_review_due"] = next((d.due for d in running if d.rule == "review"), None)
    data["allowed_actions"] = [] if referral.status in lifecycle.FINAL_STATES else lifecycle.allowed_actions(
        referral.status)
    if referral.status == lifecycle.EXITED and rulebook.returns_allowed:
        data["allowed_actions"] = ["re_referral"]
    return ReferralOut().dump(data)


def event_body(item) -> dict:
    return EventOut().dump({
        "seq": int(item.seq), "type": item.type, "occurred_on": date.fromisoformat(item.occurred_on),
        "recorded_at": datetime.fromisoformat(item.recorded_at), "actor": {"org_id": item.actor_org_id, "key_id": item.actor_key_id},
        "from_status": item.from_status, "to_status": item.to_status, "data": item.data or {}})
