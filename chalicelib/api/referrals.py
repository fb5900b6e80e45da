"""The referral journey endpoints."""
from __future__ import annotations

from chalice import Blueprint

from .. import clock
from ..domain.rulebook import get_rulebook
from ..services import journey as service
from . import schemas as s
from .present import event_body, referral_body
from .routing import Written, endpoint

referrals_bp = Blueprint(__name__)
TAGS = ["referrals"]
WRITE_ERRORS = (401, 403, 404, 409, 415, 422)


def _written(result, status: int = 200) -> Written:
    body = referral_body(result.referral, result.rulebook, clock.today())
    location = f"/referrals/{result.referral.id}" if result.created else None
    return Written(201 if result.created else status, body, location)


@endpoint(referrals_bp, "/referrals", "POST", summary="Refer a participant to a programme", tags=TAGS,
          roles=("referrer",), body=s.ReferralIn, response=s.ReferralOut, status=201, errors=WRITE_ERRORS)
def create_referral(principal, params, payload, tx):
    return _written(service.create_referral(principal, payload, tx))


@endpoint(referrals_bp, "/referrals", "GET", summary="List your organisation's referrals", tags=TAGS,
          query=s.ListReferralsQuery, response=s.ReferralPage, errors=(401, 403, 422))
def list_referrals(principal, params, query):
    items, cursor = service.list_referrals(
        principal, query.get("view"), query["limit"], query.get("cursor"), query.get("status"),
        query.get("programme_id"), query.get("provider_id"))
    today = clock.today()
    return {"items": [referral_body(r, get_rulebook(r.programme_id), today) for r in items],
            "cursor": cursor, "has_more": cursor is not None}


@endpoint(referrals_bp, "/referrals/{referral_id}", "GET", summary="A referral: state, running deadlines, "
          "next review", tags=TAGS, response=s.ReferralOut, errors=(401, 404))
def get_referral(principal, params, query):
    result = service.read(principal, params["referral_id"])
    return referral_body(result.referral, result.rulebook, clock.today())


@endpoint(referrals_bp, "/referrals/{referral_id}/events", "GET", summary="The referral's audit trail",
          tags=TAGS, query=s.PageQuery, response=s.EventPage, errors=(401, 404, 422))
def referral_events(principal, params, query):
    items, cursor = service.events(principal, params["referral_id"], query["limit"], query.get("cursor"))
    return {"items": [event_body(i) for i in items], "cursor": cursor, "has_more": cursor is not None}


def _step(path: str, action: str, schema, summary: str, status: int = 200):
    @endpoint(referrals_bp, "/referrals/{referral_id}/" + path, "POST", summary=summary, tags=TAGS,
              roles=("provider",), body=schema, response=s.ReferralOut, status=status, errors=WRITE_ERRORS)
    def record(principal, params, payload, tx):
        return _written(service.record(principal, params["referral_id"], action, payload, tx), status)

    record.__name__ = f"record_{action}"
    return record


acknowledgement = _step("acknowledgement", "acknowledgement", s.AcknowledgementIn,
                        "Acknowledge a referral: accept, or reject with a reason")
start = _step("start", "start", s.DatedIn, "Record the participant's start")
did_not_start = _step("did-not-start", "did_not_start", s.DidNotStartIn, "Record that the participant did not start")
assessment = _step("assessments", "assessment", s.AssessmentIn, "Record an (initial or re-)assessment", 201)
action_plan = _step("action-plans", "action_plan", s.ActionPlanIn, "Record an agreed action plan", 201)
review = _step("reviews", "review", s.ReviewIn, "Record an action-plan review (or a provider's extra review)", 201)
outcome = _step("outcomes", "outcome", s.OutcomeIn,
                "Record a job start, a sustainment confirmation or progression to unsupported work", 201)
module = _step("module", "module_move", s.ModuleMoveIn, "Move the participant to another module")
transfer = _step("transfer", "transfer", s.TransferIn, "Transfer the participant to another provider, with handover")
exit_ = _step("exit", "exit", s.ExitIn, "Record the participant's exit, with the exit review")


@endpoint(referrals_bp, "/referrals/{referral_id}/re-referrals", "POST",
          summary="Refer a former participant again, where the programme allows a return", tags=TAGS,
          roles=("referrer",), body=s.ReReferralIn, response=s.ReferralOut, status=201, errors=WRITE_ERRORS)
def re_refer(principal, params, payload, tx):
    return _written(service.re_refer(principal, params["referral_id"], payload, tx))
