"""API keys at the edge: the built-in Chalice authorizer turns `Authorization: Bearer <key>` into a principal.

The authorizer admits every request that carries a token, marking unknown keys as anonymous, so that the API
itself refuses them with an RFC 9457 problem (401); each view then demands a principal. A request with no
Authorization header at all is refused by API Gateway before the authorizer runs; infra/template.json makes that
gateway answer the same problem. Who a key belongs to is the services' business (services/auth.py).
"""
from __future__ import annotations

from typing import Any

from chalice import AuthResponse, Blueprint

from .. import settings
from ..domain.access import Principal, usage_plan_key
from ..domain.errors import Unauthenticated
from ..services.auth import authenticate

auth_bp = Blueprint(__name__)


# API Gateway keeps an authorizer's answer for a token for `ttl_seconds` (Chalice's default: 300). 0 asks the
# authorizer every time, so a revoked key stops working within the authorizer's own cache bound
# (REFPAY_AUTH_CACHE_SECONDS, 5 s by default: services/auth.py).
GATEWAY_AUTH_CACHE_SECONDS = 0


class MeteredAuthResponse(AuthResponse):
    """An authorizer's answer that names the API Gateway key the request is metered under (`usageIdentifierKey`):
    the usage plan's rate, burst and daily quota then apply per bearer key (infra/template.json, ApiUsagePlan)."""

    def __init__(self, usage_key: str, principal_id: str, context: dict[str, str]) -> None:
        super().__init__(routes=["*"], principal_id=principal_id, context=context)
        self.usage_key = usage_key

    def to_dict(self, request: Any) -> dict[str, Any]:
        return {**super().to_dict(request), "usageIdentifierKey": self.usage_key}


@auth_bp.authorizer(ttl_seconds=GATEWAY_AUTH_CACHE_SECONDS)
def api_key(auth_request: Any) -> AuthResponse:
    principal = authenticate(auth_request.token)
    stage = settings.get().stage
    if principal is None:
        return MeteredAuthResponse(usage_plan_key(stage, None), "anonymous", {"authenticated": "false"})
    return MeteredAuthResponse(usage_plan_key(stage, principal.key_id), principal.key_id, {
        "authenticated": "true", "org_id": principal.org_id, "org_kind": principal.org_kind,
        "roles": ",".join(sorted(principal.roles)), "key_id": principal.key_id,
        "prime_org_id": principal.prime_org_id or ""})


# The name the API definition gives the authorizer's security scheme. Chalice would name it after the function
# (`api_key`), which is also the name API Gateway reads as "this method needs a usage-plan key" (x-api-key): the
# two would collide. The function keeps its name (and its resources in infra/template.json, `ApiKey`).
api_key.name = "bearer"


def principal_of(request: Any) -> Principal:
    """The caller, from the authorizer's context; anonymous callers get a 401 problem."""
    ctx = (request.context or {}).get("authorizer") or {}
    if ctx.get("authenticated") != "true":
        raise Unauthenticated("send 'Authorization: Bearer <API key>' with a valid, unrevoked key")
    return Principal(org_id=ctx["org_id"], org_kind=ctx["org_kind"],
                     roles=frozenset(r for r in ctx["roles"].split(",") if r), key_id=ctx["key_id"],
                     prime_org_id=ctx.get("prime_org_id") or None)
