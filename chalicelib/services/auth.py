"""Who is calling: an API key's secret turned into a principal (organisation, kind, roles).

Keys are stored only as SHA-256 hashes (they are long random strings, so a fast hash is enough). A principal is
cached per container for a few seconds (`REFPAY_AUTH_CACHE_SECONDS`, default 5): a revoked key stops working
within that bound.
"""
from __future__ import annotations

import time

from .. import settings
from ..domain.access import KEY_PREFIX, Principal, hash_key
from .deps import store

_cache: dict[str, tuple[float, Principal | None]] = {}
MAX_TOKEN_LENGTH = 200
_clock = time.monotonic  # (a test advances it)


def authenticate(token: str | None) -> Principal | None:
    """The principal for an `Authorization` header's value, or None for anything but a valid, unrevoked key."""
    if not token:
        return None
    scheme, _, secret = token.strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret.startswith(KEY_PREFIX) or len(secret) > MAX_TOKEN_LENGTH:
        return None
    digest = hash_key(secret)
    hit = _cache.get(digest)
    if hit and hit[0] > _clock():
        return hit[1]
    principal = _load(digest)
    _cache[digest] = (_clock() + settings.get().auth_cache_seconds, principal)
    return principal


def _load(digest: str) -> Principal | None:
    db = store().organisations
    key = db.get_key(digest)
    if key is None or key.revoked:
        return None
    org = db.get(key.org_id)
    if org is None:
        return None
    return Principal(org_id=org.org_id, org_kind=org.kind, roles=frozenset(key.roles), key_id=key.key_id,
                     prime_org_id=org.prime_org_id)


def clear_cache() -> None:
    _cache.clear()
