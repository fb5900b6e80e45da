"""Organisations and API keys: created by an administrator from the command line."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date
from functools import partial
from typing import Any

from .. import clock, settings
from ..adapters import usage_plans
from ..adapters.rulebooks import all_rulebooks
from ..domain import steps
from ..domain.access import ORG_KINDS, ROLES, ApiKeyRecord, Organisation, Principal, new_api_key, usage_plan_key
from ..domain.errors import Conflict, DomainError, ValidationFailed
from ..domain.rulebook import Rulebook
from .deps import store

_ORG_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


def create_organisation(org_id: str, name: str, kind: str, prime_org_id: str | None = None,
                        level: int | None = None, exist_ok: bool = False) -> Organisation:
    if not _ORG_ID.match(org_id):
        raise ValidationFailed.one("org_id", "format", "lower-case letters, digits and hyphens, 2..63")
    if kind not in ORG_KINDS:
        raise ValidationFailed.one("kind", "one_of", f"one of: {', '.join(ORG_KINDS)}")
    orgs = store().organisations
    if kind == "subcontractor":
        prime = orgs.get(prime_org_id or "")
        if prime is None or prime.kind not in ("prime", "local_authority"):
            raise ValidationFailed.one("prime_org_id", "existing_prime", "a subcontractor names an existing prime")
    elif prime_org_id:
        raise ValidationFailed.one("prime_org_id", "subcontractor_only", "only a subcontractor has a prime")
    existing = orgs.get(org_id)
    if existing is not None:
        if exist_ok:
            return existing
        raise Conflict(f"organisation {org_id!r} already exists")
    org = Organisation(org_id=org_id, name=name, kind=kind, level=level, prime_org_id=prime_org_id,
                       created_at=clock.now().isoformat())
    orgs.save(org)
    return org


def create_api_key(org_id: str, roles: list[str], label: str) -> tuple[str, str]:
    """A new key for the organisation; returns (secret, key id). The secret is shown once, stored hashed."""
    orgs = store().organisations
    if orgs.get(org_id) is None:
        raise ValidationFailed.one("org_id", "existing", f"no organisation {org_id!r}")
    unknown = [r for r in roles if r not in ROLES]
    if not roles or unknown:
        raise ValidationFailed.one("roles", "one_of", f"roles from: {', '.join(ROLES)}")
    plan = settings.get().require_usage_plan()
    secret, digest, key_id = new_api_key()
    orgs.save_key(ApiKeyRecord(key_hash=digest, key_id=key_id, org_id=org_id, roles=tuple(sorted(set(roles))),
                               label=label, created_at=clock.now().isoformat()))
    if plan:
        _meter(plan, key_id, org_id)
    return secret, key_id


def _meter(plan: str, key_id: str, org_id: str) -> None:
    usage_plans.register(plan, usage_plan_key(settings.get().stage, key_id), key_id,
                         f"meters refpay API key {key_id} of {org_id}")


def register_usage_keys(keys: Iterable[tuple[str, str]]) -> list[str]:
    """The given keys' usage keys in the stage's usage plan, where missing (keys made before the plan existed, or
    whose registration failed): `keys` are (key id, organisation) of unrevoked keys; returns the key ids
    registered now."""
    plan = settings.get().require_usage_plan()
    if not plan:
        return []
    stage = settings.get().stage
    present = usage_plans.registered(plan)
    done = []
    for key_id, org_id in keys:
        if usage_plan_key(stage, key_id) not in present:
            _meter(plan, key_id, org_id)
            done.append(key_id)
    return done


DEMO_REFERRERS = (
    ("jobcentre-plus-norwich", "Jobcentre Plus, Norwich"),
    ("tees-valley-jcp", "Jobcentre Plus, Tees Valley"),
)


def paying_organisations(books: list[Rulebook]) -> dict[str, str]:
    """Every commissioner and funder organisation the rulebooks name (org id -> name), in rulebook order."""
    out: dict[str, str] = {}
    for book in books:
        out.setdefault(book.commissioner_org_id, book.commissioner)
        for funder in book.tariff.funders:
            if funder.org_id:
                out.setdefault(funder.org_id, funder.name)
    return out


# The keys a chain member gets, by the roles it takes: a referring group refers (and sees what it is owed with
# its finance key), a mentor records its contacts and claims with a provider key, a spoke records its steps.
MEMBER_KEYS = {"referrer": ("referrer", "finance"), "mentor": ("provider", "finance"), "spoke": ("provider",)}


def seed_demo() -> dict:
    """Organisations for every delivery organisation and chain member in the rulebooks, two referrers, every
    commissioner and funder (each with a finance key), and a key per role. Returns {role: key, ...,
    "organisations": {org_id: {role: key}}}."""
    keys: dict[str, dict[str, str]] = {}
    create_organisation("dwp-commissioning", "DWP commissioning (demo)", "commissioner", exist_ok=True)
    keys["dwp-commissioning"] = {"admin": create_api_key("dwp-commissioning", ["admin"], "demo admin")[0]}
    for org_id, name in DEMO_REFERRERS:
        create_organisation(org_id, name, "referrer", exist_ok=True)
        keys[org_id] = {"referrer": create_api_key(org_id, ["referrer"], "demo referrer")[0]}
    books = list(all_rulebooks().values())
    _seed_payers(books, keys)
    _seed_delivery(books, keys)
    _seed_chain_members(books, keys)
    return {
        "referrer": keys["jobcentre-plus-norwich"]["referrer"],
        "provider": keys["kings-lynn-works"]["provider"],
        "prime": keys["trobius"]["provider"],
        "finance": keys["trobius"]["finance"],
        "admin": keys["dwp-commissioning"]["admin"],
        "commissioner_finance": keys["dwp-commissioning"]["finance"],
        "organisations": keys,
    }


def _seed_payers(books: list, keys: dict[str, dict[str, str]]) -> None:
    """Every commissioner and funder: a finance key; a programme's controller of personal data an admin key too
    (erasure, subject access, the access log); a commissioner a key for the exceptions it approves."""
    controllers = {b.commissioner_org_id for b in books}
    for org_id, name in paying_organisations(books).items():
        create_organisation(org_id, name, "commissioner", exist_ok=True)
        keys.setdefault(org_id, {})["finance"] = create_api_key(org_id, ["finance"], "demo commissioner finance")[0]
        if org_id in controllers and "admin" not in keys[org_id]:
            keys[org_id]["admin"] = create_api_key(org_id, ["admin"], "demo controller admin")[0]
    for org_id in sorted({b.commissioner_org_id for b in books if b.commissioner_org_id}):
        # The programme's commissioner approves exceptions to its rules (more time on a module).
        create_organisation(org_id, org_id, "commissioner", exist_ok=True)
        keys.setdefault(org_id, {})["commissioner"] = create_api_key(org_id, ["commissioner"], "demo approvals")[0]


def _seed_delivery(books: list, keys: dict[str, dict[str, str]]) -> None:
    """Every delivery organisation (primes first): a provider and a finance key; an authority with a flexible fund
    budget a coordinator key too (it approves the fund's spot purchases)."""
    ordered = sorted((o for b in books for o in b.delivery_organisations), key=lambda o: o.role == "subcontractor")
    funded = {org for b in books if b.flexible_fund for org in b.flexible_fund.budgets}
    for org in ordered:
        if org.org_id in keys:
            continue
        create_organisation(org.org_id, org.name, "subcontractor" if org.prime else org.role, org.prime, org.level,
                            exist_ok=True)
        keys[org.org_id] = {
            "provider": create_api_key(org.org_id, ["provider"], "demo provider")[0],
            "finance": create_api_key(org.org_id, ["finance"], "demo finance")[0],
        }
        if org.org_id in funded:
            keys[org.org_id]["coordinator"] = create_api_key(org.org_id, ["coordinator"], "demo coordinator")[0]


def _seed_chain_members(books: list, keys: dict[str, dict[str, str]]) -> None:
    """Every chain member: the keys of the parts it plays (MEMBER_KEYS)."""
    for member in (m for b in books for m in b.chain_members):
        if member.org_id in keys:
            continue
        create_organisation(member.org_id, member.name, "subcontractor", member.under, member.level, exist_ok=True)
        roles = sorted({k for r in member.roles for k in MEMBER_KEYS[r]})
        keys[member.org_id] = {role: create_api_key(member.org_id, [role], f"demo {role}")[0] for role in roles}


# The demo's past, on one day of the month before: participants Jobcentre Plus referred to King's Lynn Works
# (Flexible Routeways Norfolk), accepted and started, and one the chain brought: Norfolk Community Links (a Level 1
# VCS group) referred them to Trobius, which routed them to King's Lynn Works, which accepted and started them.
# Every start earns a line, and the group its referral fee, paid through Trobius: all wait for that month's claim
# file (the README walk-throughs cut it, pay it, and pass the group's fee on).
HISTORY_PEOPLE = 4  # each takes one of King's Lynn Works' places: the last is the chain's
_HISTORY_REFERRER = Principal("jobcentre-plus-norwich", "referrer", frozenset({"referrer"}), "demo-history")
_HISTORY_PROVIDER = Principal("kings-lynn-works", "subcontractor", frozenset({"provider"}), "demo-history", "trobius")
_HISTORY_GROUP = Principal("norfolk-community-links", "subcontractor", frozenset({"referrer"}), "demo-history",
                           "trobius")
_HISTORY_PRIME = Principal("trobius", "prime", frozenset({"provider"}), "demo-history")


def seed_history(on: date) -> list[str]:
    """Referrals made and started on `on` (run with the clock on that day): their ids. People already referred
    (a second run on the same tables) are left as they are."""
    from . import journey

    # Who referred each person, to whom, and where the prime routed them (None: referred to the deliverer).
    people: list[tuple[Principal, str, str | None]] = [(_HISTORY_REFERRER, "kings-lynn-works", None)] * (
        HISTORY_PEOPLE - 1)
    people.append((_HISTORY_GROUP, "trobius", "kings-lynn-works"))
    made = []
    for n, (referrer, provider_id, routed_to) in enumerate(people):
        payload = {"programme_id": "flexible-routeways-norfolk", "provider_id": provider_id,
                   "support_level": "standard", "consent": {"given": True, "date": on},
                   "participant": {"nino": f"WX9{on:%y%m}{n}A", "given_name": "Demo", "family_name": f"Past {n}",
                                   "date_of_birth": date(1988, 3, 1 + n), "postcode": "PE30 1EX",
                                   "eligibility": {"seeking_work": True, "right_to_work": True}}}
        try:
            rid = _commit(partial(journey.create_referral, referrer, payload)).referral.id
        except DomainError:
            continue  # referred by an earlier run
        if routed_to is not None:
            _commit(partial(journey.record, _HISTORY_PRIME, rid, steps.get("route"),
                            {"date": on, "to_provider_id": routed_to}))
        for name in ("accept", "start"):
            _commit(partial(journey.record, _HISTORY_PROVIDER, rid, steps.get(name), {"date": on}))
        made.append(rid)
    return made


def _commit(use_case: Callable[..., Any]) -> Any:
    tx = store().transaction()
    result = use_case(tx)
    tx.commit()
    return result
