"""What compliance shows a caller: the flags the nightly run raised, and each run's summary, each limited to the
caller's own organisation (and, for a prime, its subcontractors)."""
from __future__ import annotations

from datetime import date
from typing import Any

from ..adapters.rulebooks import all_rulebooks
from ..domain.access import Principal
from ..domain.compliance import OPEN, Flag, flag_key
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


def record_open_flags_on_referrals() -> dict[str, int]:
    """Once, after upgrading from a version whose referrals did not record the flags raised on them: each open flag
    of a missed deadline is recorded on its referral (`Referral.flagged`), as the nightly run now records the flags
    it raises, so the step that answers the deadline resolves it. Reads each delivery organisation's open flags (a
    Query of its index, page by page; never a scan) and each flag's referral; a flag its referral already records,
    and a flag with no referral (a key's, a late pass-through's), are left as they are. Safe to run again."""
    db = store()
    holders = sorted({o.org_id for rulebook in all_rulebooks().values() for o in rulebook.delivery_organisations})
    found = {"open_flags": 0, "recorded": 0, "already_recorded": 0, "without_referral": 0}
    for org_id in holders:
        cursor: str | None = None
        while True:
            page, cursor = db.compliance.flags_page("provider", org_id, OPEN, 100, cursor)
            for flag in page:
                found["open_flags"] += 1
                found[_record_on_referral(flag)] += 1
            if cursor is None:
                break
    return found


def _record_on_referral(flag: Flag) -> str:
    db = store()
    referral = db.referrals.get(flag.referral_id) if flag.referral_id else None
    if referral is None:
        return "without_referral"
    key = flag_key(flag.rule, flag.due)
    if key in referral.flagged:
        return "already_recorded"
    tx = db.transaction()
    db.referrals.add_flag_raised(tx, referral.id, key)
    tx.commit()
    return "recorded"
