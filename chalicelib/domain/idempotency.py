"""Idempotency records: what a write remembers so that a retry with the same Idempotency-Key gets the first answer.

A record keeps the request's fingerprint, the status it was answered with, and which resource it made or changed
(kind and ids): never a response body, so never personal data. A replay re-reads that resource and renders it.
"""
from __future__ import annotations

from dataclasses import dataclass

TTL_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Resource:
    """What a write made or changed: `kind` names how to render it (referral, line, lines, claim_file)."""

    kind: str
    ids: tuple[str, ...]


@dataclass(frozen=True)
class IdempotencyRecord:
    scope_key: str          # organisation + Idempotency-Key
    fingerprint: str        # hash of method, route, path parameters and canonical body
    status_code: int
    resource: Resource | None
    location: str | None
    created_at: str
    expires_at: int


@dataclass(frozen=True)
class Needs:
    """What a write reads besides its idempotency record (the referral it changes, or the person a new referral
    names; the payment lines it decides or reverses, and those it makes, whose ids are known from the request;
    the claim file it validates or cuts, with the checks of the lines it names; the programme whose sample rate
    it sets (or pays a file of); the supply-chain obligations a pass-through or a claim file's payment changes),
    read with that record in one consistent read before its transaction."""

    referral_id: str | None = None
    participant_hash: str | None = None
    line_ids: tuple[str, ...] = ()
    claim_file_id: str | None = None
    sample_rate_of: str | None = None
    obligations: tuple[tuple[str, str, str], ...] = ()  # each (programme, period, subcontractor)


def scope_key(org_id: str, key: str) -> str:
    return f"{org_id}#{key}"
