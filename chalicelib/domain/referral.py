"""A referral as the domain sees it, and what a journey step produces."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from .parties import Contact, Party


@dataclass(frozen=True)
class Participant:
    nino: str
    given_name: str
    family_name: str
    date_of_birth: date
    postcode: str
    eligibility: dict[str, bool]


@dataclass(frozen=True)
class Referral:
    id: str
    programme_id: str
    status: str
    version: int
    referrer_org_id: str
    provider_org_id: str
    prime_org_id: str
    participant_hash: str
    participant: Participant | None  # None once erased (retention ended, or the controller's request)
    support_level: str
    referred_on: date
    created_at: datetime
    consent_given_on: date
    status_reason: str | None = None
    module_id: str | None = None
    module_since: date | None = None
    accepted_on: date | None = None
    started_on: date | None = None
    assessed_on: date | None = None
    action_plan_on: date | None = None
    last_review_on: date | None = None
    extra_reviews_on: dict[str, str] = field(default_factory=dict)
    job_start: dict[str, Any] | None = None
    sustainments: dict[str, str] = field(default_factory=dict)
    progression_on: date | None = None
    closed_on: date | None = None
    exit_reason: str | None = None
    previous_referral_id: str | None = None
    notes_ref: str | None = None
    milestones_earned: tuple[str, ...] = ()  # tariff milestones already paid for (see payments)
    parties: tuple[Party, ...] = ()          # every organisation on the journey, in its role (see parties.py)
    agreed_price_pence: int | None = None    # the deliverer's price agreed within its fee's band on acceptance
    agreed_activity: str | None = None       # the activity that justifies the agreed price
    eligibility_decision: dict[str, Any] | None = None  # on, outcome; an ineligible person's reason and signposting
    leaver: dict[str, Any] | None = None     # a leaver not in work, tracked: exited_on, destination, contacts, outcome
    contacts: tuple[Contact, ...] = ()       # mentoring contacts, the evidence of a mentoring claim
    late_approvals: dict[str, dict[str, Any]] = field(default_factory=dict)  # "step@date" -> the commissioner's
    module_extension: dict[str, Any] | None = None  # the current module's extension: requested, approved, refused
    erased_on: date | None = None  # the day its personal fields were erased (chalicelib/domain/retention.py)
    barriers: dict[str, str] = field(default_factory=dict)  # the action plan's barriers: short id -> category
    support_costs: dict[str, int] = field(default_factory=dict)  # in-work support costs assessed: id -> pence
    incentives: dict[str, dict[str, Any]] = field(default_factory=dict)  # employer incentives agreed, by id
    withdrawn_incentives: tuple[str, ...] = ()  # of those, the ones the payer rejected or clawed back
    flagged: tuple[str, ...] = ()  # missed deadlines the nightly run flagged, still open: "rule@due" (compliance.py)


@dataclass(frozen=True)
class Event:
    type: str
    occurred_on: date
    from_status: str | None
    to_status: str
    data: dict[str, Any]


@dataclass(frozen=True)
class RecordedEvent:
    """An event as the audit trail keeps it: who recorded it and when, beside when it happened."""

    referral_id: str
    seq: int
    type: str
    occurred_on: date
    recorded_at: datetime
    actor_org_id: str
    actor_key_id: str
    from_status: str | None
    to_status: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Step:
    """The outcome of one journey step: the referral after it and the event that records it."""

    referral: Referral
    event: Event


@dataclass(frozen=True)
class Change:
    """What a step's domain rule decided: the date it happened, the event's data and the referral's new fields.
    The step registry applies it (state, version, event)."""

    on: date
    data: dict[str, Any]
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ParticipantRecord:
    """What the system keeps about a person across referrals: found by the keyed hash of the NINO only."""

    participant_hash: str
    active_referral_id: str | None
    programmes: tuple[str, ...]
    referrals: tuple[str, ...]
    version: int
