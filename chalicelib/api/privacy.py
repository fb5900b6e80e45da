"""The controller's endpoints over participants' personal data: an erasure request, a subject access export,
and the access log. The controller is the programme's commissioner, through its `admin` keys."""
from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from ..domain.access import Principal
from ..domain.idempotency import Resource
from ..domain.participants import pseudonymous_reference
from ..services import privacy as service
from ..services.ports import UnitOfWork
from .routing import Written, endpoint, renderer
from .schema_refs import schemas as s

TAGS = ["personal data"]


def _erasure_body(referral: Any) -> dict[str, Any]:
    body: dict[str, Any] = s.ErasureOut().dump({
        "referral_id": referral.id, "erased_on": referral.erased_on,
        "participant": {"reference": pseudonymous_reference(referral.participant_hash), "personal_data": "erased"}})
    return body


@renderer("erasure")
def render_erasure(principal: Principal, resource: Resource) -> dict[str, Any]:
    return _erasure_body(service.controlled_referral(principal, resource.ids[0]))


@endpoint("/referrals/{referral_id}/erasure", "POST", summary="Erase the participant's personal fields now, at "
          "the controller's request, where the law allows (refused with a reason: participant_active, claim_open, "
          "retention_mandated)", tags=TAGS, roles=("admin",), body=s.ErasureIn, response=s.ErasureOut,
          errors=(401, 403, 404, 409, 415, 422))
def erasure(principal: Principal, params: dict, payload: dict, tx: UnitOfWork) -> Written:
    referral = service.request_erasure(principal, params["referral_id"], tx)
    return Written(200, _erasure_body(referral), None, Resource("erasure", (referral.id,)))


def _export_body(exported: dict[str, Any]) -> dict[str, Any]:
    # Dates and times as ISO 8601 text, like every other answer.
    plain = json.loads(json.dumps(exported, default=lambda v: v.isoformat()))
    body: dict[str, Any] = s.SubjectAccessOut().dump(plain)
    return body


@renderer("subject_access")
def render_subject_access(principal: Principal, resource: Resource) -> dict[str, Any]:
    return _export_body(service.export(principal, resource.ids))


@endpoint("/subject-access", "POST", summary="Everything held about one participant on your programmes, as JSON "
          "(a subject access request; the person is named by their NINO in the body, never in a URL)", tags=TAGS,
          roles=("admin",), body=s.SubjectAccessIn, response=s.SubjectAccessOut, errors=(401, 403, 404, 415, 422))
def subject_access(principal: Principal, params: dict, payload: dict, tx: UnitOfWork) -> Written:
    referrals = service.subject_access(principal, payload["nino"], tx)
    return Written(200, _export_body(service.export_of(principal, referrals)), None,
                   Resource("subject_access", tuple(r.id for r in referrals)))


@endpoint("/access-log", "GET", summary="Who read which participant's personal fields, and when, on your "
          "programmes (newest first; one participant's with ?participant=PR-...)", tags=TAGS, roles=("admin",),
          query=s.AccessLogQuery, response=s.AccessLogPage, errors=(401, 403, 422))
def access_log(principal: Principal, params: dict, query: dict) -> dict[str, Any]:
    items, cursor = service.access_log(principal, query.get("participant"), query["limit"], query.get("cursor"))
    out = [{**asdict(e), "read_at": e.read_at.isoformat()} for e in items]
    body: dict[str, Any] = s.AccessLogPage().dump({"items": out, "cursor": cursor, "has_more": cursor is not None})
    return body
