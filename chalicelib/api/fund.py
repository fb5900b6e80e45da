"""Flexible fund endpoints: the coordinator's decision on a spot purchase, and each authority's fund report.
(A spend and an employer incentive are journey steps: POST /referrals/{id}/flexible_fund_spend and
/employer_incentive.)"""
from __future__ import annotations

from typing import Any

from ..domain.access import Principal
from ..domain.idempotency import Resource
from ..services import fund as service
from ..services.ports import UnitOfWork
from .present import line_body
from .routing import Written, endpoint, renderer
from .schema_refs import schemas as s

TAGS = ["flexible fund"]
WRITE_ERRORS = (401, 403, 404, 409, 415, 422)


@renderer("spot_purchase")
def render_spot_purchase(principal: Principal, resource: Resource) -> dict[str, Any]:
    return line_body(service.read_spend(principal, resource.ids[0]))


def _decided(principal: Principal, line_id: str, approve: bool, reason: str | None, tx: UnitOfWork) -> Written:
    line = service.decide_spot_purchase(principal, line_id, approve, reason, tx)
    return Written(200, line_body(line), None, Resource("spot_purchase", (line.line_id,)))


@endpoint("/flexible-fund/spends/{line_id}/approve", "POST", summary="Approve a spot purchase from the "
          "authority's flexible fund (the authority's coordinator, never the key that recorded it): it counts "
          "against the budget and goes to the funder for approval", tags=TAGS, roles=("coordinator",),
          body=s.DecisionIn, response=s.LineOut, errors=WRITE_ERRORS)
def approve_spot_purchase(principal: Principal, params: dict, payload: dict, tx: UnitOfWork) -> Written:
    return _decided(principal, params["line_id"], True, None, tx)


@endpoint("/flexible-fund/spends/{line_id}/reject", "POST", summary="Reject a spot purchase with a reason (the "
          "authority's coordinator)", tags=TAGS, roles=("coordinator",), body=s.DecisionIn, response=s.LineOut,
          errors=WRITE_ERRORS)
def reject_spot_purchase(principal: Principal, params: dict, payload: dict, tx: UnitOfWork) -> Written:
    return _decided(principal, params["line_id"], False, payload.get("reason"), tx)


@endpoint("/programmes/{programme_id}/flexible-fund", "GET", summary="Each authority's flexible fund: budget, "
          "committed, spent, remaining, spot purchases waiting, spend by category and employer incentives by "
          "employer (the authority its own; the programme's commissioner every authority's)", tags=TAGS,
          response=s.FundReportOut, errors=(401, 403, 404))
def fund_report(principal: Principal, params: dict, query: dict) -> dict[str, Any]:
    body: dict[str, Any] = s.FundReportOut().dump(service.report(principal, params["programme_id"]))
    return body
