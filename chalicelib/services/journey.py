"""The referral journey as use cases: read what a request needs, let the domain decide, add the writes to the
request's one unit of work. No HTTP and no DynamoDB here: the API parses and renders; the store persists."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import date, datetime

from .. import clock, logs, settings
from ..adapters.rulebooks import all_rulebooks, get_rulebook
from ..domain import access, compliance, journey, parties, recording, retention, states, steps
from ..domain.access import Principal, View
from ..domain.errors import FieldError, Forbidden, NotFound, ReferralRefused, ValidationFailed
from ..domain.participants import participant_hash
from ..domain.referral import RecordedEvent, Referral, Step
from ..domain.rulebook import Rulebook
from ..domain.steps import StepDef
from ..payments import tariff
from . import fund, payments, supply_chain
from .deps import store
from .ports import UnitOfWork


@dataclass(frozen=True)
class Result:
    referral: Referral
    rulebook: Rulebook
    created: bool = False
    view: View | None = None  # what the caller sees of it (domain/access.py); None: everything
    left: bool = False  # the step ended the caller's part: `view` is what it saw as it recorded the step


def new_referral_id() -> str:
    return "ref_" + secrets.token_hex(10)


def rulebook_for(programme_id: str, field: str = "programme_id") -> Rulebook:
    rulebook = get_rulebook(programme_id)
    if rulebook is None:
        raise ValidationFailed.one(field, "known_programme", f"no programme {programme_id!r}")
    return rulebook


def _commissioner_of(referral: Referral) -> str:
    """The organisation commissioning the referral's programme (its commissioner key reads the referral)."""
    rulebook = get_rulebook(referral.programme_id)
    return rulebook.commissioner_org_id if rulebook else ""


def visible_referral(principal: Principal, referral_id: str) -> Referral:
    referral = store().referrals.get(referral_id)
    if referral is None:
        raise NotFound("no such referral")
    access.ensure_visible(principal, referral, _commissioner_of(referral))
    return referral


def seen_by(principal: Principal, referral: Referral, rulebook: Rulebook, created: bool = False) -> Result:
    """The referral with what the caller sees of it."""
    return Result(referral, rulebook, created, access.view_of(principal, referral, rulebook.commissioner_org_id))


def read(principal: Principal, referral_id: str) -> Result:
    referral = visible_referral(principal, referral_id)
    return seen_by(principal, referral, rulebook_for(referral.programme_id))


def pending(rulebook: Rulebook, referral: Referral) -> set[compliance.Pending]:
    """Everything the nightly run will need to act on for this referral: its deadlines, fee tranches and, once it
    has ended, the erasure of its personal fields when retention ends."""
    return (compliance.pending_deadlines(rulebook, referral) | tariff.pending_tranches(rulebook, referral)
            | compliance.pending_retention(rulebook, referral))


def create_referral(principal: Principal, payload: dict, tx: UnitOfWork, previous: Referral | None = None) -> Result:
    principal.require("referrer")
    rulebook = rulebook_for(payload["programme_id"])
    today, now = clock.today(), clock.now()
    person_hash = participant_hash(payload["participant"]["nino"], settings.get().participant_key)
    db = store()
    person = db.referrals.participant(person_hash)
    try:
        step = journey.new_referral(
            rulebook=rulebook, referral_id=new_referral_id(), referrer_org_id=principal.org_id, payload=payload,
            participant_hash=person_hash, today=today, now=now,
            active=person is not None and bool(person.active_referral_id),
            previous_programmes=list(person.programmes) if person else [],
            previous_referral_id=previous.id if previous else None)
    except ReferralRefused as refused:
        if refused.reason in journey.PERSON_HELD_REFUSALS:
            count_person_held_refusal(principal, today)
        raise
    provider = rulebook.provider(step.referral.provider_org_id)
    assert provider is not None  # new_referral resolved it from the rulebook
    db.referrals.add_new(tx, step.referral, step.event, principal.org_id, principal.key_id, now, person,
                         capacity=provider.allocation, total_capacity=rulebook.total_capacity)
    supply_chain.count_referral(tx, rulebook, principal.org_id, principal.org_kind)
    db.compliance.add_stats(tx, rulebook.id, provider.org_id, recording.counted(step.event.data))
    puts, deletes = compliance.pending_changes(None, set(), step.referral, pending(rulebook, step.referral),
                                               provider.management_fee_bp)
    db.compliance.add_pending_changes(tx, puts, deletes)
    tx.after_commit.append(lambda: logs.count("ReferralsCreated"))
    return seen_by(principal, step.referral, rulebook, created=True)


def count_person_held_refusal(principal: Principal, today: date) -> None:
    """A referral refused because of what is held about the person: counted per key and day, and the day's
    unusual count flags the key for its organisation (compliance flags). Written at once, not in the request's
    unit of work: the refusal commits nothing else, and the count must outlive it."""
    db = store().compliance
    count = db.count_attempt(compliance.attempts_counter_id(principal.key_id, today))
    if count == compliance.UNUSUAL_PERSON_HELD_ATTEMPTS_PER_DAY:
        db.raise_key_flag(compliance.probing_flag(principal.key_id, principal.org_id, principal.prime_org_id, today))
        logs.count("KeysFlaggedForProbing")


def re_refer(principal: Principal, referral_id: str, payload: dict, tx: UnitOfWork) -> Result:
    """A former participant returns: a new referral for the same person, linked to the old one."""
    former = visible_referral(principal, referral_id)
    principal.require("referrer")
    if principal.org_id != former.referrer_org_id:
        # The new referral would show its referrer the person's details: only the organisation that already
        # referred them may refer them back on this record (anyone else refers them afresh, knowing who they are).
        raise Forbidden("a return is referred by the organisation that referred the participant before")
    rulebook = rulebook_for(former.programme_id)
    steps.apply(steps.get("re_referral"), rulebook, former, payload, clock.today())  # checks; records nothing
    p = former.participant
    if p is None:
        raise ReferralRefused("personal_data_erased", "this referral's personal details were erased: refer the "
                              "person afresh", [FieldError("referral_id", "not_erased", "personal details erased")])
    new_payload = {
        "programme_id": former.programme_id,
        "provider_id": payload.get("provider_id") or former.provider_org_id,
        "support_level": payload.get("support_level") or former.support_level,
        "module_id": payload.get("module_id"),
        "consent": payload["consent"],
        "notes_ref": payload.get("notes_ref"),
        "residence_authority": payload.get("residence_authority"),
        "participant": {"nino": p.nino, "given_name": p.given_name, "family_name": p.family_name,
                        "date_of_birth": p.date_of_birth, "postcode": p.postcode,
                        "eligibility": payload.get("eligibility") or p.eligibility},
    }
    return create_referral(principal, new_payload, tx, previous=former)


def record(principal: Principal, referral_id: str, step: StepDef, payload: dict, tx: UnitOfWork) -> Result:
    """Record one journey step on a referral, by the organisation the step's declaration names (the provider
    holding it, its prime, or a party in a named role; or the programme's commissioner)."""
    before = visible_referral(principal, referral_id)
    rulebook = rulebook_for(before.programme_id)
    today, now = clock.today(), clock.now()
    if step.actor == steps.COMMISSIONER:
        access.ensure_commissioner(principal, rulebook.commissioner_org_id)
    else:
        access.ensure_may_record(principal, before, step.actor, step.parties, rulebook.commissioner_org_id)
    taken = steps.apply(step, rulebook, before, payload, today, principal.org_id)
    after = payments.add_earned_lines(tx, rulebook, taken.referral, taken.event, principal.org_id)
    fund.add_lines(tx, rulebook, after, taken.event, principal)
    taken = replace(taken, referral=after)
    commit_step(tx, rulebook, before, taken, principal.org_id, principal.key_id, today, now, step)
    # A step can end the caller's part (a holder's transfer): it still sees the answer to its own step, as it
    # saw the referral when it recorded it.
    commissioner = rulebook.commissioner_org_id
    left = access.party_role_of(principal, taken.referral, commissioner) is None
    return Result(taken.referral, rulebook, view=access.view_of(principal, before if left else taken.referral,
                                                               commissioner), left=left)


def read_as_left(principal: Principal, referral_id: str, version: int, role: str, personal_data: bool) -> Result:
    """The answer to a step that ended the caller's part in the referral (a holder's transfer), given again to a
    retry with its Idempotency-Key: the referral as that step left it, seen as the caller saw it then, as long as
    nothing has changed it since (its version). Once another step has, the caller no longer sees it (NotFound); a
    caller that has a part in it again sees it as that part lets it."""
    try:
        return read(principal, referral_id)
    except NotFound:
        referral = store().referrals.get(referral_id)
        if referral is None or referral.version != version:
            raise
    return Result(referral, rulebook_for(referral.programme_id), view=access.view_as(principal, role, personal_data),
                  left=True)


def commit_step(tx: UnitOfWork, rulebook: Rulebook, before: Referral, taken: Step, actor_org: str, actor_key: str,
                today: date, now: datetime, step: StepDef, flagging: tuple[str, date] | None = None) -> None:
    """Everything a journey step writes besides its payment lines, in the step's one unit of work: the referral
    (optimistic lock), the event, places moved or given back, the pending nightly work, flags the step resolves
    and the programme counters."""
    db = store()
    old, new = pending(rulebook, before), pending(rulebook, taken.referral)
    # Every deadline the step answered resolves its flag, if a nightly run raised one, whatever the dates.
    still_due = {(p.rule, p.due) for p in new}
    # (`flagging`: the deadline a nightly run is raising its flag for in this same unit of work.)
    answered = {(p.rule, p.due) for p in old if flag_answerable(p)} - still_due - {flagging}
    resolved, still_flagged = compliance.answered_flags(before, answered)
    after = replace(taken.referral, flagged=still_flagged)
    db.referrals.add_change(tx, before, after, taken.event, actor_org, actor_key, now)
    was_listed = parties.listed(before.parties)
    for org_id, roles in parties.listed(after.parties).items():
        if was_listed.get(org_id) != roles:
            db.referrals.add_party_index(tx, after, org_id, roles)
    moved = before.provider_org_id != after.provider_org_id
    if moved:
        target = rulebook.provider(after.provider_org_id)
        assert target is not None
        db.referrals.add_transfer_places(tx, before.programme_id, before.provider_org_id, target.org_id,
                                         target.allocation)
    if after.status in states.FINAL_STATES and before.status not in states.FINAL_STATES:
        db.referrals.add_release(tx, after, participated=after.status == states.EXITED)
    provider = rulebook.provider(after.provider_org_id)
    puts, deletes = compliance.pending_changes(before, old, after, new, provider.management_fee_bp if provider else 0)
    db.compliance.add_pending_changes(tx, puts, deletes)
    db.compliance.add_answers(tx, after.id, resolved, today)
    if moved:  # the flags still open follow the referral (known from it: nothing else is read)
        db.compliance.add_reassignment(tx, [compliance.flag_id_of(after.id, k) for k in still_flagged], after)
    db.compliance.add_stats(tx, after.programme_id, after.provider_org_id, counted(before, taken))
    if step.metric:
        metric = step.metric
        tx.after_commit.append(lambda: logs.count(metric))


def flag_answerable(p: compliance.Pending) -> bool:
    """A pending item whose flag a step can answer: a deadline (not a tranche, the nightly closure or an erasure)."""
    return not p.is_tranche and p.rule not in (compliance.CLOSE_UNSTARTED, retention.ERASE)


def counted(before: Referral, taken: Step) -> dict[str, int]:
    """What this step adds to the programme-level counters (starts, cohort mix, job outcomes by hours, late
    recording)."""
    after, event = taken.referral, taken.event
    late = recording.counted(event.data)
    if event.type == "start":
        person = after.participant.eligibility if after.participant else {}
        return {"started": 1, **({"ld_or_autism": 1} if person.get("learning_disability") or person.get("autism")
                                 else {}), **late}
    if event.type == "job_start" and before.job_start is None:
        band = event.data.get("hours_band")
        return {"job_starts": 1, **({"over_8_hours": 1} if band in ("over_8", "over_16") else {}),
                **({"over_16_hours": 1} if band == "over_16" else {}), **late}
    return late


def list_referrals(principal: Principal, view: str | None, limit: int, cursor: str | None,
                   status: str | None, programme_id: str | None, provider_id: str | None,
                   ) -> tuple[list[Result], str | None]:
    chosen = principal.list_view(view, party_only=_party_only(principal.org_id))
    if chosen == "referrer":
        principal.require("referrer")
    items, next_cursor = store().referrals.page(chosen, principal.org_id, limit, cursor, status=status,
                                                programme_id=programme_id, provider_org_id=provider_id)
    # A party that has ended stays in the party index but no longer sees the referral.
    seen = [r for r in items if access.party_role_of(principal, r) is not None]
    return [seen_by(principal, r, rulebook_for(r.programme_id)) for r in seen], next_cursor


def _party_only(org_id: str) -> bool:
    """Whether the organisation takes part in programmes only as a mentor or a spoke (it holds no places)."""
    books = all_rulebooks().values()
    if any(b.provider(org_id) for b in books):
        return False
    return any(set(m.roles) & set(parties.LISTED_BY_PARTY) for b in books for m in b.chain_members
               if m.org_id == org_id)


def events(principal: Principal, referral_id: str, limit: int,
           cursor: str | None) -> tuple[list[RecordedEvent], str | None]:
    """The audit trail as the caller's part in the referral lets it see it (a referrer: the status events)."""
    referral = visible_referral(principal, referral_id)
    view = access.view_of(principal, referral, _commissioner_of(referral))
    items, next_cursor = store().referrals.events(referral_id, limit, cursor)
    shown = []
    for event in items:
        data = view.event(event)
        if data is not None:
            shown.append(replace(event, data=data))
    return shown, next_cursor
