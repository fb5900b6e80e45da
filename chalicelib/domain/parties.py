"""The organisations on a referral, each in a role, and the mentoring contacts a mentor records.

One participant's journey can involve several organisations at once. Each is a party to the referral in a role:

- `referrer`: the organisation that referred the person (a Jobcentre, a council team, a voluntary group);
- `deliverer`: the provider doing the job support; it holds the referral (`Referral.provider_org_id`);
- `mentor`: an organisation supporting the person alongside delivery (Flexible Routeways' Level 2 groups);
- `spoke`: a partner a hub passes the person to with a warm handover (Tees Valley's hub-and-spoke boroughs).

A party is added from a date and ended on a date with a reason, never silently replaced: a transfer ends the
deliverer party and adds the new one; a new mentor follows the end of the previous one. A programme's rulebook
says which roles it uses and which organisations may take them (its chain members). Nothing here reads storage.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from .errors import ValidationFailed

REFERRER, MENTOR, DELIVERER, SPOKE = "referrer", "mentor", "deliverer", "spoke"
PARTY_ROLES = (REFERRER, MENTOR, DELIVERER, SPOKE)
# Roles a fee can pay (a spoke's work is paid to the hub that holds the referral).
PAYEE_ROLES = (REFERRER, MENTOR, DELIVERER)
# Roles a chain member (an organisation that is not a delivery organisation of the programme) can take.
MEMBER_ROLES = (REFERRER, MENTOR, SPOKE)
# Roles whose referrals the organisation lists through the party index (the referral's own indexes list the
# referrer's, the holder's and the prime's).
LISTED_BY_PARTY = (MENTOR, SPOKE)
CONTACT_MODES = ("in_person", "phone", "video", "other")
MAX_CONTACTS = 300  # mentoring contacts kept on one referral (a referral is one item: its size is bounded)
BY_ACTOR = ""  # `added_by` of a party a step adds: the step registry stamps the organisation that recorded it


@dataclass(frozen=True)
class Party:
    org_id: str
    role: str
    since: date
    added_by: str                   # the organisation that added it
    until: date | None = None       # the day it ended (None: still a party)
    end_reason: str | None = None
    handover_ref: str | None = None  # a spoke's warm-handover document

    @property
    def active(self) -> bool:
        return self.until is None


@dataclass(frozen=True)
class Contact:
    """One mentoring contact, recorded by the mentor: the evidence a mentoring claim refers to."""

    id: str
    org_id: str
    on: date
    minutes: int
    mode: str
    notes_ref: str | None = None


def active(parties: tuple[Party, ...], role: str | None = None) -> tuple[Party, ...]:
    return tuple(p for p in parties if p.active and (role is None or p.role == role))


def current(parties: tuple[Party, ...], role: str) -> Party | None:
    """The active party in `role` (each role is held by one organisation at a time)."""
    return next(iter(active(parties, role)), None)


def roles_of(parties: tuple[Party, ...], org_id: str) -> frozenset[str]:
    """The roles `org_id` holds on the referral now."""
    return frozenset(p.role for p in parties if p.active and p.org_id == org_id)


def add(parties: tuple[Party, ...], party: Party) -> tuple[Party, ...]:
    """`parties` with `party` added; refused if the role is already held (end the current holder first)."""
    holder = current(parties, party.role)
    if holder is not None:
        if holder.org_id == party.org_id:
            raise ValidationFailed.one("party_org_id", "not_already_party",
                                       f"{party.org_id} is already the {party.role} on this referral")
        raise ValidationFailed.one("role", "one_at_a_time", f"{holder.org_id} is the {party.role} on this referral: "
                                   f"end that party first")
    return (*parties, party)


def end(parties: tuple[Party, ...], org_id: str, role: str, on: date, reason: str) -> tuple[Party, ...]:
    """`parties` with the active party (`org_id`, `role`) ended on `on` with `reason`."""
    party = current(parties, role)
    if party is None or party.org_id != org_id:
        raise ValidationFailed.one("party_org_id", "active_party", f"{org_id} is not the {role} on this referral")
    if on < party.since:
        raise ValidationFailed.one("date", "not_before", f"date {on.isoformat()} is before the party was added "
                                   f"({party.since.isoformat()})")
    return tuple(replace(p, until=on, end_reason=reason) if p is party else p for p in parties)


def replace_deliverer(parties: tuple[Party, ...], org_id: str, on: date, by: str, reason: str) -> tuple[Party, ...]:
    """A move to another deliverer: the current deliverer party (if any) ends on `on`, the new one starts."""
    holder = current(parties, DELIVERER)
    if holder is not None:
        parties = end(parties, holder.org_id, DELIVERER, max(on, holder.since), reason)
    return add(parties, Party(org_id, DELIVERER, on, by))


def listed(parties: tuple[Party, ...]) -> dict[str, tuple[str, ...]]:
    """Organisation -> the roles it has held on the referral that list it through the party index."""
    out: dict[str, tuple[str, ...]] = {}
    for p in parties:
        if p.role in LISTED_BY_PARTY and p.role not in out.get(p.org_id, ()):
            out[p.org_id] = (*out.get(p.org_id, ()), p.role)
    return out


def stamp(parties: tuple[Party, ...], actor_org_id: str) -> tuple[Party, ...]:
    """The parties with every one added by the step being recorded naming `actor_org_id` as who added it."""
    return tuple(replace(p, added_by=actor_org_id) if p.added_by == BY_ACTOR else p for p in parties)


def add_contact(contacts: tuple[Contact, ...], org_id: str, on: date, minutes: int, mode: str,
                notes_ref: str | None) -> tuple[Contact, ...]:
    if len(contacts) >= MAX_CONTACTS:
        raise ValidationFailed.one("date", "max_contacts", f"a referral keeps at most {MAX_CONTACTS} contacts")
    contact = Contact(f"mc{len(contacts) + 1}", org_id, on, minutes, mode, notes_ref)
    return (*contacts, contact)
