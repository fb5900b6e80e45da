"""The referral journey as use cases. No HTTP here: the API layer parses, renders and commits."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import date, datetime

from .. import clock, config, logs
from ..domain import compliance, journey, lifecycle
from ..domain.access import Principal, ensure_holder, ensure_visible
from ..domain.errors import NotFound, ValidationFailed
from ..domain.journey import Referral
from ..domain.participants import participant_hash
from ..domain.rulebook import Rulebook, get_rulebook
from ..store import compliance as compliance_store
from ..store import repository as repo
from ..store.transaction import Transaction
from . import payments


@dataclass(frozen=True)
class Result:
    referral: Referral
    rulebook: Rulebook
    created: bool = False


def new_referral_id() -> str:
    return "ref_" + secrets.token_hex(10)


def rulebook_for(programme_id: str, field: str = "programme_id") -> Rulebook:
    rulebook = get_rulebook(programme_id)
    if rulebook is None:
        raise ValidationFailed.one(field, "known_programme", f"no programme {programme_id!r}")
    return rulebook


def _visible_referral(principal: Principal, referral_id: str) -> Referral:
    referral = repo.get_referral(referral_id)
    if referral is None:
        raise NotFound("no such referral")
    ensure_visible(principal, referral)
    return referral


def read(principal: Principal, referral_id: str) -> Result:
    referral = _visible_referral(principal, referral_id)
    return Result(referral, rulebook_for(referral.programme_id))


def create_referral(principal: Principal, payload: dict, tx: Transaction,
                    previous: Referral | None = None) -> Result:
    principal.require("referrer")
    rulebook = rulebook_for(payload["programme_id"])
    today, now = clock.today(), clock.now()
    person_hash = participant_hash(payload["participant"]["nino"], config.participant_hash_key())
    person = repo.get_participant(person_hash)
    if person is not None and person.active_referral_id:
        raise journey.already_active()
    step = journey.new_referral(
        rulebook=rulebook, referral_id=new_referral_id(), referrer_org_id=principal.org_id, payload=payload,
        participant_hash=person_hash, today=today, now=now,
        previous_programmes=list(person.programmes) if person else [],
        previous_referral_id=previous.id if previous else None)
    provider = rulebook.provider(step.referral.provider_org_id)
    repo.add_new_referral(tx, step.referral, step.event, principal.org_id, principal.key_id, now, person,
                          capacity=provider.allocation, total_capacity=rulebook.total_capacity)
    compliance_store.add_pending_changes(tx, None, set(), step.referral, compliance.pending(rulebook, step.referral),
                                         provider.management_fee_bp)
    tx.after_commit.append(lambda: logs.count("ReferralsCreated"))
    return Result(step.referral, rulebook, created=True)


def re_refer(principal: Principal, referral_id: str, payload: dict, tx: Transaction) -> Result:
    """A former participant returns: a new referral for the same person, linked to the old one."""
    former = _visible_referral(principal, referral_id)
    principal.require("referrer")
    rulebook = rulebook_for(former.programme_id)
    journey.check_return(rulebook, former)
    p = former.participant
    new_payload = {
        "programme_id": former.programme_id,
        "provider_id": payload.get("provider_id") or former.provider_org_id,
        "support_level": payload.get("support_level") or former.support_level,
        "module_id": payload.get("module_id"),
        "consent": payload["consent"],
        "notes_ref": payload.get("notes_ref"),
        "participant": {"nino": p.nino, "given_name": p.given_name, "family_name": p.family_name,
                        "date_of_birth": p.date_of_birth, "postcode": p.postcode,
                        "eligibility": payload.get("eligibility") or p.eligibility},
    }
    return create_referral(principal, new_payload, tx, previous=former)


# action name -> (domain function, takes the rulebook, the prime may act too)
_STEPS = {
    "acknowledgement": (journey.acknowledge, False, False),
    "start": (journey.start, False, False),
    "did_not_start": (journey.did_not_start, False, False),
    "assessment": (journey.assessment, False, False),
    "action_plan": (journey.action_plan, False, False),
    "review": (journey.review, True, False),
    "outcome": (journey.outcome, True, False),
    "module_move": (journey.module_move, True, False),
    "exit": (journey.exit_provision, True, False),
}


def record(principal: Principal, referral_id: str, action: str, payload: dict, tx: Transaction) -> Result:
    """Record one journey step on a referral, by the provider holding it."""
    before = _visible_referral(principal, referral_id)
    rulebook = rulebook_for(before.programme_id)
    today, now = clock.today(), clock.now()
    if action == "transfer":
        ensure_holder(principal, before, prime_may_act=True)
        step, target = journey.transfer(rulebook, before, payload, today)
        repo.add_transfer_places(tx, before.programme_id, before.provider_org_id, target.org_id, target.allocation)
    else:
        decide, needs_rulebook, prime_may_act = _STEPS[action]
        ensure_holder(principal, before, prime_may_act=prime_may_act)
        step = decide(rulebook, before, payload, today) if needs_rulebook else decide(before, payload, today)
    after = payments.add_earned_lines(tx, rulebook, step.referral, step.event, principal.org_id)
    step = replace(step, referral=after)
    commit_step(tx, rulebook, before, step, principal.org_id, principal.key_id, today, now)
    return Result(step.referral, rulebook)


def commit_step(tx: Transaction, rulebook: Rulebook, before: Referral, step, actor_org: str, actor_key: str,
                today: date, now: datetime) -> None:
    """Everything a journey step writes besides its payment lines, in the step's one transaction: the referral
    (optimistic lock), the event, the person's release, the pending nightly work, flags the step resolves and
    the programme counters."""
    after = step.referral
    repo.add_referral_change(tx, before, after, step.event, actor_org, actor_key, now)
    if after.status in lifecycle.FINAL_STATES:
        repo.add_release(tx, after, participated=after.status == lifecycle.EXITED)
    old, new = compliance.pending(rulebook, before), compliance.pending(rulebook, after)
    provider = rulebook.provider(after.provider_org_id)
    compliance_store.add_pending_changes(tx, before, old, after, new, provider.management_fee_bp if provider else 0)
    moved = before.provider_org_id != after.provider_org_id
    if moved or any(p.act_on <= today and not p.is_tranche for p in old):
        still_due = {(p.rule, p.due.isoformat()) for p in new}
        flags = compliance_store.open_flags(after.id)
        done = [f for f in flags if (f.rule, f.due) not in still_due]
        compliance_store.add_resolutions(tx, done, today)
        if moved:
            compliance_store.add_reassignment(tx, [f for f in flags if f not in done], after)
    compliance_store.add_stats(tx, after.programme_id, after.provider_org_id, counted(before, step))
    metric = EVENT_METRICS.get(step.event.type)
    if metric:
        tx.after_commit.append(lambda: logs.count(metric))


# Journey events counted as business metrics once committed.
EVENT_METRICS = {"accept": "ReferralsAccepted", "reject": "ReferralsRejected", "start": "Starts",
                 "did_not_start": "DidNotStart", "job_start": "JobStarts", "sustainment": "SustainmentChecks",
                 "transfer": "Transfers", "exit": "Exits", "close_unstarted": "ReferralsClosedUnstarted"}


def counted(before: Referral, step) -> dict[str, int]:
    """What this step adds to the programme-level counters (starts, cohort mix, job outcomes by hours)."""
    after, event = step.referral, step.event
    if event.type == "start":
        person = after.participant.eligibility
        return {"started": 1, **({"ld_or_autism": 1} if person.get("learning_disability") or person.get("autism")
                                 else {})}
    if event.type == "job_start" and before.job_start is None:
        band = event.data.get("hours_band")
        return {"job_starts": 1, **({"over_8_hours": 1} if band in ("over_8", "over_16") else {}),
                **({"over_16_hours": 1} if band == "over_16" else {})}
    return {}


def list_referrals(principal: Principal, view: str | None, limit: int, cursor: str | None,
                   status: str | None, programme_id: str | None, provider_id: str | None):
    chosen = principal.list_view(view)
    if chosen == "referrer":
        principal.require("referrer")
    return repo.list_referrals(chosen, principal.org_id, limit, cursor, status=status,
                               programme_id=programme_id, provider_org_id=provider_id)


def events(principal: Principal, referral_id: str, limit: int, cursor: str | None):
    _visible_referral(principal, referral_id)
    return repo.list_events(referral_id, limit, cursor)
