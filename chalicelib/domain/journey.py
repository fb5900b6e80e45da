"""The participant journey: what each step checks and what it changes.

Each step's rule takes the programme's rulebook, the referral as it stands, the caller's validated input and
today's date, and returns a `Change` (the date it happened, the event's data, the referral's new fields), or
raises a domain error. The step registry (steps.py) checks the transition first and applies the change.
Nothing here reads or writes storage.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from . import deadlines, eligibility, parties, recording, residence, states
from .calendar import age_on
from .errors import Conflict, FieldError, ReferralRefused, ValidationFailed
from .parties import BY_ACTOR, DELIVERER, MENTOR, REFERRER, SPOKE, Party
from .referral import Change, Event, Participant, Referral, Step
from .rulebook import EARLY_LEAVER, DeliveryOrganisation, Rulebook

MAX_HOURS_PER_WEEK = 80
MAX_WEEKLY_EARNINGS_PENCE = 1_000_000  # GBP 10,000 a week: anything above is a keying error

# ------------------------------------------------------------------ shared checks


def check_date(name: str, value: date, today: date, not_before: tuple[date | None, str] | None = None) -> None:
    if value > today:
        raise ValidationFailed.one(name, "not_in_future", f"{name} {value.isoformat()} is in the future")
    if not_before and not_before[0] and value < not_before[0]:
        raise ValidationFailed.one(
            name, "not_before", f"{name} {value.isoformat()} is before {not_before[1]} ({not_before[0].isoformat()})")


def resolve_provider(rulebook: Rulebook, provider_id: str | None, area: str | None) -> DeliveryOrganisation:
    if provider_id:
        provider = rulebook.provider(provider_id)
        if provider is None:
            raise ValidationFailed.one(
                "provider_id", "delivers_programme", f"{provider_id!r} does not deliver {rulebook.id}")
        return provider
    if area:
        provider = rulebook.provider_for_area(area)
        if provider is None:
            raise ValidationFailed.one("area", "served_area", f"no provider of {rulebook.id} serves {area!r}")
        return provider
    raise ValidationFailed.one("provider_id", "required", "give provider_id or area")


def check_support_level(rulebook: Rulebook, level: str) -> None:
    """A support level is one the programme's rulebook defines (each sets a review cadence)."""
    if level not in rulebook.support_levels:
        raise ValidationFailed.one("support_level", "one_of", f"one of: {', '.join(sorted(rulebook.support_levels))}")


def check_date_of_birth(rulebook: Rulebook, born: date, today: date) -> None:
    """In the past, and giving an age the programme finds plausible (an older one is a keying error)."""
    if born >= today:
        raise ValidationFailed.one("participant.date_of_birth", "in_past", "date of birth must be in the past")
    oldest = rulebook.plausibility.max_age
    if age_on(born, today) > oldest:
        raise ValidationFailed.one("participant.date_of_birth", "plausible_age",
                                   f"gives an age over {oldest} on the referral date: check the date")


def check_consent(rulebook: Rulebook, consent: dict, born: date, today: date) -> None:
    """A consent record the referral may rest on: given, dated after the person's birth, not in the future, and
    recent enough for the programme (its rulebook's `plausibility.consent_valid_for`)."""
    if not consent["given"]:
        raise ValidationFailed.one("consent.given", "required", "the participant's consent is required")
    on = consent["date"]
    check_date("consent.date", on, today)
    if on < born:  # (the message does not repeat the date of birth: no personal data in errors)
        raise ValidationFailed.one("consent.date", "not_before", "consent is dated before the participant's birth")
    valid_for = rulebook.plausibility.consent_valid_for
    if valid_for.after(on, rulebook.nation) < today:
        raise ValidationFailed.one("consent.date", "recent", f"consent recorded on {on.isoformat()} is older than "
                                   f"{valid_for.describe()}: record the participant's consent again")


def already_active() -> ReferralRefused:
    """A person holds one active referral at a time. The refusal is the same whichever programme, provider or
    referrer holds them: it says nothing of where they are (one programme is for disabled people)."""
    return ReferralRefused("already_active", "the participant is already active on a programme",
                           [FieldError("participant.nino", "not_already_active",
                                       "already active on this or another programme")])


# Refusals that answer from what is held about the person rather than from the request: a caller could use them
# to learn about people (an oracle), so they come only after the caller has shown a right to refer (a valid
# consent record), and the service counts them per key.
PERSON_HELD_REFUSALS = frozenset({"already_active", "previously_participated"})


def _check_person_held(rulebook: Rulebook, active: bool, previous_programmes: list[str]) -> None:
    """What is held about the person (PERSON_HELD_REFUSALS): checked only once the request itself is sound."""
    if active:
        raise already_active()
    _check_history(rulebook, previous_programmes)


# ------------------------------------------------------------------ referral


def new_referral(*, rulebook: Rulebook, referral_id: str, referrer_org_id: str, payload: dict,
                 participant_hash: str, today: date, now: datetime, active: bool = False,
                 previous_programmes: list[str], previous_referral_id: str | None = None) -> Step:
    """Decide whether a referral may be made today; the store then claims the allocation and the person. A
    referral is dated the day it was made (`referral_date`, default today): the window and the eligibility rules
    apply on that day, and its deadlines run from it.

    What the request alone decides comes first (window, provider, support level, dates, consent); only a caller
    whose request holds a valid consent record learns anything from what is held about the person (`active`:
    they hold an active referral somewhere; `previous_programmes`: where they took part before). (Without
    `active`, the store's claim of the person still refuses a second active referral, as already_active.)"""
    made = _made_on(rulebook, payload, today)
    provider = resolve_provider(rulebook, payload.get("provider_id"), payload.get("area"))
    if provider.allocation == 0:
        raise ReferralRefused("allocation_full", f"{provider.name} has no allocation on {rulebook.id}",
                              [FieldError("provider_id", "allocation", "no places allocated")])
    support_level = payload["support_level"]
    check_support_level(rulebook, support_level)
    person = payload["participant"]
    check_date_of_birth(rulebook, person["date_of_birth"], today)
    check_consent(rulebook, payload["consent"], person["date_of_birth"], today)
    _check_person_held(rulebook, active, previous_programmes)
    attributes = person.get("eligibility") or {}
    reasons = eligibility.check(rulebook, provider, person["date_of_birth"], attributes, made)
    if reasons:
        raise ReferralRefused("ineligible", "the participant does not meet the programme's eligibility rules",
                              [FieldError(r.field, r.rule, r.message) for r in reasons])
    stated_authority = residence.check(provider, person["postcode"], payload.get("residence_authority"))
    module_id = _module_of(rulebook, payload)
    participant = Participant(
        nino=person["nino"], given_name=person["given_name"], family_name=person["family_name"],
        date_of_birth=person["date_of_birth"], postcode=person["postcode"], eligibility=dict(attributes))
    # The referrer is a party from the start; so is the deliverer, unless the referral waits for its prime to
    # route it (then the prime holds it and names the deliverer when it routes).
    on_referral = [Party(referrer_org_id, REFERRER, made, referrer_org_id)]
    if not provider.routes_referrals:
        on_referral.append(Party(provider.org_id, DELIVERER, made, referrer_org_id))
    referral = Referral(
        id=referral_id, programme_id=rulebook.id, status=states.REFERRED, version=1,
        referrer_org_id=referrer_org_id, provider_org_id=provider.org_id, prime_org_id=provider.prime_org_id,
        participant_hash=participant_hash, participant=participant, support_level=support_level,
        referred_on=made, created_at=now, consent_given_on=payload["consent"]["date"],
        module_id=module_id, module_since=None, previous_referral_id=previous_referral_id,
        notes_ref=payload.get("notes_ref"), parties=tuple(on_referral))
    extras = {"module_id": module_id, "previous_referral_id": previous_referral_id,
              "residence_authority": stated_authority, "checks": eligibility.stated_checks(rulebook, attributes)}
    data = {"programme_id": rulebook.id, "provider_org_id": provider.org_id, "support_level": support_level,
            **{name: value for name, value in extras.items() if value}}
    late = recording.marker(rulebook, None, recording.REFERRAL, made, today, hold=True)
    if late:
        data["recorded_late"] = late
    return Step(referral, Event("referral", made, None, states.REFERRED, data))


def _made_on(rulebook: Rulebook, payload: dict, today: date) -> date:
    """The day the referral was made (not in the future), inside the programme's referral window."""
    made: date = payload.get("referral_date") or today
    check_date("referral_date", made, today)
    if not rulebook.window_open_on(made):
        raise ReferralRefused(
            "outside_referral_window",
            f"{rulebook.id} takes referrals from {rulebook.referral_opens} to {rulebook.referral_closes}",
            [FieldError("programme_id", "referral_window", f"the referral window is "
                        f"{rulebook.referral_opens.isoformat()}..{rulebook.referral_closes.isoformat()}")])
    return made


def _module_of(rulebook: Rulebook, payload: dict) -> str | None:
    """The module a referral starts in: the one named, or the programme's first (None: not modular)."""
    if not rulebook.modules:
        if payload.get("module_id"):
            raise ValidationFailed.one("module_id", "not_modular", f"{rulebook.id} has no modules")
        return None
    module_id: str = payload.get("module_id") or rulebook.modules[0].id
    if rulebook.module(module_id) is None:
        raise ValidationFailed.one("module_id", "one_of", f"one of: {', '.join(m.id for m in rulebook.modules)}")
    return module_id


def _check_history(rulebook: Rulebook, previous_programmes: list[str]) -> None:
    if rulebook.id in previous_programmes and not rulebook.returns_allowed:
        raise ReferralRefused("previously_participated", f"{rulebook.id} does not take back former participants",
                              [FieldError("participant.nino", "no_return", "already took part in this programme")])


# ------------------------------------------------------------------ acknowledgement and start


def accept(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    """The deliverer accepts. Where its fee is a band agreed at acceptance, it agrees the price within the band
    and names the activity that justifies it (no price named: the band's default, if the rulebook gives one)."""
    on = payload["date"]
    check_date("date", on, today, (referral.referred_on, "the referral date"))
    recording.check_referral_not_held(rulebook, referral)
    if rulebook.routes(referral.provider_org_id):
        raise Conflict("the referral waits for the prime to route it to a deliverer (route), who then accepts it",
                       rule="routed_first")
    price, activity = payload.get("agreed_price_pence"), payload.get("activity")
    bands = rulebook.agreed_bands(referral.provider_org_id)
    if not bands:
        if price is not None or activity is not None:
            field = "agreed_price_pence" if price is not None else "activity"
            raise ValidationFailed.one(field, "no_band", "this deliverer's fees have no price agreed at acceptance")
        return Change(on, {"decision": "accept"}, {"accepted_on": on})
    band = bands[0].amount
    if price is None:
        if band.default_pence is None:
            raise ValidationFailed.one("agreed_price_pence", "required",
                                       "the deliverer agrees its price within the band when it accepts")
        price = band.default_pence
    elif not activity:
        raise ValidationFailed.one("activity", "required", "an agreed price names the activity that justifies it")
    low, high = band.min_pence or 0, band.max_pence or 0
    if not low <= price <= high:
        raise ValidationFailed.one("agreed_price_pence", "within_band", f"the price is agreed within {low}..{high} "
                                   f"pence")
    data = {"decision": "accept", "agreed_price_pence": price, "activity": activity}
    return Change(on, data, {"accepted_on": on, "agreed_price_pence": price, "agreed_activity": activity})


def reject(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    on = payload["date"]
    check_date("date", on, today, (referral.referred_on, "the referral date"))
    reason = payload.get("reason")
    if not reason:
        raise ValidationFailed.one("reason", "required", "a rejection gives a reason code")
    if reason == "ineligible" and rulebook.ineligible_notice is not None:
        raise ValidationFailed.one("reason", "ineligible_step", f"{rulebook.id} tells an ineligible person why and "
                                   "signposts them: record it as the ineligible step, with the service signposted to")
    return Change(on, {"decision": "reject", "reason": reason}, {"status_reason": reason, "closed_on": on})


def start(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    on = payload["date"]
    check_date("date", on, today, (referral.accepted_on, "the acknowledgement"))
    fields: dict[str, Any] = {"started_on": on, **decided_by_start(rulebook, referral, on)}
    if referral.module_id:
        fields["module_since"] = on
    return Change(on, {}, fields)


def did_not_start(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    on = payload["date"]
    check_date("date", on, today, (referral.accepted_on, "the acknowledgement"))
    return Change(on, {"reason": payload["reason"]}, {"status_reason": payload["reason"], "closed_on": on})


# ------------------------------------------------------------------ support


def assessment(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    on = payload["date"]
    check_date("date", on, today, (referral.started_on, "the start"))
    data: dict[str, Any] = {"kind": "reassessment" if referral.assessed_on else "initial"}
    if payload.get("support_level"):
        check_support_level(rulebook, payload["support_level"])
        data["support_level"] = payload["support_level"]
    level = payload.get("support_level") or referral.support_level
    return Change(on, data, {"assessed_on": on, "support_level": level})


def action_plan(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    on = payload["date"]
    check_date("date", on, today, (referral.assessed_on, "the assessment"))
    data = {"revision": bool(referral.action_plan_on), "document_ref": payload.get("document_ref")}
    return Change(on, data, {"action_plan_on": on})


def review(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    on = payload["date"]
    check_date("date", on, today, (referral.action_plan_on, "the action plan"))
    kind = payload.get("kind") or "review"
    if kind == "review":
        return Change(on, {"kind": kind}, {"last_review_on": max(on, referral.last_review_on or on)})
    provider = rulebook.provider(referral.provider_org_id)
    extra_ids = [r.id for r in provider.extra_reviews] if provider else []
    if kind not in extra_ids:
        raise ValidationFailed.one("kind", "one_of", f"one of: {', '.join(['review', *extra_ids])}")
    extra = dict(referral.extra_reviews_on)
    extra[kind] = max(on.isoformat(), extra.get(kind, ""))
    return Change(on, {"kind": kind}, {"extra_reviews_on": extra})


# ------------------------------------------------------------------ outcomes


def job_start(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    on = payload["date"]
    check_date("date", on, today, (referral.started_on, "the start"))
    hours = payload.get("hours_per_week")
    earnings = payload.get("weekly_earnings_pence")
    employer = payload.get("employer_name")
    missing = [n for n, v in (("employer_name", employer), ("hours_per_week", hours),
                              ("weekly_earnings_pence", earnings)) if v is None]
    if missing or hours is None or earnings is None:
        raise ValidationFailed("a job start names the employer, hours and earnings",
                               [FieldError(n, "required", f"{n} is required for a job start") for n in missing])
    if not 0 < hours <= MAX_HOURS_PER_WEEK:
        raise ValidationFailed.one("hours_per_week", "range",
                                   f"hours_per_week must be more than 0 and at most {MAX_HOURS_PER_WEEK}")
    if not 0 <= earnings <= MAX_WEEKLY_EARNINGS_PENCE:
        raise ValidationFailed.one("weekly_earnings_pence", "range",
                                   f"weekly_earnings_pence must be 0..{MAX_WEEKLY_EARNINGS_PENCE}")
    self_employed = bool(payload.get("self_employed"))
    if earnings == 0 and not self_employed:
        raise ValidationFailed.one("weekly_earnings_pence", "paid_work",
                                   "a job start is paid work: earnings must be above 0 unless self-employed")
    job = {"employer_name": employer, "start_date": on.isoformat(), "hours_per_week": float(hours),
           "weekly_earnings_pence": earnings, "self_employed": self_employed}
    data = {"type": "job_start", "hours_per_week": float(hours), "weekly_earnings_pence": earnings,
            "self_employed": self_employed, "hours_band": hours_band(hours)}
    if rulebook.min_duration is not None:  # an outcome fee needs the minimum delivered first
        data["minimum_delivery_met"] = minimum_delivery_met(rulebook, referral, on)
    # A new job replaces the previous one; sustainment is counted from the new start.
    return Change(on, data, {"job_start": job, "sustainments": {}})


def sustainment(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    on = payload["date"]
    checkpoint = rulebook.checkpoint(payload.get("checkpoint") or "")
    if checkpoint is None:
        raise ValidationFailed.one("checkpoint", "one_of", "one of: " + ", ".join(
            c.id for c in rulebook.checkpoints) if rulebook.checkpoints else f"{rulebook.id} has no checkpoints")
    if checkpoint.id in referral.sustainments:
        raise ValidationFailed.one("checkpoint", "once", f"checkpoint {checkpoint.id} is already recorded")
    assert referral.job_start is not None  # the transition allows sustainment only in work
    job_started = date.fromisoformat(referral.job_start["start_date"])
    reached = checkpoint.after.after(job_started, rulebook.nation)
    check_date("date", on, today, (reached, f"checkpoint {checkpoint.id} after the job start"))
    sustainments = {**referral.sustainments, checkpoint.id: on.isoformat()}
    return Change(on, {"type": "sustainment", "checkpoint": checkpoint.id}, {"sustainments": sustainments})


def progression(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    on = payload["date"]
    assert referral.job_start is not None  # the transition allows progression only in work
    job_started = date.fromisoformat(referral.job_start["start_date"])
    check_date("date", on, today, (job_started, "the job start"))
    return Change(on, {"type": "progression", "into": "unsupported_work"}, {"progression_on": on})


def hours_band(hours: Any) -> str:
    if hours > 16:
        return "over_16"
    if hours > 8:
        return "over_8"
    return "up_to_8"


# ------------------------------------------------------------------ moves and exit


def module_move(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    if not rulebook.modules:
        raise ValidationFailed.one("module_id", "not_modular", f"{rulebook.id} has no modules")
    to = payload["module_id"]
    if rulebook.module(to) is None:
        raise ValidationFailed.one("module_id", "one_of", f"one of: {', '.join(m.id for m in rulebook.modules)}")
    if (referral.module_id, to) not in rulebook.module_moves:
        allowed = [b for a, b in rulebook.module_moves if a == referral.module_id]
        raise ValidationFailed.one("module_id", "allowed_move",
                                   f"from {referral.module_id} the programme allows: {', '.join(allowed) or 'none'}")
    on = payload["date"]
    check_date("date", on, today, (referral.module_since or referral.started_on, "the current module's start"))
    return Change(on, {"from_module": referral.module_id, "to_module": to},
                  {"module_id": to, "module_since": on, "module_extension": None})


def transfer(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    """The participant moves to another deliverer: the deliverer party ends and the new one is added."""
    target = rulebook.provider(payload["to_provider_id"])
    if target is None or target.routes_referrals:
        raise ValidationFailed.one("to_provider_id", "delivers_programme",
                                   f"{payload['to_provider_id']!r} does not deliver {rulebook.id}")
    if target.org_id == referral.provider_org_id:
        raise ValidationFailed.one("to_provider_id", "different", "the referral is already with that provider")
    on = payload["date"]
    check_date("date", on, today, (referral.accepted_on or referral.referred_on, "the acknowledgement"))
    handover = payload["handover"]
    check_date("handover.date", handover["date"], today, (referral.referred_on, "the referral date"))
    data = {"from_provider_org_id": referral.provider_org_id, "to_provider_org_id": target.org_id,
            "handover_ref": handover.get("document_ref"), "handover_date": handover["date"].isoformat()}
    moved = parties.replace_deliverer(referral.parties, target.org_id, on, BY_ACTOR, "transferred")
    return Change(on, data, {"provider_org_id": target.org_id, "prime_org_id": target.prime_org_id,
                             "parties": moved})


# ------------------------------------------------------------------ parties: routing, mentors, spokes


def route(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    """The prime routes a referral it holds to a deliverer of its own, and names the mentor where there is one:
    by default the referrer itself, when the referrer is a chain member that mentors."""
    if not rulebook.routes(referral.provider_org_id):
        raise Conflict("only a referral waiting with its prime is routed; a routed one moves by transfer",
                       rule="held_by_prime")
    target = rulebook.provider(payload["to_provider_id"])
    if target is None or target.prime != referral.prime_org_id:
        raise ValidationFailed.one("to_provider_id", "delivers_for_prime",
                                   f"{payload['to_provider_id']!r} is not a deliverer of {referral.prime_org_id} on "
                                   f"{rulebook.id}")
    on = payload["date"]
    check_date("date", on, today, (referral.referred_on, "the referral date"))
    mentor = _mentor_for(rulebook, referral, payload.get("mentor_org_id"))
    routed = parties.add(referral.parties, Party(target.org_id, DELIVERER, on, BY_ACTOR))
    if mentor:
        routed = parties.add(routed, Party(mentor, MENTOR, on, BY_ACTOR))
    data = {"to_provider_org_id": target.org_id, "mentor_org_id": mentor}
    return Change(on, data, {"provider_org_id": target.org_id, "prime_org_id": target.prime_org_id,
                             "parties": routed})


def _mentor_for(rulebook: Rulebook, referral: Referral, named: str | None) -> str | None:
    mentors = {m.org_id for m in rulebook.members_in(MENTOR, referral.prime_org_id)}
    if named is None:
        return referral.referrer_org_id if referral.referrer_org_id in mentors else None
    if named not in mentors:
        raise ValidationFailed.one("mentor_org_id", "mentors_for_prime",
                                   f"{named!r} is not a mentor of {referral.prime_org_id} on {rulebook.id}")
    return named


def add_party(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    """The prime adds a party from a date (a mentor alongside the deliverer). A role is held by one organisation at
    a time: a new mentor follows the end of the previous one."""
    role, org_id = payload["role"], payload["party_org_id"]
    _check_member(rulebook, referral, role, org_id)
    on = payload["date"]
    check_date("date", on, today, (referral.referred_on, "the referral date"))
    added = parties.add(referral.parties, Party(org_id, role, on, BY_ACTOR))
    return Change(on, {"party_org_id": org_id, "role": role}, {"parties": added})


def end_party(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    """The prime ends a party on a date, with a reason. The referrer stays; a deliverer changes by transfer."""
    role, org_id = payload["role"], payload["party_org_id"]
    on = payload["date"]
    check_date("date", on, today)
    ended = parties.end(referral.parties, org_id, role, on, payload["reason"])
    return Change(on, {"party_org_id": org_id, "role": role, "reason": payload["reason"]}, {"parties": ended})


def spoke_handover(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    """A hub passes the person to one of its spoke partners with a warm handover (the date and the handover
    document); the spoke then records the support it gives."""
    org_id = payload["spoke_org_id"]
    if org_id not in {m.org_id for m in rulebook.members_in(SPOKE, referral.provider_org_id)}:
        raise ValidationFailed.one("spoke_org_id", "spoke_of_hub",
                                   f"{org_id!r} is not a spoke of {referral.provider_org_id} on {rulebook.id}")
    on = payload["date"]
    check_date("date", on, today, (referral.accepted_on, "the acceptance"))
    ref = payload["handover_ref"]
    added = parties.add(referral.parties, Party(org_id, SPOKE, on, BY_ACTOR, handover_ref=ref))
    return Change(on, {"spoke_org_id": org_id, "handover_date": on.isoformat(), "handover_ref": ref},
                  {"parties": added})


def _check_member(rulebook: Rulebook, referral: Referral, role: str, org_id: str) -> None:
    if role not in rulebook.party_roles:
        raise ValidationFailed.one("role", "programme_role", f"{rulebook.id} has no {role} role")
    allowed = {m.org_id for m in rulebook.chain_members
               if role in m.roles and m.under in (referral.prime_org_id, referral.provider_org_id)}
    if org_id not in allowed:
        raise ValidationFailed.one("party_org_id", "chain_member",
                                   f"{org_id!r} is not a {role} in {referral.prime_org_id}'s chain on {rulebook.id}")


def mentoring_contact(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    """The mentor records a contact with the person: the evidence its mentoring claim refers to."""
    mentor = parties.current(referral.parties, MENTOR)
    assert mentor is not None  # only the active mentor may record it (domain/access.py)
    on = payload["date"]
    check_date("date", on, today, (mentor.since, "the mentor's start"))
    contacts = parties.add_contact(referral.contacts, mentor.org_id, on, payload["minutes"], payload["mode"],
                                   payload.get("notes_ref"))
    added = contacts[-1]
    return Change(on, {"contact_id": added.id, "minutes": added.minutes, "mode": added.mode},
                  {"contacts": contacts})


def exit_provision(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    on = payload["date"]
    check_date("date", on, today, (referral.started_on, "the start"))
    review_given = payload.get("exit_review")
    if rulebook.exit_review_required and not review_given:
        raise ValidationFailed.one("exit_review", "required", f"{rulebook.id} requires an exit review")
    reason = payload["reason"]
    data: dict[str, Any] = {"reason": reason}
    if reason in COMPLETIONS and not minimum_delivery_met(rulebook, referral, on):
        reason = early_completion(rulebook, on)
        data = {"reason": reason, "stated_reason": payload["reason"], "minimum_delivery_met": False}
    if review_given:
        check_date("exit_review.date", review_given["date"], today, (referral.started_on, "the start"))
        data["exit_review"] = {"date": review_given["date"].isoformat(), "destination": review_given["destination"]}
    return Change(on, data, {"status_reason": reason, "exit_reason": reason, "closed_on": on,
                             **tracked_leaver(rulebook, reason, data, on)})


COMPLETIONS = ("completed",)  # exit reasons that say the provision was delivered in full


def minimum_delivery_met(rulebook: Rulebook, referral: Referral, on: date) -> bool:
    """Whether the programme's minimum time on provision (Norfolk Level 3: at least 1 week) had run by `on`."""
    if rulebook.min_duration is None or referral.started_on is None:
        return True
    return on >= rulebook.min_duration.after(referral.started_on, rulebook.nation)


def early_completion(rulebook: Rulebook, on: date) -> str:
    """A completion before the minimum: refused, or, where the rulebook says so, an early leaver's exit."""
    assert rulebook.min_duration is not None
    if rulebook.completion_before_min == EARLY_LEAVER:
        return "early_leaver"
    raise ValidationFailed.one("date", "min_duration", f"provision lasts at least {rulebook.min_duration.describe()}"
                               f" from the start: {on.isoformat()} is too early to complete")


def close_unstarted(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    """The nightly run's closure of a referral that never started by its deadline after the window shut."""
    reason = "not_started_by_deadline"
    on = payload["date"]
    return Change(on, {"reason": reason, "by": "nightly compliance"}, {"status_reason": reason, "closed_on": on})


# ------------------------------------------------------------------ the commissioner's approvals


def module_extendable(rulebook: Rulebook, referral: Referral) -> bool:
    """Whether the participant's current module has an end the commissioner may extend (Work Choice Module 1)."""
    module = rulebook.module(referral.module_id) if referral.module_id else None
    return bool(module and module.max_duration and module.extension_max and referral.module_since)


def approve_late_recording(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    """The commissioner approves one step (or the referral itself) recorded beyond the late-recording limit."""
    approvals = recording.approve(rulebook, referral, payload, today)
    data = {"step": payload["step"], "step_date": payload["step_date"].isoformat(), "reason": payload["reason"]}
    return Change(today, data, {"late_approvals": approvals})


def _module_end(rulebook: Rulebook, referral: Referral) -> tuple[Any, date]:
    module = rulebook.module(referral.module_id) if referral.module_id else None
    if module is None or not module_extendable(rulebook, referral):
        raise ValidationFailed.one("until", "extendable_module",
                                   f"the participant's module on {rulebook.id} has no extension to ask for")
    assert module.max_duration is not None and referral.module_since is not None
    return module, module.max_duration.after(referral.module_since, rulebook.nation)


def module_extension_request(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    """Work Choice (seed 002): Module 1 has 'a far more appropriate maximum period with safeguards should an
    individual need more time'. The provider asks for more time with a reason, up to the module's extension limit;
    the commissioner decides."""
    module, end = _module_end(rulebook, referral)
    on, until = payload["date"], payload["until"]
    check_date("date", on, today, (referral.module_since, "the module's start"))
    current = referral.module_extension
    if current and current.get("status") == "requested":
        raise ValidationFailed.one("until", "one_at_a_time", "an extension is already waiting for the commissioner")
    latest = module.extension_max.after(end, rulebook.nation)
    if not end < until <= latest:
        raise ValidationFailed.one("until", "extension_limit",
                                   f"{module.name} ends on {end.isoformat()}; it may be extended by at most "
                                   f"{module.extension_max.describe()}, to {latest.isoformat()}")
    extension = {"module_id": module.id, "requested_on": on.isoformat(), "until": until.isoformat(),
                 "reason": payload["reason"], "status": "requested"}
    return Change(on, {"module_id": module.id, "until": until.isoformat(), "reason": payload["reason"]},
                  {"module_extension": extension})


def module_extension_decision(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    """The commissioner approves or refuses the extension the provider asked for (a refusal gives a reason)."""
    current = referral.module_extension
    if not current or current.get("status") != "requested" or current.get("module_id") != referral.module_id:
        raise ValidationFailed.one("decision", "requested", "no extension of the current module is waiting")
    decision = payload["decision"]
    reason = payload.get("reason")
    if decision == "refuse" and not reason:
        raise ValidationFailed.one("reason", "required", "a refusal gives a reason")
    decided = {**current, "status": "approved" if decision == "approve" else "refused",
               "decided_on": today.isoformat(), **({"decision_reason": reason} if reason else {})}
    return Change(today, {"decision": decision, "until": current["until"], **({"reason": reason} if reason else {})},
                  {"module_extension": decided})


def re_referral(rulebook: Rulebook, former: Referral, payload: dict, today: date) -> Change:
    """A former participant may be referred again only where the programme allows a return. The new referral
    is made by `new_referral`; the former one records nothing but this check."""
    if not rulebook.returns_allowed:
        raise ReferralRefused("returns_not_allowed", f"{rulebook.id} does not allow a return",
                              [FieldError("referral_id", "returns_allowed", "the programme does not allow returns")])
    return Change(today, {})


# ------------------------------------------------------------------ eligibility decisions and leavers (ESF, seed 003)

LEAVER_IN_WORK_EXITS = ("job_sustained", "unsupported_work")      # exit reasons that are work
LEAVER_IN_WORK_DESTINATIONS = ("employment", "self_employment")   # exit-review destinations that are work


def _notice_due(rulebook: Rulebook, referral: Referral) -> date:
    if rulebook.ineligible_notice is None:
        raise ValidationFailed.one("programme_id", "eligibility_decision",
                                   f"{rulebook.id} records no eligibility decision of its own")
    return rulebook.ineligible_notice.after(referral.referred_on, rulebook.nation)


def _decision(rulebook: Rulebook, referral: Referral, payload: dict, today: date, outcome: str) -> dict[str, Any]:
    due = _notice_due(rulebook, referral)
    on = payload["date"]
    check_date("date", on, today, (referral.referred_on, "the referral date"))
    return {"on": on.isoformat(), "outcome": outcome, "due": due.isoformat(), "on_time": on <= due}


def eligible(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    """The eligibility check found the person eligible (a start also counts as that decision)."""
    if referral.eligibility_decision is not None:
        raise ValidationFailed.one("date", "once", "the eligibility decision is already recorded")
    decision = _decision(rulebook, referral, payload, today, "eligible")
    return Change(payload["date"], decision, {"eligibility_decision": decision})


def ineligible(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    """The person is ineligible: the day they were told, why, and the service they were signposted to. The
    referral closes; the decision says whether it met the programme's deadline from the referral."""
    decision = {**_decision(rulebook, referral, payload, today, "ineligible"), "reason": payload["reason"],
                "signposted_to": payload["signposted_to"]}
    return Change(payload["date"], decision,
                  {"eligibility_decision": decision, "status_reason": "ineligible", "closed_on": payload["date"]})


def decided_by_start(rulebook: Rulebook, referral: Referral, on: date) -> dict[str, Any]:
    """A start on a programme with eligibility decisions is the decision that the person is eligible."""
    if rulebook.ineligible_notice is None or referral.eligibility_decision is not None:
        return {}
    due = _notice_due(rulebook, referral)
    return {"eligibility_decision": {"on": on.isoformat(), "outcome": "eligible", "due": due.isoformat(),
                                     "on_time": on <= due, "by": "start"}}


def tracked_leaver(rulebook: Rulebook, reason: str, data: dict[str, Any], on: date) -> dict[str, Any]:
    """The referral's `leaver` record when the programme tracks leavers and this one leaves not in work."""
    tracking = rulebook.leaver_tracking
    destination = (data.get("exit_review") or {}).get("destination", "unknown")
    if tracking is None or reason in LEAVER_IN_WORK_EXITS or destination in LEAVER_IN_WORK_DESTINATIONS:
        return {}
    return {"leaver": {"exited_on": on.isoformat(), "destination": destination, "contacts": 0,
                       "tracked_until": tracking.lasts.after(on, rulebook.nation).isoformat(),
                       "last_contact_on": None, "outcome": None}}


def follow_up(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    """A follow-up contact with a leaver not in work, and what they are doing now. Tracking ends when they are in
    work or the programme's tracking period has run."""
    if deadlines.next_follow_up(rulebook, referral) is None:
        raise ValidationFailed.one("referral_id", "tracked_leaver", "this referral is not a leaver being tracked: "
                                   "not a leaver not in work, or tracking has ended")
    leaver = dict(referral.leaver or {})
    on = payload["date"]
    last = date.fromisoformat(leaver.get("last_contact_on") or leaver["exited_on"])
    check_date("date", on, today, (last, "the last contact" if leaver.get("last_contact_on") else "the exit"))
    leaver.update(contacts=int(leaver.get("contacts") or 0) + 1, last_contact_on=on.isoformat(),
                  outcome=payload["outcome"])
    return Change(on, {"outcome": payload["outcome"], "contact": leaver["contacts"]}, {"leaver": leaver})
