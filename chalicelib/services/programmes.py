"""The programmes as published: their rules, whether they take referrals today, and allocation use."""
from __future__ import annotations

from typing import Any

from .. import clock
from ..adapters import rulebooks
from ..domain import targets
from ..domain.errors import NotFound
from ..domain.rulebook import Rulebook
from .deps import store


def summary(book: Rulebook) -> dict[str, Any]:
    return {"id": book.id, "name": book.name, "commissioner": book.commissioner,
            "referral_window": {"opens": book.referral_opens.isoformat(), "closes": book.referral_closes.isoformat()},
            "referrals_open": book.window_open_on(clock.today()), "total_capacity": book.total_capacity}


def all_summaries() -> list[dict[str, Any]]:
    return [summary(b) for b in rulebooks.all_rulebooks().values()]


def count() -> int:
    return len(rulebooks.all_rulebooks())


def detail(programme_id: str) -> dict[str, Any]:
    book = rulebooks.get_rulebook(programme_id)
    if book is None:
        raise NotFound(f"no programme {programme_id!r}")
    db = store()
    used = db.referrals.allocation_used(book.id, [o.org_id for o in book.delivery_organisations])
    progress = minimum_progress(book, db.compliance.programme_stats(book.id))
    allocations = [{"org_id": o.org_id, "name": o.name, "role": o.role, "level": o.level, "prime": o.prime,
                    "allocation": o.allocation, "used": used[o.org_id], "minimum": progress.get(o.org_id)}
                   for o in book.delivery_organisations]
    return {**summary(book), "allocations": allocations, "rulebook": book.document}


def minimum_progress(book: Rulebook, stats: dict[str, dict[str, int]]) -> dict[str, dict[str, Any]]:
    """Each organisation's starts against its minimum and the pro-rata path today."""
    started = {org_id: s.get("started", 0) for org_id, s in stats.items()}
    return {p.org_id: p.as_dict() for p in targets.minimum_progress(book, started, clock.today())}


def rulebook_schema() -> dict[str, Any]:
    return rulebooks.json_schema()


def subcontractors_of(org_id: str) -> set[str]:
    """Every organisation that delivers as `org_id`'s subcontractor on some programme."""
    return {o.org_id for book in rulebooks.all_rulebooks().values() for o in book.subcontractors_of(org_id)}
