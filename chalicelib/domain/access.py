"""Who may see and do what: organisations, roles and the tenancy rule."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from .errors import Forbidden, NotFound
from .referral import Referral

ROLES = ("referrer", "provider", "finance", "admin")
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

    def list_view(self, wanted: str | None = None) -> str:
        """Which index lists this caller's referrals: as the referrer, the holder, or the prime."""
        if wanted == "referrer" or (wanted is None and self.roles == frozenset({"referrer"})):
            return "referrer"
        return "provider" if self.org_kind == "subcontractor" else "prime"


def can_see(principal: Principal, referrer_org_id: str, provider_org_id: str, prime_org_id: str) -> bool:
    """A caller sees its own organisation's referrals; a prime also sees its subcontractors'."""
    return principal.org_id in (referrer_org_id, provider_org_id, prime_org_id)


def ensure_visible(principal: Principal, referral: Referral) -> None:
    if not can_see(principal, referral.referrer_org_id, referral.provider_org_id, referral.prime_org_id):
        raise NotFound("no such referral")


def ensure_holder(principal: Principal, referral: Referral, prime_may_act: bool = False) -> None:
    """Journey steps are recorded by the provider holding the referral (and, for some, its prime)."""
    ensure_visible(principal, referral)
    principal.require("provider")
    allowed = {referral.provider_org_id} | ({referral.prime_org_id} if prime_may_act else set())
    if principal.org_id not in allowed:
        raise Forbidden("only the provider holding this referral may record this step")


KEY_PREFIX = "rp_"


def new_api_key() -> tuple[str, str, str]:
    """A fresh key: (the secret shown once, its hash to store, its public id for audit trails)."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    return secret, hash_key(secret), "key_" + secrets.token_hex(4)


def hash_key(secret: str) -> str:
    """Keys are long random strings, so a fast hash is enough: only the hash is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()
