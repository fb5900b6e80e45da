"""API keys: the built-in Chalice authorizer turns `Authorization: Bearer <key>` into a principal.

Keys are stored only as SHA-256 hashes (they are long random strings, so a fast hash is enough). The
authorizer admits every request that carries a token, marking unknown keys as anonymous, so that the API
itself refuses them with an RFC 9457 problem (401); each view then demands a principal. A request with no
Authorization header at all is refused by API Gateway before the authorizer runs; infra/template.json makes that
gateway answer the same problem.
"""
from __future__ import annotations

import time

from chalice import AuthResponse, Blueprint

from .. import config
from ..domain.access import KEY_PREFIX, Principal, hash_key
from ..domain.errors import Unauthenticated
from ..store import repository as repo

auth_bp = Blueprint(__name__)
_cache: dict[str, tuple[float, Principal | None]] = {}


def authenticate(token: str | None) -> Principal | None:
    """The principal for a bearer token, cached per container for a short time."""
    if not token:
        return None
    scheme, _, secret = token.strip().partition(" ")
    if scheme.lower() != "bearer" or not secret.startswith(KEY_PREFIX) or len(secret) > 200:
        return None
    digest = hash_key(secret.strip())
    hit = _cache.get(digest)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    principal = _load(digest)
    _cache[digest] = (time.monotonic() + config.auth_cache_seconds(), principal)
    return principal


def _load(digest: str) -> Principal | None:
    key = repo.get_api_key(digest)
    if key is None or key.revoked:
        return None
    org = repo.get_organisation(key.org_id)
    if org is None:
        return None
    return Principal(org_id=org.org_id, org_kind=org.kind, roles=frozenset(key.roles), key_id=key.key_id,
                     prime_org_id=org.prime_org_id)


def clear_cache() -> None:
    _cache.clear()


@auth_bp.authorizer()
def api_key(auth_request):
    principal = authenticate(auth_request.token)
    if principal is None:
        return AuthResponse(routes=["*"], principal_id="anonymous", context={"authenticated": "false"})
    return AuthResponse(routes=["*"], principal_id=principal.key_id, context={
        "authenticated": "true", "org_id": principal.org_id, "org_kind": principal.org_kind,
        "roles": ",".join(sorted(principal.roles)), "key_id": principal.key_id,
        "prime_org_id": principal.prime_org_id or ""})


def principal_of(request) -> Principal:
    """The caller, from the authorizer's context; anonymous callers get a 401 problem."""
    ctx = (request.context or {}).get("authorizer") or {}
    if ctx.get("authenticated") != "true":
        raise Unauthenticated("send 'Authorization: Bearer <API key>' with a valid, unrevoked key")
    return Principal(org_id=ctx["org_id"], org_kind=ctx["org_kind"],
                     roles=frozenset(r for r in ctx["roles"].split(",") if r), key_id=ctx["key_id"],
                     prime_org_id=ctx.get("prime_org_id") or None)
