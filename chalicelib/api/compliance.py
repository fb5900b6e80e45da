"""Compliance endpoints: the flags the nightly run raised, and each run's summary."""
from __future__ import annotations

from datetime import date

from chalice import Blueprint

from ..domain.errors import NotFound, ValidationFailed
from ..services import nightly
from ..store import compliance as store
from . import schemas as s
from .routing import endpoint

compliance_bp = Blueprint(__name__)
TAGS = ["compliance"]


def _view(principal) -> str:
    return "provider" if principal.org_kind == "subcontractor" else "prime"


@endpoint(compliance_bp, "/compliance/flags", "GET", summary="Missed deadlines and due exits raised by the nightly "
          "run: your organisation's (a prime's include its subcontractors')", tags=TAGS, query=s.FlagsQuery,
          response=s.FlagPage, errors=(401, 422))
def flags(principal, params, query):
    items, cursor = store.list_flags(_view(principal), principal.org_id, query.get("status"), query["limit"],
                                     query.get("cursor"), programme_id=query.get("programme_id"),
                                     rule=query.get("rule"), provider_org_id=query.get("provider_id"))
    out = [{"id": f.flag_id, "referral_id": f.referral_id, "programme_id": f.programme_id,
            "provider_org_id": f.provider_org_id, "rule": f.rule, "due": date.fromisoformat(f.due),
            "description": f.description, "status": f.status, "raised_on": date.fromisoformat(f.raised_on),
            "resolved_on": date.fromisoformat(f.resolved_on) if f.resolved_on else None, "action": f.action,
            "run_id": f.run_id} for f in items]
    return s.FlagPage().dump({"items": out, "cursor": cursor, "has_more": cursor is not None})


@endpoint(compliance_bp, "/compliance/runs/{run_date}", "GET", summary="A nightly run's summary: flags per rule "
          "and provider, tranches paid, referrals closed, programme checks (your organisations only)", tags=TAGS,
          response=s.RunOut, errors=(401, 404, 422))
def run_summary(principal, params, query):
    try:
        on = date.fromisoformat(params["run_date"])
    except ValueError:
        raise ValidationFailed.one("run_date", "format", "a date as YYYY-MM-DD") from None
    record = store.get_run(nightly.run_id(on))
    if record is None:
        raise NotFound(f"no nightly run for {on.isoformat()}")
    summary = nightly.summary(record)
    counts = summary["counts"]
    mine = _mine(principal)
    flags = {rule: {org: n for org, n in by_org.items() if org in mine}
             for rule, by_org in (counts.get("flags") or {}).items()}
    return s.RunOut().dump({
        **{k: summary[k] for k in ("run_id", "started_at", "finished_at", "shards_done", "shards")},
        "run_date": on,
        "flags": {rule: by_org for rule, by_org in flags.items() if by_org},
        **{key: sum(n for org, n in (counts.get(key) or {}).items() if org in mine)
           for key in ("tranches", "tranche_pence", "closed")},
        "checks": [c for c in summary["checks"] if c["org_id"] in mine]})


def _mine(principal) -> set[str]:
    """The caller's organisation and, for a prime, its subcontractors (from the programmes' rulebooks)."""
    from ..domain.rulebook import all_rulebooks

    orgs = {principal.org_id}
    for book in all_rulebooks().values():
        orgs |= {o.org_id for o in book.delivery_organisations if o.prime == principal.org_id}
    return orgs
