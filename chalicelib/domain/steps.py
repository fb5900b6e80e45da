"""The registry of journey steps: one declaration per step, and everything else is derived from it.

A step's name is its one name everywhere: the URL (`POST /referrals/{id}/<name>`), the lifecycle action, the
event type in the audit trail, and the entries of a referral's `allowed_actions`. Its declaration says which
states it may be taken from and the state it leaves, what its request carries, which domain rule decides it,
who may record it and which business metric counts it. The state machine (lifecycle.py), the API's routes and
request schemas, the OpenAPI document and `allowed_actions` are all built from this table; the fees a step
earns are declared against its name in chalicelib/payments/milestones.py.

Adding a step: declare it here, write its rule in journey.py, test it. Nothing else needs to change.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date

from . import inputs as i
from . import journey
from .errors import InvalidTransition
from .referral import Change, Event, Referral, Step
from .rulebook import Rulebook
from .states import (
    ACCEPTED,
    ASSESSED,
    DID_NOT_START,
    EXITED,
    IN_SUPPORT,
    IN_WORK,
    ON_PROVISION,
    REFERRED,
    REJECTED,
    STARTED,
)

REJECT_REASONS = ("ineligible", "already_on_programme", "already_employed", "inappropriate", "no_capacity",
                  "cannot_contact", "declined", "other")
DID_NOT_START_REASONS = ("failed_to_attend", "declined", "cannot_contact", "found_work", "moved_away",
                         "ill_health", "other")
EXIT_REASONS = ("completed", "job_sustained", "unsupported_work", "max_duration", "moved_away", "ill_health",
                "withdrew", "disengaged", "deceased", "other")
DESTINATIONS = ("employment", "self_employment", "education_or_training", "other_provision",
                "unemployed", "economically_inactive", "unknown")

Decide = Callable[[Rulebook, Referral, dict, date], Change]

# Who may record a step: the provider holding the referral, its prime too, or only the system (nightly run).
HOLDER, HOLDER_OR_PRIME, SYSTEM, REFERRER = "holder", "holder_or_prime", "system", "referrer"


@dataclass(frozen=True)
class StepDef:
    name: str
    summary: str
    transitions: Mapping[str, str]          # from state -> to state
    decide: Decide
    inputs: Mapping[str, i.Input] = field(default_factory=dict)
    actor: str = HOLDER
    metric: str | None = None               # the business metric counting it (CloudWatch EMF)
    creates_record: bool = False            # answered 201: the step adds a record (an assessment, a review...)

    @property
    def offered(self) -> bool:
        """Whether a caller may take it (the system's own steps are never offered)."""
        return self.actor != SYSTEM


DATE = {"date": i.Date(description="the day it happened (YYYY-MM-DD)")}
_same = {s: s for s in ON_PROVISION}

_STEPS: tuple[StepDef, ...] = (
    StepDef("accept", "Accept a referral", {REFERRED: ACCEPTED}, journey.accept, DATE,
            metric="ReferralsAccepted"),
    StepDef("reject", "Reject a referral with a reason", {REFERRED: REJECTED}, journey.reject,
            {**DATE, "reason": i.Choice(REJECT_REASONS)}, metric="ReferralsRejected"),
    StepDef("start", "Record the participant's start", {ACCEPTED: STARTED}, journey.start, DATE, metric="Starts"),
    StepDef("did_not_start", "Record that the participant did not start", {ACCEPTED: DID_NOT_START},
            journey.did_not_start, {**DATE, "reason": i.Choice(DID_NOT_START_REASONS)}, metric="DidNotStart"),
    StepDef("assessment", "Record an (initial or re-)assessment",
            {STARTED: ASSESSED, ASSESSED: ASSESSED, IN_SUPPORT: IN_SUPPORT, IN_WORK: IN_WORK}, journey.assessment,
            {**DATE, "support_level": i.Text(30, required=False, description="reassessed support level"),
             "document_ref": i.Text(200, required=False)}, creates_record=True),
    StepDef("action_plan", "Record an agreed action plan",
            {ASSESSED: IN_SUPPORT, IN_SUPPORT: IN_SUPPORT, IN_WORK: IN_WORK}, journey.action_plan,
            {**DATE, "document_ref": i.Text(200, required=False)}, creates_record=True),
    StepDef("review", "Record an action-plan review (or a provider's extra review)",
            {IN_SUPPORT: IN_SUPPORT, IN_WORK: IN_WORK}, journey.review,
            {**DATE, "kind": i.Text(40, required=False, description="'review' or a provider's extra review id"),
             "notes_ref": i.Text(200, required=False)}, creates_record=True),
    StepDef("job_start", "Record a job start: employer, hours and weekly earnings",
            {ASSESSED: IN_WORK, IN_SUPPORT: IN_WORK, IN_WORK: IN_WORK}, journey.job_start,
            {**DATE, "employer_name": i.Text(200),
             "hours_per_week": i.Decimal(0, 168, description="hours a week (a JSON number, up to 2 decimals)"),
             "weekly_earnings_pence": i.Int(0, 100_000_000), "self_employed": i.Bool()},
            metric="JobStarts", creates_record=True),
    StepDef("sustainment", "Confirm a sustainment checkpoint in work", {IN_WORK: IN_WORK}, journey.sustainment,
            {**DATE, "checkpoint": i.Text(40, description="a checkpoint id of the programme")},
            metric="SustainmentChecks", creates_record=True),
    StepDef("progression", "Record progression into unsupported work", {IN_WORK: IN_WORK}, journey.progression,
            DATE, creates_record=True),
    StepDef("module_move", "Move the participant to another module", dict(_same), journey.module_move,
            {**DATE, "module_id": i.Text(64)}),
    StepDef("transfer", "Transfer the participant to another provider, with handover",
            {ACCEPTED: ACCEPTED, **_same}, journey.transfer,
            {**DATE, "to_provider_id": i.Text(64),
             "handover": i.Object({"date": i.Date(), "document_ref": i.Text(200, required=False)})},
            actor=HOLDER_OR_PRIME, metric="Transfers"),
    StepDef("exit", "Record the participant's exit, with the exit review", dict.fromkeys(ON_PROVISION, EXITED),
            journey.exit_provision,
            {**DATE, "reason": i.Choice(EXIT_REASONS),
             "exit_review": i.Object({"date": i.Date(), "destination": i.Choice(DESTINATIONS),
                                      "document_ref": i.Text(200, required=False)}, required=False)},
            metric="Exits"),
    StepDef("re_referral", "Refer a former participant again, where the programme allows a return",
            {EXITED: EXITED}, journey.re_referral, actor=REFERRER),
    # The nightly run closes a referral never started by its start deadline once the referral window has shut.
    StepDef("close_unstarted", "Close a referral not started by its deadline after the window shut",
            {REFERRED: DID_NOT_START, ACCEPTED: DID_NOT_START}, journey.close_unstarted, DATE, actor=SYSTEM,
            metric="ReferralsClosedUnstarted"),
)

_REGISTRY: dict[str, StepDef] = {s.name: s for s in _STEPS}


def all_steps() -> Iterator[StepDef]:
    return iter(list(_REGISTRY.values()))


def get(name: str) -> StepDef:
    return _REGISTRY[name]


def find(name: str) -> StepDef | None:
    return _REGISTRY.get(name)


def register(step: StepDef) -> None:
    """Add a step (a programme extension, or a test's throwaway step). Its name must be new."""
    if step.name in _REGISTRY:
        raise ValueError(f"a step named {step.name!r} is already registered")
    _REGISTRY[step.name] = step


def unregister(name: str) -> None:
    if name in {s.name for s in _STEPS}:
        raise ValueError(f"{name!r} is a built-in step")
    _REGISTRY.pop(name, None)


def next_state(current: str, step: StepDef) -> str:
    """The state `step` leads to from `current`, or InvalidTransition naming the current state."""
    if current not in step.transitions:
        raise InvalidTransition(step.name, current, sorted(step.transitions))
    return step.transitions[current]


def apply(step: StepDef, rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Step:
    """Take `step` on `referral`: the transition is checked first (a wrong state is refused before any field
    rule), then the step's rule decides, then the change is applied with the next version and its event."""
    to_state = next_state(referral.status, step)
    change = step.decide(rulebook, referral, payload, today)
    after = replace(referral, status=to_state, version=referral.version + 1, **change.fields)
    return Step(after, Event(step.name, change.on, referral.status, to_state, change.data))
