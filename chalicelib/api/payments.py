"""Payment endpoints: claims, finance decisions, clawbacks, the cascade, claim files and their validation."""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..domain.access import Principal
from ..domain.idempotency import Needs, Resource
from ..services import claim_files, supply_chain, validation
from ..services import payments as service
from ..services.ports import UnitOfWork
from .present import check_body, claim_file_body, line_body
from .routing import Written, endpoint, renderer
from .schema_refs import schemas as s

TAGS = ["payments"]
WRITE_ERRORS = (401, 403, 404, 409, 415, 422)


@renderer("line")
def render_line(principal: Principal, resource: Resource) -> dict[str, Any]:
    return line_body(service.read(principal, resource.ids[0]))


@renderer("lines")
def render_lines(principal: Principal, resource: Resource) -> dict[str, Any]:
    return {"items": [line_body(service.read(principal, i)) for i in resource.ids]}


def _claim_file(principal: Principal, claim_file_id: str) -> dict[str, Any]:
    record, url = claim_files.read(principal, claim_file_id)
    return claim_file_body(record, url, show_seed=claim_files.is_commissioner_of(principal, record))


@renderer("claim_file")
def render_claim_file(principal: Principal, resource: Resource) -> dict[str, Any]:
    return _claim_file(principal, resource.ids[0])


@renderer("sample_rate")
def render_sample_rate(principal: Principal, resource: Resource) -> dict[str, Any]:
    body: dict[str, Any] = s.SampleRateOut().dump(validation.sample_rate(principal, resource.ids[0]))
    return body


@renderer("line_check")
def render_line_check(principal: Principal, resource: Resource) -> dict[str, Any]:
    return check_body(validation.read_check(principal, *resource.ids))


@endpoint("/claims", "POST", summary="Claim a fee that needs evidence", tags=TAGS, roles=("provider",),
          body=s.ClaimIn, response=s.LineOut, status=201, errors=WRITE_ERRORS,
          reads=lambda principal, params, payload: Needs(line_ids=service.claim_line_ids(payload)))
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
          tags=TAGS, roles=("finance",), body=s.ClawbackIn, response=s.LineOut, status=201, errors=WRITE_ERRORS,
          reads=lambda principal, params, payload: Needs(line_ids=service.clawback_line_ids(params["line_id"])))
def clawback(principal: Principal, params: dict, payload: dict, tx: UnitOfWork) -> Written:
    line = service.claw_back(principal, params["line_id"], payload["reason"], tx)
    return Written(201, line_body(line), f"/claims/{line.line_id}", Resource("line", (line.line_id,)))


@endpoint("/payments/cascade", "GET", summary="What each payee is owed and what its prime kept, line by line "
          "(finance)", tags=TAGS, roles=("finance",), query=s.CascadeQuery, response=s.CascadeOut,
          errors=(401, 403, 422))
def cascade(principal: Principal, params: dict, query: dict) -> dict[str, Any]:
    result = service.cascade(principal, query["period"])
    body: dict[str, Any] = s.CascadeOut().dump(
        {**result, "lines": [{**asdict(x), "period": x.period} for x in result["lines"]]})
    return body


@endpoint("/claim-files", "POST", summary="Cut the claim file for a programme and a period that has ended "
          "(finance): 202 with the file building; cutting it again returns the same file (200)", tags=TAGS,
          roles=("finance",), body=s.ClaimFileIn, response=s.ClaimFileOut, status=202, also=(200,),
          errors=WRITE_ERRORS, reads=lambda principal, params, payload: Needs(claim_file_id=claim_files.file_id(
              payload["programme_id"], payload["period"], principal.org_id, payload.get("payee_org_id"))))
def cut_claim_file(principal: Principal, params: dict, payload: dict, tx: UnitOfWork) -> Written:
    record, created = claim_files.cut(principal, payload["programme_id"], payload["period"],
                                      payload.get("payee_org_id"), tx)
    if claim_files.needs_worker(record):
        tx.after_commit.append(lambda: claim_files.start_build(record.claim_file_id))
    return Written(202 if created else 200, claim_file_body(record, claim_files.download_url(record)),
                   f"/claim-files/{record.claim_file_id}", Resource("claim_file", (record.claim_file_id,)))


@endpoint("/claim-files/{claim_file_id}", "GET", summary="A claim file's summary, validation, payment and a "
          "download link (the finance of the prime that cut it and of the commissioner that pays it)", tags=TAGS,
          roles=("finance",), response=s.ClaimFileOut, errors=(401, 403, 404))
def get_claim_file(principal: Principal, params: dict, query: dict) -> dict[str, Any]:
    return _claim_file(principal, params["claim_file_id"])


# ------------------------------------------------------------------ validation by the commissioner


@endpoint("/programmes/{programme_id}/sample-rate", "POST", summary="Set the share of claim-file lines drawn for "
          "validation (the commissioner's finance)", tags=TAGS, roles=("finance",), body=s.SampleRateIn,
          response=s.SampleRateOut, errors=WRITE_ERRORS,
          reads=lambda principal, params, payload: Needs(sample_rate_of=params["programme_id"]))
def set_sample_rate(principal: Principal, params: dict, payload: dict, tx: UnitOfWork) -> Written:
    rate = validation.set_sample_rate(principal, params["programme_id"], payload["sample_rate_bp"], tx)
    body = s.SampleRateOut().dump({
        "programme_id": rate.programme_id, "sample_rate_bp": rate.rate_bp, "source": "commissioner",
        "set_by_org_id": rate.set_by_org_id, "set_by_key_id": rate.set_by_key_id, "set_at": rate.set_at,
        "history": [rate, *validation.sample_rate(principal, rate.programme_id)["history"]][:validation.HISTORY]})
    return Written(200, body, None, Resource("sample_rate", (rate.programme_id,)))


@endpoint("/programmes/{programme_id}/sample-rate", "GET", summary="The sample rate in force and who set it when "
          "(the commissioner's finance)", tags=TAGS, roles=("finance",), response=s.SampleRateOut,
          errors=(401, 403, 404))
def get_sample_rate(principal: Principal, params: dict, query: dict) -> dict[str, Any]:
    body: dict[str, Any] = s.SampleRateOut().dump(validation.sample_rate(principal, params["programme_id"]))
    return body


@endpoint("/claim-files/{claim_file_id}/sample", "POST", summary="Draw the lines to check before payment, with a "
          "recorded seed (the commissioner's finance)", tags=TAGS, roles=("finance",), body=s.SampleIn,
          response=s.ClaimFileOut, status=201, errors=WRITE_ERRORS)
def draw_sample(principal: Principal, params: dict, payload: dict, tx: UnitOfWork) -> Written:
    record, drawn = validation.draw(principal, params["claim_file_id"], payload.get("seed"))
    body = claim_file_body(record, claim_files.download_url(record), show_seed=True)
    return Written(201 if drawn else 200, body, f"/claim-files/{record.claim_file_id}/sample",
                   Resource("claim_file", (record.claim_file_id,)))


@endpoint("/claim-files/{claim_file_id}/sample", "GET", summary="The lines drawn and what each check found (the "
          "commissioner's finance)", tags=TAGS, roles=("finance",), query=s.PageQuery, response=s.SamplePage,
          errors=(401, 403, 404, 422))
def get_sample(principal: Principal, params: dict, query: dict) -> dict[str, Any]:
    record, checks, cursor = validation.sample(principal, params["claim_file_id"], query["limit"], query.get("cursor"))
    return {"claim_file": claim_file_body(record, claim_files.download_url(record), show_seed=True),
            "items": [check_body(c) for c in checks], "cursor": cursor, "has_more": cursor is not None}


@endpoint("/claim-files/{claim_file_id}/checks", "POST", summary="Record a line's check: before payment a failure "
          "removes it from the claim, after payment it raises a clawback (the commissioner's finance)", tags=TAGS,
          roles=("finance",), body=s.CheckIn, response=s.LineCheckOut, errors=WRITE_ERRORS)
def record_check(principal: Principal, params: dict, payload: dict, tx: UnitOfWork) -> Written:
    check = validation.record_check(principal, params["claim_file_id"], payload, tx)
    return Written(200, check_body(check), None, Resource("line_check", (check.claim_file_id, check.line_id)))


@endpoint("/claim-files/{claim_file_id}/payment", "POST", summary="Record paying the prime for a claim file, less "
          "the lines removed (the commissioner's finance)", tags=TAGS, roles=("finance",), body=s.PaymentIn,
          response=s.ClaimFileOut, errors=WRITE_ERRORS,
          reads=lambda principal, params, payload: validation.payment_reads(params["claim_file_id"]))
def pay_claim_file(principal: Principal, params: dict, payload: dict, tx: UnitOfWork) -> Written:
    record = validation.pay(principal, params["claim_file_id"], payload["paid_on"], payload["reference"], tx)
    body = claim_file_body(record, claim_files.download_url(record), show_seed=True)
    return Written(200, body, None, Resource("claim_file", (record.claim_file_id,)))


# ------------------------------------------------------------------ the supply chain


@renderer("pass_through")
def render_pass_through(principal: Principal, resource: Resource) -> dict[str, Any]:
    body: dict[str, Any] = s.PassThroughOut().dump(supply_chain.read_pass_through(principal, *resource.ids))
    return body


@endpoint("/payments/pass-throughs", "POST", summary="Record passing a subcontractor's money on (the prime's "
          "finance)", tags=TAGS, roles=("finance",), body=s.PassThroughIn, response=s.PassThroughOut, status=201,
          errors=WRITE_ERRORS, reads=lambda principal, params, payload: Needs(obligations=((
              payload["programme_id"], payload["period"], payload["subcontractor_org_id"]),)))
def record_pass_through(principal: Principal, params: dict, payload: dict, tx: UnitOfWork) -> Written:
    payment = supply_chain.record_pass_through(principal, payload, tx)
    location = f"/payments/supply-chain?programme={payment.programme_id}&period={payment.period}"
    return Written(201, s.PassThroughOut().dump(payment), location,
                   Resource("pass_through", (payment.programme_id, payment.period, payment.pass_through_id)))


@endpoint("/payments/supply-chain", "GET", summary="Per subcontractor: allocation and referral shares, what it "
          "earned, what the prime kept and passed on, and when (the commissioner, the prime, the subcontractor)",
          tags=TAGS, roles=("finance",), query=s.SupplyChainQuery, response=s.SupplyChainOut,
          errors=(401, 403, 404, 422))
def get_supply_chain(principal: Principal, params: dict, query: dict) -> dict[str, Any]:
    body: dict[str, Any] = s.SupplyChainOut().dump(
        supply_chain.report(principal, query["programme"], query["period"], query.get("subcontractor")))
    return body
