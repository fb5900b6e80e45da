"""Assembling the HTTP API: every declared route and every registered journey step, served from one table."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from ..domain.access import Principal
from . import compliance, fund, legacy, meta, payments, privacy, referrals  # noqa: F401  (their @endpoint declarations)
from .openapi import document
from .routing import DECLARED, RouteDoc, build_blueprint, route
from .steps import step_routes


def routes() -> list[RouteDoc]:
    """The declared routes, the journey steps' routes (from the registry as it is now) and the OpenAPI document
    of exactly those."""
    table = [*DECLARED, *step_routes()]
    cache: dict[str, Any] = {}

    def openapi(principal: Principal | None, params: dict, query: dict) -> dict[str, Any]:
        if "doc" not in cache:
            cache["doc"] = document(table)
        return cache["doc"]

    table.append(route("/openapi.json", "GET", summary="This API's OpenAPI 3 document", tags=["meta"], roles=None,
                       handler=openapi))
    return table


def api_blueprint() -> Blueprint:
    return build_blueprint(routes())
