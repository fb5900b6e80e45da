"""A programme's rulebook as typed values: everything the system enforces for one programme.

Its referral window, capacity and allocations per delivery organisation, the party roles it uses and the chain
members that take them, eligibility, deadlines, review cadence, durations, sustainment checkpoints and tariff.
Rulebooks are data files (chalicelib/rulebooks/*.json), read and validated by chalicelib/adapters/rulebooks.py,
which produces these values. Nothing here parses or loads files.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .calendar import add_period
from .parties import DELIVERER, REFERRER

PERIOD_UNITS = ("working_days", "days", "weeks", "months", "years")
ANCHORS = ("referral", "acceptance", "start")
DEADLINES = ("acknowledge", "start", "assessment", "action_plan")
ORG_ROLES = ("prime", "local_authority", "subcontractor")
# What a completion before a programme's minimum duration becomes: refused, or recorded as an early leaver.
REFUSE, EARLY_LEAVER = "refuse", "early_leaver"
BEFORE_MIN = (REFUSE, EARLY_LEAVER)


@dataclass(frozen=True)
class Period:
    amount: int
    unit: str

    def after(self, start: date, nation: str) -> date:
        return add_period(start, self.amount, self.unit, nation)

    def describe(self) -> str:
        return f"{self.amount} {self.unit.replace('_', ' ')}"


@dataclass(frozen=True)
class Deadline:
    name: str
    period: Period
    anchor: str  # the event the clock runs from: referral, acceptance or start


@dataclass(frozen=True)
class ExtraReview:
    id: str
    name: str
    every: Period


@dataclass(frozen=True)
class Residence:
    """The area a delivery organisation serves: its local authority (ONS/GSS code) and the postcode districts of its
    residents. A straddling district is shared with another authority: a referral from one states the authority."""

    local_authority: str
    districts: tuple[str, ...]
    straddling: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeliveryOrganisation:
    org_id: str
    name: str
    role: str
    allocation: int | None  # a hard cap on places (None: no cap)
    level: int | None = None
    prime: str | None = None
    areas: tuple[str, ...] = ()
    min_age: int | None = None
    max_age: int | None = None
    review_every_max: Period | None = None
    extra_reviews: tuple[ExtraReview, ...] = ()
    management_fee_bp: int = 0
    minimum: int | None = None  # a target: the least it is to deliver to (reported against, never refused)
    residence: Residence | None = None  # the residents it serves (None: anyone)
    routes_referrals: bool = False  # referrals made to it wait for it to route them to a deliverer

    @property
    def prime_org_id(self) -> str:
        """The organisation holding the contract this one delivers under (itself, unless a subcontractor)."""
        return self.prime or self.org_id


@dataclass(frozen=True)
class ChainMember:
    """An organisation in a programme's chain that delivers no places of its own: it refers, mentors alongside a
    deliverer, or takes people from a hub as a spoke. It works under a delivery organisation (`under`: the prime,
    or the hub), which passes its fees on and keeps `management_fee_bp` of them."""

    org_id: str
    name: str
    roles: tuple[str, ...]
    under: str
    level: int | None = None
    management_fee_bp: int = 0


@dataclass(frozen=True)
class Module:
    id: str
    name: str
    max_duration: Period | None
    review_every: Period | None
    extension_max: Period | None = None  # the most its end may be extended by, with the commissioner's approval


@dataclass(frozen=True)
class Checkpoint:
    id: str
    after: Period
    earns: str | None = None  # an outcome this checkpoint reaches (e.g. ESF's short_job_outcome)


# ---------------------------------------------------------------- tariff


@dataclass(frozen=True)
class Funder:
    """Who pays a fee: an organisation (its org id), or the organisation holding the contract itself (a local
    authority's own co-funding of the service it delivers)."""

    id: str
    name: str
    org_id: str | None = None
    contract_holder: bool = False

    def org_for(self, prime_org_id: str) -> str:
        """The organisation that funds this fee for a delivery chain whose contract `prime_org_id` holds."""
        return prime_org_id if self.contract_holder or not self.org_id else self.org_id


@dataclass(frozen=True)
class Amount:
    """A fee's whole amount per participant: fixed, or a range with a default, or a cap each claim justifies."""

    fixed_pence: int | None = None
    min_pence: int | None = None
    max_pence: int | None = None
    default_pence: int | None = None
    evidence_required: bool = False
    agreed_at_acceptance: bool = False  # a band: the deliverer's accept agrees the price within min..max

    @property
    def per_participant(self) -> int | None:
        """Fixed, or the range's default (None: each claim states its amount)."""
        return self.fixed_pence if self.fixed_pence is not None else self.default_pence


@dataclass(frozen=True)
class FeePayment:
    """One payment of a fee: the milestone that pays it and its share of the fee in basis points."""

    milestone: str
    share_bp: int
    tranches: int | None = None  # monthly tranches, for a scheduled milestone


@dataclass(frozen=True)
class Fee:
    id: str
    description: str
    funder: str
    amount: Amount
    payments: tuple[FeePayment, ...]
    levels: tuple[int, ...] = ()
    payee: str = DELIVERER  # the party role this fee pays (referrer, mentor or deliverer)

    def applies_to(self, level: int | None) -> bool:
        """Whether the fee is for a payee at `level` (the level of the organisation in the payee role)."""
        return not self.levels or level in self.levels


@dataclass(frozen=True)
class Tariff:
    currency: str
    funders: tuple[Funder, ...]
    fees: tuple[Fee, ...]
    claim_window_days: int = 90
    contract_value_pence: int | None = None

    def fee(self, fee_id: str) -> Fee | None:
        return next((f for f in self.fees if f.id == fee_id), None)

    def funder(self, funder_id: str) -> Funder | None:
        return next((f for f in self.funders if f.id == funder_id), None)


# ---------------------------------------------------------------- the rulebook


@dataclass(frozen=True)
class ReferrerTarget:
    """How many participants are expected from the voluntary and community sector (Norfolk: 600-700 of its 1,700):
    referrals whose referrer party is one of the programme's chain members at one of `chain_levels` (Norfolk's
    Level 1 and Level 2 groups). Reported, never enforced."""

    chain_levels: tuple[int, ...]
    min: int
    max: int


@dataclass(frozen=True)
class Targets:
    job_starts_pct: int | None = None
    over_16_hours_pct: int | None = None
    over_8_hours_pct: int | None = None
    cohort_min_share: dict[str, float] = field(default_factory=dict)
    vcs_referrals: ReferrerTarget | None = None


@dataclass(frozen=True)
class LeaverTracking:
    """ESF (seed 003): 'all leavers not in work will be tracked for' a period: a follow-up contact every `every`
    after the exit until `lasts` has run (or they are in work), each recording what the leaver is doing."""

    every: Period
    lasts: Period


@dataclass(frozen=True)
class PaymentControls:
    """The commissioner's controls on payment: the share of claim-file lines drawn for validation until the
    commissioner sets its own rate, and how many days a prime has to pass a subcontractor's money on after the
    commissioner paid it."""

    sample_rate_bp: int = 0
    pass_through_days: int = 30


@dataclass(frozen=True)
class Plausibility:
    """Bounds that catch a keying error in what a referrer records (they are not eligibility rules): the oldest
    plausible age at referral, and how long a participant's recorded consent stays good for a referral."""

    max_age: int = 100
    consent_valid_for: Period = Period(6, "months")


PROGRAMME_CLOSURE, AFTER_EXIT = "programme_closure", "after_exit"
RETENTION_BASES = (PROGRAMME_CLOSURE, AFTER_EXIT)


@dataclass(frozen=True)
class FlexibleFund:
    """A flexible fund each delivery authority administers locally under guidelines common to the programme: a
    budget per authority for the programme's life, the categories of spend (each removes a barrier recorded in the
    participant's action plan), which spends are spot purchases needing the authority's coordinator's approval
    (a spend marked as one, a procured service, or any above `spot_purchase_over_pence`), and the employer
    incentive: paid to the employer, limited per participant. `fee` and `incentive_fee` name the tariff fees
    (and so the funder) their payment lines are paid under."""

    fee: str
    categories: tuple[str, ...]
    budgets: dict[str, int]                 # delivery organisation -> budget in pence
    spot_purchase_over_pence: int
    incentive_fee: str
    incentive_max_pence: int                # employer incentives per participant, in all

    def budget_of(self, org_id: str) -> int | None:
        return self.budgets.get(org_id)


@dataclass(frozen=True)
class Retention:
    """How long a participant's personal fields are kept (chalicelib/domain/retention.py): until the programme's
    closure date its funder sets (`until`), or a `period` after the referral ends. `funder_mandated`: the funder
    requires the records kept that long, so the controller's erasure request is refused until then."""

    basis: str = AFTER_EXIT
    period: Period | None = Period(6, "years")
    until: date | None = None
    funder_mandated: bool = False

    def ends(self, closed_on: date, nation: str) -> date:
        if self.basis == PROGRAMME_CLOSURE and self.until is not None:
            return max(self.until, closed_on)
        assert self.period is not None
        return self.period.after(closed_on, nation)

    def describe(self) -> str:
        if self.basis == PROGRAMME_CLOSURE and self.until is not None:
            return f"kept until the programme's closure on {self.until.isoformat()}"
        assert self.period is not None
        return f"kept {self.period.describe()} after the referral ended"


@dataclass(frozen=True)
class Rulebook:
    id: str
    name: str
    source: str
    nation: str
    commissioner: str
    referral_opens: date
    referral_closes: date
    total_capacity: int | None  # a hard cap on the programme's places (None: no cap)
    delivery_organisations: tuple[DeliveryOrganisation, ...]
    min_age: int | None
    max_age: int | None
    required_attributes: tuple[str, ...]
    excluded_attributes: tuple[str, ...]
    priority_groups: tuple[str, ...]
    support_levels: dict[str, Period]
    deadlines: dict[str, Deadline]
    min_duration: Period | None
    max_duration: Period | None
    modules: tuple[Module, ...]
    module_moves: tuple[tuple[str, str], ...]
    returns_allowed: bool
    exit_review_required: bool
    in_work_support: Period | None
    checkpoints: tuple[Checkpoint, ...]
    tariff: Tariff
    targets: Targets = field(default_factory=Targets)
    commissioner_org_id: str = ""
    payment_controls: PaymentControls = field(default_factory=PaymentControls)
    completion_before_min: str = REFUSE  # a completion before the minimum duration: refused, or an early leaver
    reassessment_every: Period | None = None  # a reassessment with the participant, from the last assessment
    party_roles: tuple[str, ...] = (REFERRER, DELIVERER)
    chain_members: tuple[ChainMember, ...] = ()
    stated_attributes: tuple[str, ...] = ()  # conditions a referral must state, true or false (checked, recorded)
    ineligible_notice: Period | None = None  # an eligibility decision (the ineligible told, signposted) from referral
    leaver_tracking: LeaverTracking | None = None  # follow-up contacts with leavers not in work after their exit
    plausibility: Plausibility = field(default_factory=Plausibility)
    retention: Retention = field(default_factory=Retention)
    late_recording_limit: Period = Period(20, "working_days")  # older than this, recording needs approval
    flexible_fund: FlexibleFund | None = None  # a fund per delivery authority for barriers, and employer incentives
    document: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def provider(self, org_id: str) -> DeliveryOrganisation | None:
        return next((o for o in self.delivery_organisations if o.org_id == org_id), None)

    def provider_for_area(self, area: str) -> DeliveryOrganisation | None:
        wanted = area.strip().lower()
        return next((o for o in self.delivery_organisations if wanted in o.areas), None)

    def member(self, org_id: str) -> ChainMember | None:
        return next((m for m in self.chain_members if m.org_id == org_id), None)

    def level_of(self, org_id: str) -> int | None:
        """The level of a delivery organisation or a chain member (None: not in the chain, or no levels)."""
        found = self.provider(org_id) or self.member(org_id)
        return found.level if found else None

    def management_fee_bp_of(self, org_id: str) -> int:
        """The share its prime keeps of what `org_id` is paid (0 outside the chain)."""
        found = self.provider(org_id) or self.member(org_id)
        return found.management_fee_bp if found else 0

    def routes(self, org_id: str) -> bool:
        """Whether referrals made to `org_id` wait for it to route them to a deliverer."""
        provider = self.provider(org_id)
        return bool(provider and provider.routes_referrals)

    def agreed_bands(self, deliverer_org_id: str) -> tuple[Fee, ...]:
        """The deliverer's fees whose price it agrees within a band when it accepts."""
        level = self.level_of(deliverer_org_id)
        return tuple(f for f in self.tariff.fees
                     if f.payee == DELIVERER and f.amount.agreed_at_acceptance and f.applies_to(level))

    def members_in(self, role: str, under: str) -> tuple[ChainMember, ...]:
        """The chain members that may take `role` under the delivery organisation `under`."""
        return tuple(m for m in self.chain_members if role in m.roles and m.under == under)

    def subcontractors_of(self, org_id: str) -> tuple[DeliveryOrganisation, ...]:
        return tuple(o for o in self.delivery_organisations if o.prime == org_id)

    def contract_holders(self) -> tuple[DeliveryOrganisation, ...]:
        """The organisations holding a contract with the commissioner: primes and local authorities."""
        return tuple(o for o in self.delivery_organisations if o.prime is None)

    def funder_org(self, funder_id: str, prime_org_id: str) -> str:
        """The organisation that funds a fee of this tariff for the chain whose contract `prime_org_id` holds."""
        funder = self.tariff.funder(funder_id)
        return funder.org_for(prime_org_id) if funder else self.commissioner_org_id

    def module(self, module_id: str) -> Module | None:
        return next((m for m in self.modules if m.id == module_id), None)

    def checkpoint(self, checkpoint_id: str) -> Checkpoint | None:
        return next((c for c in self.checkpoints if c.id == checkpoint_id), None)

    def window_open_on(self, day: date) -> bool:
        return self.referral_opens <= day <= self.referral_closes

    def window_closed_on(self, day: date) -> bool:
        return day > self.referral_closes
