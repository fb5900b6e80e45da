"""Idempotent writes: every write runs in one unit of work, and a retry with the same Idempotency-Key gets the
first answer (Stripe's semantics).

The idempotency record keeps the request's fingerprint, the status and which resource the write made or changed,
never a response body (so never personal data). A replay re-reads that resource and renders it as the API
renders it: the same status and resource, shown as it is now. A key reused with a different request is refused.
A retry that races the first request (it read the state before the first committed, and its own transaction
then fails, or the domain refuses it against the state the first one left) answers with the first request's
outcome, never with the error its own attempt met.

Round trips: the idempotency record and what the write needs (`Needs`: the referral it changes, the person a new
referral names, the payment lines a claim write decides, reverses or makes, the claim file a validation reads) are
read in one transactional read (TransactGetItems: all of another request's transaction or none of it, so a retry
racing its first request never renders half of what the first wrote), and everything is written in one
transaction; a replay of a step or a claim write is that one read. A write whose transaction is refused because
another request made what it would make (a claim file's cut) runs again, once, and answers with what was made.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from .. import clock, settings
from ..domain.access import Principal
from ..domain.errors import DomainError, IdempotencyMismatch, MadeMeanwhile, ServiceUnavailable
from ..domain.idempotency import TTL_SECONDS, IdempotencyRecord, Needs, Resource, scope_key
from ..domain.participants import participant_hash
from .deps import store
from .ports import UnitOfWork


@dataclass(frozen=True)
class Written:
    """What a write handler returns: the response to send, and the resource a replay re-renders."""

    status: int
    body: Any
    location: str | None = None
    resource: Resource | None = None


@dataclass(frozen=True)
class Outcome:
    status: int
    body: Any
    location: str | None
    replayed: bool


Render = Callable[[Resource | None], Any]


def needs_of(params: dict, payload: dict, also: Needs = Needs()) -> Needs:
    """What a write reads: the referral its path (or else its body: a claim) names, or the person a new referral's
    (or a subject access request's) body names; the payment lines its path (`line_id`) or body (`line_id`: a
    check; `line_ids`: a bulk decision) names; the claim file its path names; and what its route declares it reads
    (`also`: what only the request and its caller tell, e.g. the claim file a cut makes, or the lines a write
    makes whose ids the request fixes, so that a replay renders them from the same read)."""
    person = payload.get("participant")
    nino = person.get("nino") if isinstance(person, dict) else payload.get("nino")
    named = params.get("referral_id") or payload.get("referral_id")
    listed = payload.get("line_ids")
    lines = [params.get("line_id"), payload.get("line_id"), *(listed if isinstance(listed, list) else ())]
    return replace(also,
                   referral_id=named if isinstance(named, str) else also.referral_id,
                   participant_hash=participant_hash(nino, settings.get().participant_key) if isinstance(nino, str)
                   else also.participant_hash,
                   line_ids=tuple(dict.fromkeys(x for x in [*lines, *also.line_ids] if isinstance(x, str))),
                   claim_file_id=params.get("claim_file_id") or also.claim_file_id)


def run(principal: Principal | None, key: str | None, fingerprint: str, handler: Callable[[UnitOfWork], Written],
        render: Render, needs: Needs = Needs()) -> Outcome:
    try:
        return _run_once(principal, key, fingerprint, handler, render, needs)
    except MadeMeanwhile:
        # Another request made what this one would (a claim file's cut, with another key): run again, once; the
        # read ahead now finds it, and the write answers with it.
        return _run_once(principal, key, fingerprint, handler, render, needs)


def _run_once(principal: Principal | None, key: str | None, fingerprint: str,
              handler: Callable[[UnitOfWork], Written], render: Render, needs: Needs) -> Outcome:
    db = store()
    scope = scope_key(principal.org_id, key) if key and principal else None
    with db.idempotency.read_ahead(scope, needs) as existing:
        if existing is not None:
            return _replay(existing, fingerprint, render)
        tx = db.transaction()
        try:
            written = handler(tx)
            if scope:
                now = clock.now()
                db.idempotency.add(tx, IdempotencyRecord(
                    scope_key=scope, fingerprint=fingerprint, status_code=written.status,
                    resource=written.resource, location=written.location, created_at=now.isoformat(),
                    expires_at=int(now.timestamp()) + TTL_SECONDS))
            tx.commit()
        except DomainError as error:
            failed = error
        else:
            return Outcome(written.status, written.body, written.location, False)
    # A concurrent request with the same key may have committed first: its outcome is the answer. Its record is read
    # on its own (most refusals have none), then with what it renders in one isolated read (all of that request's
    # writes, or none). A read that fails here leaves the refusal as the answer.
    if scope and _first_committed(scope):
        with db.idempotency.read_ahead(scope, needs) as first:
            if first is not None:
                return _replay(first, fingerprint, render)
    raise failed


def _first_committed(scope: str) -> bool:
    try:
        with store().idempotency.read_ahead(scope, Needs()) as first:
            return first is not None
    except ServiceUnavailable:
        return False


def _replay(record: IdempotencyRecord, fingerprint: str, render: Render) -> Outcome:
    if record.fingerprint != fingerprint:
        raise IdempotencyMismatch("this Idempotency-Key was first used with a different request; use a new key")
    return Outcome(record.status_code, render(record.resource), record.location, True)
