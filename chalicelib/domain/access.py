"""Who may see and do what: organisations, roles, the tenancy rule, and each party's view of a referral.

An organisation sees a referral through its part in it (`party_role_of`): the prime sees its chain; the deliverer
holding the referral sees everything it records; a spoke and a mentor see the journey (a mentor only its own
contacts, neither the deliverer's agreed price); a referrer sees the status and the outcome, not the journey's case
details; anyone else sees nothing, not even that the referral exists (404).
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from . import parties
from .errors import Forbidden, NotFound
from .parties import DELIVERER, MENTOR, REFERRER, SPOKE
from .referral import RecordedEvent, Referral

# coordinator: a delivering authority's coordinator, who approves its flexible fund's spot purchases.
ROLES = ("referrer", "provider", "finance", "admin", "commissioner", "coordinator")
ORG_KINDS = ("commissioner", "prime", "local_authority", "subcontractor", "referrer")


@dataclass(frozen=True)
class Organisation:
    org_id: str
    name: str
    kind: str  # commissioner | prime | local_authority | subcontractor | referrer
    created_at: str
    level: int | None = None
    prime_org_id: str | None = None


@dataclass(frozen=True)
class ApiKeyRecord:
    """An API key as stored: only the hash of the secret, the public id, and what it may do."""

    key_hash: str
    key_id: str
    org_id: str
    roles: tuple[str, ...]
    label: str
    created_at: str
    revoked: bool = False


@dataclass(frozen=True)
class Principal:
    org_id: str
    org_kind: str
    roles: frozenset[str]
    key_id: str
    prime_org_id: str | None = None

    def require(self, *roles: str) -> None:
        if not self.roles.intersection(roles):
            raise Forbidden(f"this needs the {' or '.join(roles)} role; your key has: "
                            f"{', '.join(sorted(self.roles)) or 'none'}", required_roles=list(roles))

    def list_view(self, wanted: str | None = None, party_only: bool = False) -> str:
        """Which index lists this caller's referrals: as the referrer, the holder, the prime, or a party (a mentor
        or a spoke). `party_only`: the organisation takes part in programmes only as a mentor or spoke."""
        if wanted == "referrer" or (wanted is None and self.roles == frozenset({"referrer"})):
            return "referrer"
        if wanted == "party" or (wanted is None and party_only):
            return "party"
        return "provider" if self.org_kind == "subcontractor" else "prime"


# ------------------------------------------------------------------ each party's view of a referral

PRIME = "prime"  # not a party role: the organisation holding the contract the referral is delivered under
# Not a party either: the programme's commissioner, through a key with the commissioner role, reads a referral of
# its programme (never a list) to decide the exceptions to the programme's rules, without the person's details.
COMMISSIONER = "commissioner"
# The strongest part an organisation plays decides what it sees (a Level 2 group that referred and mentors sees
# what a mentor sees).
_PRECEDENCE = (SPOKE, MENTOR)
# The journey's case details, recorded as the person is supported: what a referrer does not see.
CASE_DETAILS = frozenset({"support_level", "assessed_on", "action_plan_on", "last_review_on", "extra_reviews_on",
                          "job_start", "sustainments", "progression_on", "next_review_due", "contacts",
                          "agreed_price_pence", "agreed_activity", "barriers", "support_costs", "incentives"})
# The deadlines that say whether a referral is being taken up in time: all a referrer sees of the running ones.
UPTAKE_DEADLINES = frozenset({"acknowledge", "start"})
PRICE = frozenset({"agreed_price_pence", "agreed_activity"})
_EVENT_PRICE = ("agreed_price_pence", "activity")  # the accept event's record of the agreed price
# The events that tell a referrer where the referral stands and how it ended.
STATUS_EVENTS = frozenset({"referral", "route", "accept", "reject", "start", "did_not_start", "transfer", "job_start",
                           "exit", "close_unstarted"})


@dataclass(frozen=True)
class View:
    """What one organisation sees of one referral, through its part in it."""

    org_id: str
    role: str                                   # prime | deliverer | spoke | mentor | referrer
    key_roles: frozenset[str]                   # the caller's key's roles (referrer, provider, finance...)
    hidden: frozenset[str] = frozenset()        # referral fields not shown
    event_types: frozenset[str] | None = None   # the events shown (None: all)
    event_data: bool = True                     # whether the data of events others recorded is shown
    own_contacts_only: bool = False
    deadlines: frozenset[str] | None = None     # the running deadlines shown, by rule (None: all)
    personal_data: bool = False                 # the participant's personal fields (may_see_personal_data)

    def contacts(self, referral: Referral) -> tuple[parties.Contact, ...]:
        if self.own_contacts_only:
            return tuple(c for c in referral.contacts if c.org_id == self.org_id)
        return referral.contacts

    def event(self, event: RecordedEvent) -> dict[str, Any] | None:
        """The event's data as this party sees it, or None when the event is not shown at all."""
        if self.event_types is not None and event.type not in self.event_types:
            return None
        if self.own_contacts_only and event.type == "mentoring_contact" and event.actor_org_id != self.org_id:
            return None
        if not self.event_data and event.actor_org_id != self.org_id:
            return {}  # what it recorded itself (a referrer: its referral as made) it sees as recorded
        if "agreed_price_pence" in self.hidden:
            return {k: v for k, v in event.data.items() if k not in _EVENT_PRICE}
        return dict(event.data)


def party_role_of(principal: Principal, referral: Referral, commissioner_org_id: str = "") -> str | None:
    """The part the caller's organisation plays in the referral now: `prime`, `deliverer` (holding it), `spoke`,
    `mentor` or `referrer`, or `commissioner` (a commissioner key of the programme's commissioner,
    `commissioner_org_id`); None if it plays none (it must not learn the referral exists)."""
    org = principal.org_id
    if org == referral.prime_org_id:
        return PRIME
    if org == referral.provider_org_id:
        return DELIVERER
    held = parties.roles_of(referral.parties, org)
    role = next((r for r in _PRECEDENCE if r in held), None)
    if role:
        return role
    if org == referral.referrer_org_id:
        return REFERRER
    return COMMISSIONER if is_programme_commissioner(principal, commissioner_org_id) else None


_VIEWS: dict[str, dict[str, Any]] = {
    PRIME: {},
    DELIVERER: {},
    SPOKE: {"hidden": PRICE},
    MENTOR: {"hidden": PRICE, "own_contacts_only": True},
    REFERRER: {"hidden": CASE_DETAILS, "event_types": STATUS_EVENTS, "event_data": False,
               "deadlines": UPTAKE_DEADLINES},
    COMMISSIONER: {"hidden": PRICE},
}


def view_of(principal: Principal, referral: Referral, commissioner_org_id: str = "") -> View:
    """What the caller sees of the referral; NotFound if its organisation plays no part in it."""
    role = party_role_of(principal, referral, commissioner_org_id)
    if role is None:
        raise NotFound("no such referral")
    return View(principal.org_id, role, principal.roles, personal_data=may_see_personal_data(principal, referral),
                **_VIEWS[role])


def view_as(principal: Principal, role: str, personal_data: bool) -> View:
    """What the caller saw through a part its organisation has since left (`role`): the answer to the step that
    ended it, given again to a retry of that step."""
    return View(principal.org_id, role, principal.roles, personal_data=personal_data, **_VIEWS[role])


def ensure_visible(principal: Principal, referral: Referral, commissioner_org_id: str = "") -> None:
    view_of(principal, referral, commissioner_org_id)


# What identifies the person, or says what they told the referrer about themselves (health, disability,
# convictions: special category data): shown only to the roles working with them (may_see_personal_data).
PERSONAL_FIELDS = ("nino", "given_name", "family_name", "date_of_birth", "postcode", "eligibility")
# The parties that work with the person beside the organisation holding the referral.
_WORKING_WITH_THE_PERSON = frozenset({MENTOR, SPOKE})


def may_see_personal_data(principal: Principal, referral: Referral) -> bool:
    """Whether this caller sees the participant's personal fields (PERSONAL_FIELDS, and the priority groups drawn
    from them) on this referral, or only the pseudonymous participant reference.

    The roles that work with the person see them: the referring organisation's referrer role, and the provider
    role of the organisation delivering (holding the referral), mentoring it or taking it as a spoke. Everyone
    else who may see the referral - its prime when it is not the holder, finance roles, keys of the same
    organisations with other roles - sees the reference only."""
    if "referrer" in principal.roles and principal.org_id == referral.referrer_org_id:
        return True
    if "provider" not in principal.roles:
        return False
    if principal.org_id == referral.provider_org_id:
        return True
    return bool(parties.roles_of(referral.parties, principal.org_id) & _WORKING_WITH_THE_PERSON)


def payee_roles_of(principal: Principal, referral: Referral) -> frozenset[str]:
    """The roles in which the caller's organisation is paid on the referral now (what it may claim as)."""
    return parties.roles_of(referral.parties, principal.org_id) & frozenset(parties.PAYEE_ROLES)


def may_record(org: str, key_roles: frozenset[str], referral: Referral, actor: str,
               party_roles: tuple[str, ...]) -> bool:
    """Whether a key of `org` with `key_roles` may record a step whose recorder is `actor` (steps.HOLDER,
    HOLDER_OR_PRIME, PRIME, PARTIES or REFERRER) or any active party in `party_roles`."""
    if actor == "referrer":
        return "referrer" in key_roles and org == referral.referrer_org_id
    if "provider" not in key_roles:
        return False
    if actor in ("holder", "holder_or_prime") and org == referral.provider_org_id:
        return True
    if actor in ("holder_or_prime", "prime") and org == referral.prime_org_id:
        return True
    return bool(parties.roles_of(referral.parties, org).intersection(party_roles))


def ensure_may_record(principal: Principal, referral: Referral, actor: str, party_roles: tuple[str, ...],
                      commissioner_org_id: str = "") -> None:
    """A step is recorded by the organisation its declaration names: the provider holding the referral (and, for
    some, its prime), only the prime (routing, parties), or an active party in a named role (a mentor's contact,
    a spoke's support)."""
    ensure_visible(principal, referral, commissioner_org_id)
    principal.require("provider")
    if not may_record(principal.org_id, principal.roles, referral, actor, party_roles):
        raise Forbidden(_who_records(actor, party_roles))


def _who_records(actor: str, party_roles: tuple[str, ...]) -> str:
    who = {"holder": "the provider holding this referral", "holder_or_prime": "the provider holding this referral "
           "or its prime", "prime": "the prime of this referral", "parties": "no one else"}.get(actor, actor)
    extra = f" (or its active {' or '.join(party_roles)})" if party_roles and actor != "parties" else ""
    if actor == "parties":
        who = f"this referral's active {' or '.join(party_roles)}"
    return f"only {who}{extra} may record this step"


def is_programme_commissioner(principal: Principal, commissioner_org_id: str) -> bool:
    """The programme's commissioner, through a key with the commissioner role: it reads the programme's referrals
    one by one (no listing) and decides the exceptions to the programme's rules."""
    return bool(commissioner_org_id) and principal.org_id == commissioner_org_id and "commissioner" in principal.roles


def ensure_commissioner(principal: Principal, commissioner_org_id: str) -> None:
    principal.require("commissioner")
    if principal.org_id != commissioner_org_id:
        raise Forbidden("only the programme's commissioner decides this")


KEY_PREFIX = "rp_"


def usage_plan_key(stage: str, key_id: str | None) -> str:
    """The value of the API Gateway key that meters a bearer key under the stage's usage plan (rate, burst, daily
    quota): the authorizer returns it as `usageIdentifierKey`. Derived from the key's public id, so the authorizer
    needs no look-up; callers never send it (the API takes it from the authorizer only). Every caller whose key is
    unknown or revoked shares one, `anonymous`."""
    return f"refpay-{stage}-{key_id or 'anonymous'}"


def new_api_key() -> tuple[str, str, str]:
    """A fresh key: (the secret shown once, its hash to store, its public id for audit trails)."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    return secret, hash_key(secret), "key_" + secrets.token_hex(4)


def hash_key(secret: str) -> str:
    """Keys are long random strings, so a fast hash is enough: only the hash is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()
