"""Health, the OpenAPI document and the programmes' published rules."""
from __future__ import annotations

from chalice import Blueprint

from .. import clock
from ..domain.errors import NotFound
from ..domain.rulebook import Rulebook, all_rulebooks, get_rulebook
from ..store import repository as repo
from . import schemas as s
from .openapi import document
from .routing import endpoint

meta_bp = Blueprint(__name__)


@endpoint(meta_bp, "/health", "GET", summary="Liveness", tags=["meta"], roles=None, response=s.HealthOut)
def health(principal, params, query):
    return {"status": "ok", "programmes": len(all_rulebooks())}


@endpoint(meta_bp, "/openapi.json", "GET", summary="This API's OpenAPI 3 document", tags=["meta"], roles=None)
def openapi(principal, params, query):
    return document()


def _summary(book: Rulebook) -> dict:
    return {"id": book.id, "name": book.name, "commissioner": book.commissioner,
            "referral_window": {"opens": book.referral_opens.isoformat(), "closes": book.referral_closes.isoformat()},
            "referrals_open": book.window_open_on(clock.today()), "total_capacity": book.total_capacity}


@endpoint(meta_bp, "/programmes", "GET", summary="The programmes and whether they take referrals today",
          tags=["programmes"], response=s.ProgrammeList, errors=(401,))
def programmes(principal, params, query):
    return s.ProgrammeList().dump({"items": [_summary(b) for b in all_rulebooks().values()]})


@endpoint(meta_bp, "/programmes/{programme_id}", "GET", summary="A programme's rules and allocation use",
          tags=["programmes"], response=s.ProgrammeOut, errors=(401, 404))
def programme(principal, params, query):
    book = get_rulebook(params["programme_id"])
    if book is None:
        raise NotFound(f"no programme {params['programme_id']!r}")
    used = repo.allocation_used(book.id, [o.org_id for o in book.delivery_organisations])
    allocations = [{"org_id": o.org_id, "name": o.name, "role": o.role, "level": o.level, "prime": o.prime,
                    "allocation": o.allocation, "used": used[o.org_id]} for o in book.delivery_organisations]
    return s.ProgrammeOut().dump({**_summary(book), "allocations": allocations, "rulebook": book.document})
