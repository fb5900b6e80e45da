"""The journey's earlier URLs, still served so existing clients keep working (marked deprecated in OpenAPI).

Each step now has one name, used in its URL, the lifecycle, the audit trail and `allowed_actions`
(`POST /referrals/{id}/accept`, `/job_start`...). Before that, some URLs were plural nouns (`/assessments`), and two
combined several steps behind a field (`/acknowledgement` with `decision`, `/outcomes` with `type`). Each old URL
maps onto the step it always meant; the answer is the same as the step's own URL gives.
"""
from __future__ import annotations

from typing import Any

from ..domain import steps
from ..domain.access import Principal
from ..services import journey as service
from ..services.ports import UnitOfWork
from .referrals import TAGS, WRITE_ERRORS, written
from .routing import Written, endpoint
from .schema_refs import schemas as s

# old path segment -> (step name, status); the request is the step's own
RENAMED = {"did-not-start": ("did_not_start", 200), "assessments": ("assessment", 201),
           "action-plans": ("action_plan", 201), "reviews": ("review", 201), "module": ("module_move", 200)}


def _record(principal: Principal, params: dict, name: str, payload: dict, tx: UnitOfWork, status: int) -> Written:
    return written(service.record(principal, params["referral_id"], steps.get(name), payload, tx), status)


def _renamed(old: str, name: str, status: int) -> None:
    def record(principal: Principal, params: dict, payload: dict, tx: UnitOfWork) -> Written:
        return _record(principal, params, name, payload, tx, status)

    record.__name__ = f"legacy_{name}"
    endpoint(f"/referrals/{{referral_id}}/{old}", "POST", summary=f"Deprecated: use POST /referrals/{{referral_id}}"
             f"/{name}", tags=TAGS, roles=("provider",), body=s.step_schema(steps.get(name)), response=s.ReferralOut,
             status=status, errors=WRITE_ERRORS, deprecated=True)(record)


for _old, (_name, _status) in RENAMED.items():
    _renamed(_old, _name, _status)


@endpoint("/referrals/{referral_id}/acknowledgement", "POST", summary="Deprecated: use POST "
          "/referrals/{referral_id}/accept or /reject", tags=TAGS, roles=("provider",), body=s.AcknowledgementIn,
          response=s.ReferralOut, errors=WRITE_ERRORS, deprecated=True)
def legacy_acknowledgement(principal: Principal, params: dict, payload: dict, tx: UnitOfWork) -> Written:
    decision = payload.pop("decision")
    return _record(principal, params, decision, payload, tx, 200)


@endpoint("/referrals/{referral_id}/outcomes", "POST", summary="Deprecated: use POST /referrals/{referral_id}"
          "/job_start, /sustainment or /progression", tags=TAGS, roles=("provider",), body=s.OutcomeIn,
          response=s.ReferralOut, status=201, errors=WRITE_ERRORS, deprecated=True)
def legacy_outcomes(principal: Principal, params: dict, payload: dict, tx: UnitOfWork) -> Written:
    kind = payload.pop("type")
    return _record(principal, params, kind, payload, tx, 201)


@endpoint("/referrals/{referral_id}/re-referrals", "POST", summary="Deprecated: use POST "
          "/referrals/{referral_id}/re_referral", tags=TAGS, roles=("referrer",), body=s.ReReferralIn,
          response=s.ReferralOut, status=201, errors=WRITE_ERRORS, deprecated=True)
def legacy_re_referrals(principal: Principal, params: dict, payload: dict, tx: UnitOfWork) -> Written:
    return written(service.re_refer(principal, params["referral_id"], payload, tx))


__all__: list[Any] = []
