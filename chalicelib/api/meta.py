"""Health, the programmes' published rules, and the rulebook format. (The OpenAPI document is served by the
app's route table: api/application.py.)"""
from __future__ import annotations

from typing import Any

from ..domain.access import Principal
from ..services import programmes
from .routing import endpoint
from .schema_refs import schemas as s


@endpoint("/health", "GET", summary="Liveness", tags=["meta"], roles=None, response=s.HealthOut)
def health(principal: Principal | None, params: dict, query: dict) -> dict[str, Any]:
    return {"status": "ok", "programmes": programmes.count()}


@endpoint("/rulebook-schema.json", "GET", summary="The rulebook format as a JSON Schema (draft 2020-12)",
          tags=["meta"], roles=None)
def rulebook_schema(principal: Principal | None, params: dict, query: dict) -> dict[str, Any]:
    return programmes.rulebook_schema()


@endpoint("/programmes", "GET", summary="The programmes and whether they take referrals today",
          tags=["programmes"], response=s.ProgrammeList, errors=(401,))
def programme_list(principal: Principal, params: dict, query: dict) -> dict[str, Any]:
    body: dict[str, Any] = s.ProgrammeList().dump({"items": programmes.all_summaries()})
    return body


@endpoint("/programmes/{programme_id}", "GET", summary="A programme's rules and allocation use",
          tags=["programmes"], response=s.ProgrammeOut, errors=(401, 404))
def programme(principal: Principal, params: dict, query: dict) -> dict[str, Any]:
    body: dict[str, Any] = s.ProgrammeOut().dump(programmes.detail(params["programme_id"]))
    return body
