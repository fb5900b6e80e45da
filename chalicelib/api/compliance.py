"""Compliance endpoints: the flags the nightly run raised, and each run's summary."""
from __future__ import annotations

from datetime import date
from typing import Any

from ..domain.access import Principal
from ..domain.errors import ValidationFailed
from ..services import compliance as service
from .routing import endpoint
from .schema_refs import schemas as s

TAGS = ["compliance"]


@endpoint("/compliance/flags", "GET", summary="Missed deadlines and due exits raised by the nightly run: your "
          "organisation's (a prime's include its subcontractors')", tags=TAGS, query=s.FlagsQuery,
          response=s.FlagPage, errors=(401, 422))
def flags(principal: Principal, params: dict, query: dict) -> dict[str, Any]:
    items, cursor = service.flags(principal, query)
    out = [{"id": f.flag_id, "referral_id": f.referral_id, "programme_id": f.programme_id,
            "provider_org_id": f.provider_org_id, "rule": f.rule, "due": f.due, "description": f.description,
            "status": f.status, "raised_on": f.raised_on, "resolved_on": f.resolved_on, "action": f.action,
            "run_id": f.run_id, "key_id": f.key_id} for f in items]
    body: dict[str, Any] = s.FlagPage().dump({"items": out, "cursor": cursor, "has_more": cursor is not None})
    return body


@endpoint("/compliance/runs/{run_date}", "GET", summary="A nightly run's summary: flags per rule and provider, "
          "tranches paid, referrals closed, programme checks (your organisations only)", tags=TAGS,
          response=s.RunOut, errors=(401, 404, 422))
def run_summary(principal: Principal, params: dict, query: dict) -> dict[str, Any]:
    try:
        on = date.fromisoformat(params["run_date"])
    except ValueError:
        raise ValidationFailed.one("run_date", "format", "a date as YYYY-MM-DD") from None
    body: dict[str, Any] = s.RunOut().dump(service.run_summary(principal, on))
    return body
