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

from . import deadlines, fund, journey, parties, recording
from . import inputs as i
from .errors import InvalidTransition, ValidationFailed
from .parties import CONTACT_MODES, MENTOR, SPOKE
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

INELIGIBLE_REASONS = ("age", "right_to_work", "residence", "in_employment", "on_other_dwp_programme",
                      "benefit_entitlement", "not_seeking_work", "other")
FOLLOW_UP_OUTCOMES = ("in_work", "self_employed", "education_or_training", "other_provision", "not_in_work",
                      "no_contact")

Decide = Callable[[Rulebook, Referral, dict, date], Change]
Available = Callable[[Rulebook, Referral], bool]

# Who may record a step: the provider holding the referral, its prime too, only the prime, only the parties named
# in the step's `parties`, only the system (nightly run), the referrer (a return), or the programme's commissioner.
HOLDER, HOLDER_OR_PRIME, PRIME, PARTIES, SYSTEM, REFERRER = (
    "holder", "holder_or_prime", "prime", "parties", "system", "referrer")
RECORDED_BY_ORGANISATIONS = (HOLDER, HOLDER_OR_PRIME, PRIME, PARTIES)
COMMISSIONER = "commissioner"  # the programme's commissioner, deciding an exception to its rules


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
    parties: tuple[str, ...] = ()           # party roles (besides the actor) that may record it too: a spoke...
    available: Available | None = None      # whether it applies to this programme and referral (None: always)

    @property
    def offered(self) -> bool:
        """Whether it is offered to the referral's own organisations in `allowed_actions` (the system's steps and
        the commissioner's approvals are not)."""
        return self.actor not in (SYSTEM, COMMISSIONER)


def _not_held(rulebook: Rulebook, referral: Referral) -> bool:
    return not rulebook.routes(referral.provider_org_id)


def _held(rulebook: Rulebook, referral: Referral) -> bool:
    return rulebook.routes(referral.provider_org_id)


def _uses(role: str) -> Available:
    def uses(rulebook: Rulebook, referral: Referral) -> bool:
        return role in rulebook.party_roles

    return uses


def _decides_eligibility(rulebook: Rulebook, referral: Referral) -> bool:
    return rulebook.ineligible_notice is not None


def _tracked_leaver(rulebook: Rulebook, referral: Referral) -> bool:
    return deadlines.next_follow_up(rulebook, referral) is not None


def _has_active(*roles: str) -> Available:
    def has(rulebook: Rulebook, referral: Referral) -> bool:
        return any(parties.current(referral.parties, r) for r in roles)

    return has


DATE = {"date": i.Date(description="the day it happened (YYYY-MM-DD)")}
_same = {s: s for s in ON_PROVISION}
_open = {REFERRED: REFERRED, ACCEPTED: ACCEPTED, **_same}
_delivering = {ACCEPTED: ACCEPTED, **_same}
_SUPPORT = (SPOKE,)  # a hub's spoke records the support it gives

_BARRIER = {"id": i.Text(40, description="a short reference (lower-case letters, digits, hyphens): no personal data"),
            "category": i.Text(30, description="one of the flexible fund's categories (childcare, travel...)")}
_COST = {"id": i.Text(40, description="a short reference (lower-case letters, digits, hyphens)"),
         "amount_pence": i.Int(1, 10_000_000, description="what the support in work would cost (pence)")}

_ALL_BUT_CLOSED = {s: s for s in (REFERRED, ACCEPTED, *ON_PROVISION, EXITED)}


def _approve_late(rulebook: Rulebook, referral: Referral, payload: dict, today: date) -> Change:
    """The commissioner's approval of a late step: the step is one a provider records, or the referral itself."""
    name = payload["step"]
    known = sorted(s.name for s in _REGISTRY.values() if s.actor in RECORDED_BY_ORGANISATIONS)
    if name != recording.REFERRAL and name not in known:
        raise ValidationFailed.one("step", "one_of", f"one of: {recording.REFERRAL}, {', '.join(known)}")
    return journey.approve_late_recording(rulebook, referral, payload, today)


_STEPS: tuple[StepDef, ...] = (
    StepDef("accept", "Accept a referral (a deliverer whose fee is a band agrees its price within it)",
            {REFERRED: ACCEPTED}, journey.accept,
            {**DATE, "agreed_price_pence": i.Int(0, 100_000_000, required=False, description=(
                "the price agreed within the fee's band (pence); none: the band's default")),
             "activity": i.Text(200, required=False, description="the activity that justifies the agreed price")},
            metric="ReferralsAccepted", available=_not_held),
    StepDef("reject", "Reject a referral with a reason", {REFERRED: REJECTED}, journey.reject,
            {**DATE, "reason": i.Choice(REJECT_REASONS)}, metric="ReferralsRejected"),
    StepDef("start", "Record the participant's start", {ACCEPTED: STARTED}, journey.start, DATE, metric="Starts"),
    StepDef("did_not_start", "Record that the participant did not start", {ACCEPTED: DID_NOT_START},
            journey.did_not_start, {**DATE, "reason": i.Choice(DID_NOT_START_REASONS)}, metric="DidNotStart"),
    StepDef("assessment", "Record an (initial or re-)assessment",
            {STARTED: ASSESSED, ASSESSED: ASSESSED, IN_SUPPORT: IN_SUPPORT, IN_WORK: IN_WORK}, fund.assessment,
            {**DATE, "support_level": i.Text(30, required=False, description="reassessed support level"),
             "document_ref": i.Text(200, required=False),
             "support_costs": i.List(_COST, 20, description=(
                 "in-work support costs the assessment identified (an employer incentive meets one)"))},
            creates_record=True, parties=_SUPPORT),
    StepDef("action_plan", "Record an agreed action plan",
            {ASSESSED: IN_SUPPORT, IN_SUPPORT: IN_SUPPORT, IN_WORK: IN_WORK}, fund.action_plan,
            {**DATE, "document_ref": i.Text(200, required=False),
             "barriers": i.List(_BARRIER, 20, description=(
                 "barriers to work the plan identified (a flexible-fund spend names the one it removes)"))},
            creates_record=True, parties=_SUPPORT),
    StepDef("review", "Record an action-plan review (or a provider's extra review)",
            {IN_SUPPORT: IN_SUPPORT, IN_WORK: IN_WORK}, journey.review,
            {**DATE, "kind": i.Text(40, required=False, description="'review' or a provider's extra review id"),
             "notes_ref": i.Text(200, required=False)}, creates_record=True, parties=_SUPPORT),
    StepDef("job_start", "Record a job start: employer, hours and weekly earnings",
            {ASSESSED: IN_WORK, IN_SUPPORT: IN_WORK, IN_WORK: IN_WORK}, journey.job_start,
            {**DATE, "employer_name": i.Text(200),
             "hours_per_week": i.Decimal(0, 168, description="hours a week (a JSON number, up to 2 decimals)"),
             "weekly_earnings_pence": i.Int(0, 100_000_000), "self_employed": i.Bool()},
            metric="JobStarts", creates_record=True, parties=_SUPPORT),
    StepDef("sustainment", "Confirm a sustainment checkpoint in work", {IN_WORK: IN_WORK}, journey.sustainment,
            {**DATE, "checkpoint": i.Text(40, description="a checkpoint id of the programme")},
            metric="SustainmentChecks", creates_record=True, parties=_SUPPORT),
    StepDef("progression", "Record progression into unsupported work", {IN_WORK: IN_WORK}, journey.progression,
            DATE, creates_record=True, parties=_SUPPORT),
    StepDef("module_move", "Move the participant to another module", dict(_same), journey.module_move,
            {**DATE, "module_id": i.Text(64)}),
    StepDef("transfer", "Transfer the participant to another provider, with handover",
            {ACCEPTED: ACCEPTED, **_same}, journey.transfer,
            {**DATE, "to_provider_id": i.Text(64),
             "handover": i.Object({"date": i.Date(), "document_ref": i.Text(200, required=False)})},
            actor=HOLDER_OR_PRIME, metric="Transfers"),
    StepDef("route", "Route a referral the prime holds to one of its deliverers (and name the mentor, if any)",
            {REFERRED: REFERRED}, journey.route,
            {**DATE, "to_provider_id": i.Text(64, description="the deliverer"),
             "mentor_org_id": i.Text(64, required=False, description=(
                 "a chain member mentoring alongside the deliverer; by default the referrer, if it mentors"))},
            actor=PRIME, metric="ReferralsRouted", available=_held),
    StepDef("add_party", "Add an organisation to the referral in a role, from a date (the prime)", dict(_open),
            journey.add_party,
            {**DATE, "party_org_id": i.Text(64, description="the chain member joining"),
             "role": i.Choice((MENTOR,), description="its role (a spoke joins by the hub's spoke_handover)")},
            actor=PRIME, available=_uses(MENTOR)),
    StepDef("end_party", "End an organisation's part in the referral on a date, with a reason (the prime)",
            dict(_open), journey.end_party,
            {**DATE, "party_org_id": i.Text(64), "role": i.Choice((MENTOR, SPOKE)), "reason": i.Text(200)},
            actor=PRIME, available=_has_active(MENTOR, SPOKE)),
    StepDef("spoke_handover", "Pass the participant to a spoke partner of the hub, with a warm handover",
            dict(_delivering), journey.spoke_handover,
            {**DATE, "spoke_org_id": i.Text(64, description="a spoke partner of the hub holding the referral"),
             "handover_ref": i.Text(200, description="the warm-handover document")},
            metric="SpokeHandovers", available=_uses(SPOKE)),
    StepDef("mentoring_contact", "Record a mentoring contact (the mentor)", dict(_delivering),
            journey.mentoring_contact,
            {**DATE, "minutes": i.Int(1, 600, description="how long the contact lasted"),
             "mode": i.Choice(CONTACT_MODES), "notes_ref": i.Text(200, required=False)},
            actor=PARTIES, parties=(MENTOR,), metric="MentoringContacts", creates_record=True,
            available=_has_active(MENTOR)),
    StepDef("flexible_fund_spend", "Spend from the authority's flexible fund to remove a barrier in the action plan",
            {ASSESSED: ASSESSED, IN_SUPPORT: IN_SUPPORT, IN_WORK: IN_WORK}, fund.spend,
            {**DATE, "category": i.Text(30, description="the fund's category of spend (the barrier's)"),
             "barrier_id": i.Text(40, description="the action plan's barrier the spend removes"),
             "amount_pence": i.Int(1, 10_000_000), "supplier": i.Text(200, description=(
                 "the supplier and what was bought (no personal data)")),
             "spot_purchase": i.Bool(description=(
                 "a procured service (a CSCS or door-security course...): waits for the coordinator's approval")),
             "provider_ref": i.Text(64, required=False, description="the authority's own reference for the spend")},
            metric="FlexibleFundSpends", creates_record=True, available=fund.has_fund),
    StepDef("employer_incentive", "Agree an employer incentive in brokerage, meeting an assessed in-work support cost",
            {ASSESSED: ASSESSED, IN_SUPPORT: IN_SUPPORT, IN_WORK: IN_WORK}, fund.incentive,
            {**DATE, "employer_name": i.Text(200, description="the employer: an organisation's name, never a person's"),
             "amount_pence": i.Int(1, 10_000_000),
             "cost_id": i.Text(40, description="the in-work support cost an assessment identified")},
            metric="EmployerIncentives", creates_record=True, available=fund.has_fund),
    StepDef("exit", "Record the participant's exit, with the exit review", dict.fromkeys(ON_PROVISION, EXITED),
            journey.exit_provision,
            {**DATE, "reason": i.Choice(EXIT_REASONS),
             "exit_review": i.Object({"date": i.Date(), "destination": i.Choice(DESTINATIONS),
                                      "document_ref": i.Text(200, required=False)}, required=False)},
            metric="Exits"),
    StepDef("eligible", "Record the eligibility decision that the person is eligible",
            {REFERRED: REFERRED, ACCEPTED: ACCEPTED}, journey.eligible, DATE, available=_decides_eligibility),
    StepDef("ineligible", "Tell an ineligible person why, and the service they are signposted to (closes it)",
            {REFERRED: REJECTED, ACCEPTED: REJECTED}, journey.ineligible,
            {**DATE, "reason": i.Choice(INELIGIBLE_REASONS, description="why the person is ineligible"),
             "signposted_to": i.Text(200, description="the service the person was signposted to")},
            metric="IneligibleSignposted", available=_decides_eligibility),
    StepDef("follow_up", "Record a follow-up contact with a leaver not in work, and what they are doing now",
            {EXITED: EXITED}, journey.follow_up,
            {**DATE, "outcome": i.Choice(FOLLOW_UP_OUTCOMES, description="what the leaver is doing now")},
            metric="LeaverFollowUps", creates_record=True, available=_tracked_leaver),
    StepDef("re_referral", "Refer a former participant again, where the programme allows a return",
            {EXITED: EXITED}, journey.re_referral, actor=REFERRER),
    # The nightly run closes a referral never started by its start deadline once the referral window has shut.
    StepDef("close_unstarted", "Close a referral not started by its deadline after the window shut",
            {REFERRED: DID_NOT_START, ACCEPTED: DID_NOT_START}, journey.close_unstarted, DATE, actor=SYSTEM,
            metric="ReferralsClosedUnstarted"),
    # The programme's commissioner approves a step (or the referral) recorded beyond the late-recording limit.
    StepDef("approve_late_recording", "The commissioner approves a step recorded beyond the late-recording limit",
            dict(_ALL_BUT_CLOSED), _approve_late,
            {"step": i.Text(40, description="the step to be recorded late, or 'referral' for the referral itself"),
             "step_date": i.Date(description="the day it happened"), "reason": i.Text(500)},
            actor=COMMISSIONER, metric="LateRecordingsApproved"),
    # Work Choice's Module 1: more time, asked for by the provider and decided by the commissioner.
    StepDef("module_extension_request", "Ask the commissioner for more time on the current module, with a reason",
            dict(_same), journey.module_extension_request,
            {**DATE, "until": i.Date(description="the module's new end"), "reason": i.Text(500)},
            available=journey.module_extendable),
    StepDef("module_extension_decision", "The commissioner approves or refuses a module extension",
            dict(_same), journey.module_extension_decision,
            {"decision": i.Choice(("approve", "refuse")), "reason": i.Text(500, required=False)},
            actor=COMMISSIONER, available=journey.module_extendable),
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


def apply(step: StepDef, rulebook: Rulebook, referral: Referral, payload: dict, today: date,
          actor_org_id: str = "") -> Step:
    """Take `step` on `referral`: the transition is checked first (a wrong state is refused before any field
    rule), then the step's rule decides, then the change is applied with the next version and its event. Parties
    the step adds name `actor_org_id` as who added them."""
    to_state = next_state(referral.status, step)
    change = step.decide(rulebook, referral, payload, today)
    if step.actor in RECORDED_BY_ORGANISATIONS:
        late = recording.marker(rulebook, referral, step.name, change.on, today)
        if late:
            change = replace(change, data={**change.data, "recorded_late": late})
    fields = dict(change.fields)
    if "parties" in fields:
        fields["parties"] = parties.stamp(fields["parties"], actor_org_id)
    after = replace(referral, status=to_state, version=referral.version + 1, **fields)
    return Step(after, Event(step.name, change.on, referral.status, to_state, change.data))
