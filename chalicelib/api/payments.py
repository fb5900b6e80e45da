"""Payment endpoints: claims, finance decisions, clawbacks, the cascade and claim files."""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..domain.access import Principal
from ..domain.idempotency import Resource
from ..services import claim_files
from ..services import payments as service
from ..services.ports import UnitOfWork
from . import schemas as s
from .present import claim_file_body, line_body
from .routing import Written, endpoint, renderer

TAGS = ["payments"]
WRITE_ERRORS = (401, 403, 404, 409, 415, 422)


@renderer("line")
def render_line(principal: Principal, resource: Resource) -> dict[str, Any]:
    return line_body(service.read(principal, resource.ids[0]))


@renderer("lines")
def render_lines(principal: Principal, resource: Resource) -> dict[str, Any]:
    return {"items": [line_body(service.read(principal, i)) for i in resource.ids]}


@renderer("claim_file")
def render_claim_file(principal: Principal, resource: Resource) -> dict[str, Any]:
    return claim_file_body(*claim_files.read(principal, resource.ids[0]))


@endpoint("/claims", "POST", summary="Claim a fee that needs evidence", tags=TAGS, roles=("provider",),
          body=s.ClaimIn, response=s.LineOut, status=201, errors=WRITE_ERRORS)
def submit_claim(principal: Principal, params: dict, payload: dict, tx: UnitOfWork) -> Written:
    line = service.submit_claim(principal, payload, tx)
    return Written(201, line_body(line), f"/claims/{line.line_id}", Resource("line", (line.line_id,)))


@endpoint("/claims", "GET", summary="Payment lines: yours, or (a prime) your subcontractors' too", tags=TAGS,
          query=s.ClaimsQuery, response=s.LinePage, errors=(401, 403, 422))
def list_claims(principal: Principal, params: dict, query: dict) -> dict[str, Any]:
    lines, cursor = service.list_claims(principal, query)
    return {"items": [line_body(x) for x in lines], "cursor": cursor, "has_more": cursor is not None}


@endpoint("/claims/{line_id}", "GET", summary="One payment line", tags=TAGS, response=s.LineOut, errors=(401, 404))
def get_claim(principal: Principal, params: dict, query: dict) -> dict[str, Any]:
    return line_body(service.read(principal, params["line_id"]))


def _decided(lines: list, single: bool) -> Written:
    ids = tuple(x.line_id for x in lines)
    if single:
        return Written(200, line_body(lines[0]), None, Resource("line", ids))
    return Written(200, {"items": [line_body(x) for x in lines]}, None, Resource("lines", ids))


@endpoint("/claims/{line_id}/approve", "POST", summary="Approve a submitted claim (finance)", tags=TAGS,
          roles=("finance",), body=s.DecisionIn, response=s.LineOut, errors=WRITE_ERRORS)
def approve(principal: Principal, params: dict, payload: dict, tx: UnitOfWork) -> Written:
    return _decided(service.decide(principal, [params["line_id"]], True, None, tx), single=True)


@endpoint("/claims/{line_id}/reject", "POST", summary="Reject a submitted claim with a reason (finance)", tags=TAGS,
          roles=("finance",), body=s.DecisionIn, response=s.LineOut, errors=WRITE_ERRORS)
def reject(principal: Principal, params: dict, payload: dict, tx: UnitOfWork) -> Written:
    return _decided(service.decide(principal, [params["line_id"]], False, payload.get("reason"), tx), single=True)


@endpoint("/claims/decisions", "POST", summary="Approve or reject many claims at once, all or none (finance)",
          tags=TAGS, roles=("finance",), body=s.BulkDecisionIn, response=s.DecisionsOut, errors=WRITE_ERRORS)
def decide_many(principal: Principal, params: dict, payload: dict, tx: UnitOfWork) -> Written:
    lines = service.decide(principal, payload["line_ids"], payload["decision"] == "approve", payload.get("reason"), tx)
    return _decided(lines, single=False)


@endpoint("/claims/{line_id}/clawback", "POST", summary="Reverse a committed line: a new negative line (finance)",
          tags=TAGS, roles=("finance",), body=s.ClawbackIn, response=s.LineOut, status=201, errors=WRITE_ERRORS)
def clawback(principal: Principal, params: dict, payload: dict, tx: UnitOfWork) -> Written:
    line = service.claw_back(principal, params["line_id"], payload["reason"], tx)
    return Written(201, line_body(line), f"/claims/{line.line_id}", Resource("line", (line.line_id,)))


@endpoint("/payments/cascade", "GET", summary="What each payee is owed and what its prime kept, line by line",
          tags=TAGS, query=s.CascadeQuery, response=s.CascadeOut, errors=(401, 422))
def cascade(principal: Principal, params: dict, query: dict) -> dict[str, Any]:
    result = service.cascade(principal, query["period"])
    body: dict[str, Any] = s.CascadeOut().dump(
        {**result, "lines": [{**asdict(x), "period": x.period} for x in result["lines"]]})
    return body


@endpoint("/claim-files", "POST", summary="Cut the claim file for a programme and period (finance)", tags=TAGS,
          roles=("finance",), body=s.ClaimFileIn, response=s.ClaimFileOut, status=201, errors=WRITE_ERRORS)
def cut_claim_file(principal: Principal, params: dict, payload: dict, tx: UnitOfWork) -> Written:
    record = claim_files.cut(principal, payload["programme_id"], payload["period"], payload.get("payee_org_id"))
    return Written(201, claim_file_body(record, claim_files.download_url(record)),
                   f"/claim-files/{record.claim_file_id}", Resource("claim_file", (record.claim_file_id,)))


@endpoint("/claim-files/{claim_file_id}", "GET", summary="A claim file's summary and a download link", tags=TAGS,
          response=s.ClaimFileOut, errors=(401, 404))
def get_claim_file(principal: Principal, params: dict, query: dict) -> dict[str, Any]:
    return claim_file_body(*claim_files.read(principal, params["claim_file_id"]))
