"""What compliance shows a caller: the flags the nightly run raised, and each run's summary, each limited to the
caller's own organisation (and, for a prime, its subcontractors)."""
from __future__ import annotations

from datetime import date
from typing import Any

from ..domain.access import Principal
from ..domain.compliance import Flag
from ..domain.errors import NotFound
from . import nightly, programmes
from .deps import store


def _view(principal: Principal) -> str:
    return "provider" if principal.org_kind == "subcontractor" else "prime"


def flags(principal: Principal, query: dict) -> tuple[list[Flag], str | None]:
    return store().compliance.flags_page(
        _view(principal), principal.org_id, query.get("status"), query["limit"], query.get("cursor"),
        programme_id=query.get("programme_id"), rule=query.get("rule"), provider_org_id=query.get("provider_id"),
        referral_id=query.get("referral_id"))


def run_summary(principal: Principal, on: date) -> dict[str, Any]:
    record = nightly.get_run(on)
    if record is None:
        raise NotFound(f"no nightly run for {on.isoformat()}")
    summary = nightly.summary(record)
    counts = summary["counts"]
    mine = {principal.org_id} | programmes.subcontractors_of(principal.org_id)
    flagged = {rule: {org: n for org, n in by_org.items() if org in mine}
               for rule, by_org in (counts.get("flags") or {}).items()}
    return {
        **{k: summary[k] for k in ("run_id", "started_at", "finished_at", "shards_done", "shards")},
        "run_date": on,
        "flags": {rule: by_org for rule, by_org in flagged.items() if by_org},
        **{key: sum(n for org, n in (counts.get(key) or {}).items() if org in mine)
           for key in ("tranches", "tranche_pence", "closed")},
        "checks": [c for c in summary["checks"] if c["org_id"] in mine]}
