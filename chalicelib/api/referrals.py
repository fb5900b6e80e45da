"""The referral endpoints: refer, list, read, the audit trail, and a return. The journey steps' own routes are
built from the step registry (api/steps.py)."""
from __future__ import annotations

from typing import Any

from .. import clock
from ..domain.access import Principal
from ..domain.idempotency import Resource
from ..services import journey as service
from ..services import privacy
from ..services.journey import Result
from ..services.ports import UnitOfWork
from .present import event_body, referral_body
from .routing import Written, endpoint, renderer
from .schema_refs import schemas as s

TAGS = ["referrals"]
WRITE_ERRORS = (401, 403, 404, 409, 415, 422)


def written(result: Result, status: int = 200) -> Written:
    body = referral_body(result.referral, result.rulebook, clock.today(), result.view)
    location = f"/referrals/{result.referral.id}" if result.created else None
    resource = Resource("referral", (result.referral.id,))
    if result.left and result.view is not None:
        # The step ended the caller's part: a retry is answered as this was, while the referral is as it left it.
        resource = Resource("referral_left", (result.referral.id, str(result.referral.version), result.view.role,
                                              SHOWN if result.view.personal_data else WITHHELD))
    return Written(201 if result.created else status, body, location, resource)


SHOWN, WITHHELD = "personal_data_shown", "personal_data_withheld"


@renderer("referral")
def render_referral(principal: Principal, resource: Resource) -> dict[str, Any]:
    result = service.read(principal, resource.ids[0])
    return referral_body(result.referral, result.rulebook, clock.today(), result.view)


@renderer("referral_left")
def render_referral_left(principal: Principal, resource: Resource) -> dict[str, Any]:
    referral_id, version, role, shown = resource.ids
    result = service.read_as_left(principal, referral_id, int(version), role, shown == SHOWN)
    return referral_body(result.referral, result.rulebook, clock.today(), result.view)


@endpoint("/referrals", "POST", summary="Refer a participant to a programme", tags=TAGS, roles=("referrer",),
          body=s.ReferralIn, response=s.ReferralOut, status=201, errors=WRITE_ERRORS)
def create_referral(principal: Principal, params: dict, payload: dict, tx: UnitOfWork) -> Written:
    return written(service.create_referral(principal, payload, tx))


@endpoint("/referrals", "GET", summary="List your organisation's referrals: those it made, holds (a prime: its "
          "chain's), or mentors or takes as a spoke (view=party)", tags=TAGS,
          query=s.ListReferralsQuery, response=s.ReferralPage, errors=(401, 403, 422))
def list_referrals(principal: Principal, params: dict, query: dict) -> dict[str, Any]:
    results, cursor = service.list_referrals(
        principal, query.get("view"), query["limit"], query.get("cursor"), query.get("status"),
        query.get("programme_id"), query.get("provider_id"))
    today = clock.today()
    privacy.log_reads(principal, [r.referral for r in results], "GET /referrals")
    return {"items": [referral_body(r.referral, r.rulebook, today, r.view) for r in results],
            "cursor": cursor, "has_more": cursor is not None}


@endpoint("/referrals/{referral_id}", "GET", summary="A referral as your part in it lets you see it: state, parties, "
          "running deadlines, next review, and the actions you may take next (each the name of a step: POST "
          "/referrals/{referral_id}/<action>)", tags=TAGS,
          response=s.ReferralOut, errors=(401, 404))
def get_referral(principal: Principal, params: dict, query: dict) -> dict[str, Any]:
    result = service.read(principal, params["referral_id"])
    privacy.log_reads(principal, [result.referral], "GET /referrals/{referral_id}")
    return referral_body(result.referral, result.rulebook, clock.today(), result.view)


@endpoint("/referrals/{referral_id}/events", "GET", summary="The referral's audit trail (a referrer: its status "
          "events only)", tags=TAGS,
          query=s.PageQuery, response=s.EventPage, errors=(401, 404, 422))
def referral_events(principal: Principal, params: dict, query: dict) -> dict[str, Any]:
    items, cursor = service.events(principal, params["referral_id"], query["limit"], query.get("cursor"))
    return {"items": [event_body(i) for i in items], "cursor": cursor, "has_more": cursor is not None}


@endpoint("/referrals/{referral_id}/re_referral", "POST",
          summary="Refer a former participant again, where the programme allows a return", tags=TAGS,
          roles=("referrer",), body=s.ReReferralIn, response=s.ReferralOut, status=201, errors=WRITE_ERRORS)
def re_referral(principal: Principal, params: dict, payload: dict, tx: UnitOfWork) -> Written:
    return written(service.re_refer(principal, params["referral_id"], payload, tx))
