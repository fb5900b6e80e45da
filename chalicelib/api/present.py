"""Turn domain objects into response bodies (marshmallow dump)."""
from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from ..domain import access, deadlines, eligibility, lifecycle, steps
from ..domain.access import View
from ..domain.participants import pseudonymous_reference
from ..domain.referral import RecordedEvent, Referral
from ..domain.rulebook import Rulebook
from ..payments.claim_file import ClaimFile
from ..payments.lines import PaymentLine
from ..payments.money import pounds
from ..payments.validation import Check
from .schema_refs import schemas as s

DOWNLOAD_SECONDS = 900


def referral_body(referral: Referral, rulebook: Rulebook, today: date, view: View | None = None) -> dict[str, Any]:
    """The referral as `view` (the caller's part in it, domain/access.py) lets it be seen; None: everything.
    The participant's personal fields only where the domain's need-to-know rule allows (`view.personal_data`),
    otherwise the pseudonymous reference alone."""
    data = asdict(referral)
    # Drawn from the sealed eligibility answers each time they are shown: the groups (disability, ex-offender...)
    # are special category data, so they are never stored beside the referral, nor kept once it is erased.
    data["priority_groups"] = eligibility.priority_groups(rulebook, referral.participant.eligibility) \
        if referral.participant is not None else []
    if referral.job_start:
        data["job_start"]["start_date"] = date.fromisoformat(referral.job_start["start_date"])
    reference = pseudonymous_reference(referral.participant_hash)
    data.pop("erased_on", None)
    if referral.participant is None:
        data["participant"] = {"reference": reference, "personal_data": "erased"}
        data.pop("priority_groups")
    elif view is None or view.personal_data:
        data["participant"] = {**data["participant"], "reference": reference, "personal_data": "shown"}
    else:
        data["participant"] = {"reference": reference, "personal_data": "withheld"}
        data.pop("priority_groups")
    running = deadlines.running(rulebook, referral)
    data["deadlines"] = [d.as_dict(today) for d in running]
    data["next_review_due"] = next((d.due for d in running if d.rule == "review"), None)
    data["allowed_actions"] = lifecycle.available_actions(rulebook, referral)
    if view is not None:
        _as_seen(data, referral, view)
    body: dict[str, Any] = s.ReferralOut().dump(data)
    return body


def _as_seen(data: dict[str, Any], referral: Referral, view: View) -> None:
    """Narrow the body to what the party sees: its fields, its contacts, the steps it may take itself."""
    data["viewed_as"] = view.role
    data["contacts"] = [asdict(c) for c in view.contacts(referral)]
    for name in view.hidden:
        data.pop(name, None)
    if view.deadlines is not None:
        data["deadlines"] = [d for d in data["deadlines"] if d["rule"] in view.deadlines]
    data["allowed_actions"] = [a for a in data["allowed_actions"] if (step := steps.find(a)) is not None
                               and access.may_record(view.org_id, view.key_roles, referral, step.actor, step.parties)]


def event_body(event: RecordedEvent) -> dict[str, Any]:
    body: dict[str, Any] = s.EventOut().dump({
        "seq": event.seq, "type": event.type, "occurred_on": event.occurred_on, "recorded_at": event.recorded_at,
        "actor": {"org_id": event.actor_org_id, "key_id": event.actor_key_id}, "from_status": event.from_status,
        "to_status": event.to_status, "data": event.data})
    return body


def line_body(line: PaymentLine) -> dict[str, Any]:
    body: dict[str, Any] = s.LineOut().dump({**asdict(line), "period": line.period})
    return body


def claim_file_body(record: ClaimFile, url: str | None, show_seed: bool = False) -> dict[str, Any]:
    """A claim file as cut, validated and paid. The sample's seed (from which anyone can tell the lines drawn) is
    shown to the commissioner only."""
    totals = record.totals or {}
    sample = None if record.sample_seed is None else {
        "seed": record.sample_seed if show_seed else None, "sample_rate_bp": record.sample_rate_bp,
        "size": record.sample_size, "checked": record.sample_checked}
    body: dict[str, Any] = s.ClaimFileOut().dump({
        "id": record.claim_file_id, "programme_id": record.programme_id, "period": record.period,
        "payee_org_id": record.payee_org_id, "status": record.status, "line_count": record.line_count,
        "locked_lines": record.locked_lines,
        "total_pence": record.total_pence, "total_gbp": pounds(record.total_pence),
        "totals": totals.get("by_payee_and_funder", []), "download_url": url,
        "download_expires_in": DOWNLOAD_SECONDS if url else None, "sample": sample,
        "removed_line_count": record.removed_line_count, "removed_pence": record.removed_pence,
        "payable_pence": record.payable_pence, "paid_on": record.paid_on, "paid_pence": record.paid_pence,
        "paid_reference": record.paid_reference})
    return body


def check_body(check: Check) -> dict[str, Any]:
    body: dict[str, Any] = s.LineCheckOut().dump(asdict(check))
    return body
