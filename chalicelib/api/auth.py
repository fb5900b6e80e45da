"""API keys at the edge: the built-in Chalice authorizer turns `Authorization: Bearer <key>` into a principal.

The authorizer admits every request that carries a token, marking unknown keys as anonymous, so that the API
itself refuses them with an RFC 9457 problem (401); each view then demands a principal. A request with no
Authorization header at all is refused by API Gateway before the authorizer runs; infra/template.json makes that
gateway answer the same problem. Who a key belongs to is the services' business (services/auth.py).
"""
from __future__ import annotations

from typing import Any

from chalice import AuthResponse, Blueprint

from ..domain.access import Principal
from ..domain.errors import Unauthenticated
from ..services.auth import authenticate

auth_bp = Blueprint(__name__)


# API Gateway keeps an authorizer's answer for a token for `ttl_seconds` (Chalice's default: 300). 0 asks the
# authorizer every time, so a revoked key stops working within the authorizer's own cache bound
# (REFPAY_AUTH_CACHE_SECONDS, 5 s by default: services/auth.py).
GATEWAY_AUTH_CACHE_SECONDS = 0


@auth_bp.authorizer(ttl_seconds=GATEWAY_AUTH_CACHE_SECONDS)
def api_key(auth_request: Any) -> AuthResponse:
    principal = authenticate(auth_request.token)
    if principal is None:
        return AuthResponse(routes=["*"], principal_id="anonymous", context={"authenticated": "false"})
    return AuthResponse(routes=["*"], principal_id=principal.key_id, context={
        "authenticated": "true", "org_id": principal.org_id, "org_kind": principal.org_kind,
        "roles": ",".join(sorted(principal.roles)), "key_id": principal.key_id,
        "prime_org_id": principal.prime_org_id or ""})


def principal_of(request: Any) -> Principal:
    """The caller, from the authorizer's context; anonymous callers get a 401 problem."""
    ctx = (request.context or {}).get("authorizer") or {}
    if ctx.get("authenticated") != "true":
        raise Unauthenticated("send 'Authorization: Bearer <API key>' with a valid, unrevoked key")
    return Principal(org_id=ctx["org_id"], org_kind=ctx["org_kind"],
                     roles=frozenset(r for r in ctx["roles"].split(",") if r), key_id=ctx["key_id"],
                     prime_org_id=ctx.get("prime_org_id") or None)
