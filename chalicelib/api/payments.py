"""Payment endpoints: claims, finance decisions, clawbacks, the cascade and claim files."""
from __future__ import annotations

from dataclasses import asdict

from chalice import Blueprint

from ..payments.money import pounds
from ..services import claim_files, payments as service
from . import schemas as s
from .routing import Written, endpoint

payments_bp = Blueprint(__name__)
TAGS = ["payments"]
WRITE_ERRORS = (401, 403, 404, 409, 415, 422)


def _line(line) -> dict:
    return s.LineOut().dump({**asdict(line), "period": line.period})


@endpoint(payments_bp, "/claims", "POST", summary="Claim a fee that needs evidence", tags=TAGS,
          roles=("provider",), body=s.ClaimIn, response=s.LineOut, status=201, errors=WRITE_ERRORS)
def submit_claim(principal, params, payload, tx):
    line = service.submit_claim(principal, payload, tx)
    return Written(201, _line(line), f"/claims/{line.line_id}")


@endpoint(payments_bp, "/claims", "GET", summary="Payment lines: yours, or (a prime) your subcontractors' too",
          tags=TAGS, query=s.ClaimsQuery, response=s.LinePage, errors=(401, 403, 422))
def list_claims(principal, params, query):
    lines, cursor = service.list_claims(principal, query)
    return {"items": [_line(x) for x in lines], "cursor": cursor, "has_more": cursor is not None}


@endpoint(payments_bp, "/claims/{line_id}", "GET", summary="One payment line", tags=TAGS, response=s.LineOut,
          errors=(401, 404))
def get_claim(principal, params, query):
    return _line(service.read(principal, params["line_id"]))


@endpoint(payments_bp, "/claims/{line_id}/approve", "POST", summary="Approve a submitted claim (finance)",
          tags=TAGS, roles=("finance",), body=s.DecisionIn, response=s.LineOut, errors=WRITE_ERRORS)
def approve(principal, params, payload, tx):
    return Written(200, _line(service.decide(principal, [params["line_id"]], True, None, tx)[0]))


@endpoint(payments_bp, "/claims/{line_id}/reject", "POST", summary="Reject a submitted claim with a reason "
          "(finance)", tags=TAGS, roles=("finance",), body=s.DecisionIn, response=s.LineOut, errors=WRITE_ERRORS)
def reject(principal, params, payload, tx):
    return Written(200, _line(service.decide(principal, [params["line_id"]], False, payload.get("reason"), tx)[0]))


@endpoint(payments_bp, "/claims/decisions", "POST", summary="Approve or reject many claims at once, all or none "
          "(finance)", tags=TAGS, roles=("finance",), body=s.BulkDecisionIn, response=s.DecisionsOut,
          errors=WRITE_ERRORS)
def decide_many(principal, params, payload, tx):
    lines = service.decide(principal, payload["line_ids"], payload["decision"] == "approve", payload.get("reason"), tx)
    return Written(200, {"items": [_line(x) for x in lines]})


@endpoint(payments_bp, "/claims/{line_id}/clawback", "POST", summary="Reverse a committed line: a new negative "
          "line (finance)", tags=TAGS, roles=("finance",), body=s.ClawbackIn, response=s.LineOut, status=201,
          errors=WRITE_ERRORS)
def clawback(principal, params, payload, tx):
    line = service.claw_back(principal, params["line_id"], payload["reason"], tx)
    return Written(201, _line(line), f"/claims/{line.line_id}")


@endpoint(payments_bp, "/payments/cascade", "GET", summary="What each payee is owed and what its prime kept, "
          "line by line", tags=TAGS, query=s.CascadeQuery, response=s.CascadeOut, errors=(401, 422))
def cascade(principal, params, query):
    result = service.cascade(principal, query["period"])
    return s.CascadeOut().dump({**result, "lines": [{**asdict(x), "period": x.period} for x in result["lines"]]})


def _file(record, url) -> dict:
    totals = record.totals or {}
    return s.ClaimFileOut().dump({
        "id": record.claim_file_id, "programme_id": record.programme_id, "period": record.period,
        "payee_org_id": record.payee_org_id, "status": record.status, "line_count": int(record.line_count or 0),
        "total_pence": totals.get("total_pence", 0), "total_gbp": pounds(totals.get("total_pence", 0)),
        "totals": totals.get("by_payee_and_funder", []), "download_url": url,
        "download_expires_in": claim_files.DOWNLOAD_SECONDS if url else None})


@endpoint(payments_bp, "/claim-files", "POST", summary="Cut the claim file for a programme and period (finance)",
          tags=TAGS, roles=("finance",), body=s.ClaimFileIn, response=s.ClaimFileOut, status=201,
          errors=WRITE_ERRORS)
def cut_claim_file(principal, params, payload, tx):
    record = claim_files.cut(principal, payload["programme_id"], payload["period"], payload.get("payee_org_id"))
    return Written(201, _file(record, claim_files.download_url(record)), f"/claim-files/{record.claim_file_id}")


@endpoint(payments_bp, "/claim-files/{claim_file_id}", "GET", summary="A claim file's summary and a download "
          "link", tags=TAGS, response=s.ClaimFileOut, errors=(401, 404))
def get_claim_file(principal, params, query):
    return _file(*claim_files.read(principal, params["claim_file_id"]))
