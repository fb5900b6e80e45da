"""Idempotent writes: every write runs in one unit of work, and a retry with the same Idempotency-Key gets the
first answer (Stripe's semantics).

The idempotency record keeps the request's fingerprint, the status and which resource the write made or changed,
never a response body (so never personal data). A replay re-reads that resource and renders it as the API
renders it: the same status and resource, shown as it is now. A key reused with a different request is refused.
A retry that races the first request (it read the state before the first committed, and its own transaction
then fails, or the domain refuses it against the state the first one left) answers with the first request's
outcome, never with the error its own attempt met.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import clock
from ..domain.access import Principal
from ..domain.errors import DomainError, IdempotencyMismatch
from ..domain.idempotency import TTL_SECONDS, IdempotencyRecord, Resource, scope_key
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


def run(principal: Principal | None, key: str | None, fingerprint: str, handler: Callable[[UnitOfWork], Written],
        render: Render) -> Outcome:
    db = store()
    scope = scope_key(principal.org_id, key) if key and principal else None
    if scope:
        existing = db.idempotency.get(scope)
        if existing is not None:
            return _replay(existing, fingerprint, render)
    tx = db.transaction()
    try:
        written = handler(tx)
        if scope:
            now = clock.now()
            db.idempotency.add(tx, IdempotencyRecord(
                scope_key=scope, fingerprint=fingerprint, status_code=written.status, resource=written.resource,
                location=written.location, created_at=now.isoformat(),
                expires_at=int(now.timestamp()) + TTL_SECONDS))
        tx.commit()
    except DomainError:
        # A concurrent request with the same key may have committed first: its outcome is the answer.
        first = db.idempotency.get(scope) if scope else None
        if first is None:
            raise
        return _replay(first, fingerprint, render)
    return Outcome(written.status, written.body, written.location, False)


def _replay(record: IdempotencyRecord, fingerprint: str, render: Render) -> Outcome:
    if record.fingerprint != fingerprint:
        raise IdempotencyMismatch("this Idempotency-Key was first used with a different request; use a new key")
    return Outcome(record.status_code, render(record.resource), record.location, True)
